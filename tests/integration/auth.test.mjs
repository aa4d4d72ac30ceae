// Upload tokens (--auth jwt): every request kind needs a valid Bearer token; expired, early,
// forged, unsigned and alg-confused tokens are refused with 401; one owner never reaches another
// owner's uploads (404); the token's policy (max_size, types with libmagic sniffing, meta_keys,
// max_uploads) and --allow-types are enforced; ES256 and EdDSA public keys; tus-js-client.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import * as tus from 'tus-js-client';
import { runFerry } from './lib/server.mjs';
import { checkedServers } from './lib/checked.mjs';
import { TUS, request, createUpload, head, patch, del, get, sha256, b64 } from './lib/http.mjs';
import { RawConn, parseResponses, head as rawHead } from './lib/raw.mjs';
import { seededBytes } from './lib/files.mjs';
import { trackTempDir, removeTempDir } from './lib/procs.mjs';
import { MiB, KiB } from './lib/env.mjs';

// Every server this file starts is checked for sanitizer reports when the file is done.
const startServer = checkedServers();

const SANITIZED = process.env.FERRY_TEST_SANITIZED === '1';
const T = { timeout: 30_000 };

// --- keys and tokens ---

const keyDir = trackTempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-it-keys-')));
after(() => removeTempDir(keyDir));
const SECRET = crypto.randomBytes(32).toString('hex'); // 64 bytes of text, the file form `openssl rand -hex 32` makes
const secretFile = path.join(keyDir, 'jwt.secret');
fs.writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = crypto.generateKeyPairSync('ed25519');
const ecPub = ec.publicKey.export({ type: 'spki', format: 'pem' });
const edPub = ed.publicKey.export({ type: 'spki', format: 'pem' });
const ecPubFile = path.join(keyDir, 'ec.pub');
const edPubFile = path.join(keyDir, 'ed.pub');
fs.writeFileSync(ecPubFile, ecPub);
fs.writeFileSync(edPubFile, edPub);

const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const claims = (sub, extra = {}) => ({ sub, iat: now(), exp: now() + 600, ...extra });

/** HS256 JWT over `payload` (object or raw JSON text) with `secret`; header overridable. */
function mintHS(payload, { secret = SECRET, header = { alg: 'HS256', typ: 'JWT' } } = {}) {
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}
function mintES(payload, { key = ec.privateKey, header = { alg: 'ES256', typ: 'JWT' }, dsaEncoding = 'ieee-p1363' } = {}) {
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding }).toString('base64url')}`;
}
function mintEd(payload, { key = ed.privateKey, header = { alg: 'EdDSA', typ: 'JWT' } } = {}) {
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${crypto.sign(null, Buffer.from(input), key).toString('base64url')}`;
}
/** A token minted by `ferry token` (the CLI a shell backend would use). */
async function cliToken(sub, opts = []) {
  const r = await runFerry(['token', '--secret-file', secretFile, '--sub', sub, '--ttl', '10m', ...opts]);
  assert.equal(r.code, 0, `ferry token failed: ${r.stderr}`);
  const tok = r.stdout.trim();
  assert.match(tok, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'ferry token output');
  return tok;
}
const bearer = (tok) => ({ Authorization: `Bearer ${tok}` });

/** A valid PNG (random RGB pixels, stored deflate) of about w*h*3 bytes. */
function makePng(w, h) {
  const table = new Int32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  const crc = (b) => {
    let c = -1;
    for (const x of b) c = table[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ -1) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < h; y++) rows.push(Buffer.from([0]), seededBytes(w * 3, 1000 + y));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows), { level: 0 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
const TEXT = Buffer.from('The quick brown fox jumps over the lazy dog. Lorem ipsum dolor sit amet.\n'.repeat(400)); // ~29 KiB

/** Asserts a 401 with WWW-Authenticate: Bearer ... and a reason in the body. */
function assert401(res, what, mention, { noBody = /HEAD/.test(what) } = {}) {
  assert.equal(res.status, 401, `${what}: expected 401, got ${res.status}: ${res.text ?? res.body}`);
  const wa = res.headers['www-authenticate'];
  assert.ok(wa && /^Bearer\b/.test(wa), `${what}: 401 without WWW-Authenticate: Bearer (got ${wa})`);
  const text = (res.text ?? res.body.toString('utf8')).trim();
  if (!noBody) assert.ok(text.length > 0, `${what}: 401 with an empty body`);
  if (mention) assert.match(text, mention, `${what}: 401 body should say why`);
}

/** One request on a fresh raw connection (for the IETF draft: 104s before the final response). */
async function exchange(port, method, target, headers = [], body) {
  const c = await RawConn.connect(port);
  try {
    const h = [['Host', `127.0.0.1:${port}`], ...headers];
    if (body !== undefined) h.push(['Content-Length', String(body.length)]);
    await c.write(rawHead(`${method} ${target} HTTP/1.1`, h));
    if (body !== undefined && body.length > 0) await c.write(body);
    const finalOf = (d, closed) => parseResponses(d, { methods: [method], closed }).responses.find((r) => r.status >= 200);
    await c.waitUntil((d, closed) => finalOf(d, closed), 10_000, `final response to ${method} ${target}`);
    const all = parseResponses(c.data, { methods: [method], closed: c.closed }).responses;
    const res = all.find((r) => r.status >= 200);
    res.text = res.body.toString('utf8');
    return { interim: all.filter((r) => r.status < 200), res };
  } finally {
    c.destroy();
  }
}
const V6 = ['Upload-Draft-Interop-Version', '6'];
const idOf = (location) => new URL(location).pathname.split('/').pop();

// --- the startup warning ---

test('without --auth the server logs the open_server warning; with --auth jwt it does not', T, async () => {
  const open = await startServer();
  await open.waitForStderr(/\bopen_server\b/, 5000);
  assert.match(open.stderrText(), /^.*\bwarn\b.*\bopen_server\b.*$/im, 'open_server should be a warning');
  const closed = await startServer({ args: ['--auth', 'jwt', '--jwt-secret-file', secretFile] });
  await closed.waitForStderr(/\bstarted\b/, 5000);
  assert.doesNotMatch(closed.stderrText(), /open_server/, 'open_server logged although --auth jwt is on');
  await open.stop();
  await closed.stop();
});

// --- HS256 server ---

describe('HS256 server (--jwt-secret-file)', () => {
  let srv;
  let alice;
  let bob;
  before(async () => {
    srv = await startServer({ args: ['--auth', 'jwt', '--jwt-secret-file', secretFile, '--max-uploads-per-owner', '0'] });
    alice = mintHS(claims('alice'));
    bob = mintHS(claims('bob'));
  });

  const A = () => ({ ...TUS, ...bearer(alice) });

  async function finishedUpload(tok, bytes, extra = {}) {
    const { location } = await createUpload(srv.url, { length: bytes.length, headers: { ...bearer(tok), ...extra } });
    const r = await patch(location, 0, bytes, { ...bearer(tok), ...extra });
    assert.equal(r.status, 204, `PATCH -> ${r.status} ${r.text}`);
    return location;
  }

  test('tus requests without a token -> 401 + WWW-Authenticate; with one they work', T, async () => {
    const data = seededBytes(3000, 1);
    const noAuthVariants = [{}, { Authorization: 'Basic YWxpY2U6cGFzcw==' }, { Authorization: 'Bearer' }, { Authorization: 'Bearer ' }, { Authorization: `bearer-${alice}` }];
    for (const extra of noAuthVariants) {
      const what = `POST ${JSON.stringify(extra).slice(0, 40)}`;
      assert401(await request(srv.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '3000', ...extra } }), what);
    }
    // nothing was created by the refused POSTs
    assert.deepEqual(fs.readdirSync(srv.dataDir).filter((f) => /^[0-9a-f]{32}$/.test(f)), []);

    const { location } = await createUpload(srv.url, { length: data.length, headers: bearer(alice) });
    assert401(await head(location), 'HEAD');
    assert401(await patch(location, 0, data), 'PATCH');
    assert401(await request(location, { method: 'POST', headers: { ...TUS, 'X-HTTP-Method-Override': 'PATCH', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body: data }), 'POST override PATCH');
    const h = await head(location, bearer(alice));
    assert.equal(h.status, 200);
    assert.equal(h.headers['upload-offset'], '0', 'a refused PATCH must not store bytes');

    const p = await patch(location, 0, data, bearer(alice));
    assert.equal(p.status, 204, p.text);
    assert401(await get(location), 'GET');
    assert401(await request(location, { method: 'HEAD' }), 'download HEAD');
    const g = await get(location, bearer(alice));
    assert.equal(g.status, 200);
    assert.equal(sha256(g.body), sha256(data));

    assert401(await del(location), 'DELETE');
    assert.equal((await head(location, bearer(alice))).status, 200, 'a refused DELETE removed the upload');
    assert.equal((await del(location, bearer(alice))).status, 204);
    assert.equal((await head(location, bearer(alice))).status, 404);
  });

  test('OPTIONS (discovery and CORS preflight) works without a token', T, async () => {
    const o = await request(srv.url, { method: 'OPTIONS', headers: TUS });
    assert.ok(o.status === 200 || o.status === 204, `OPTIONS -> ${o.status}`);
    assert.equal(o.headers['tus-version'], '1.0.0');
    const pre = await request(srv.url, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, tus-resumable, upload-length' },
    });
    assert.equal(pre.status, 200, `preflight -> ${pre.status} ${pre.text}`);
    assert.ok(pre.headers['access-control-allow-origin'], 'preflight without Access-Control-Allow-Origin');
    assert.match(pre.headers['access-control-allow-headers'] || '', /authorization/i, 'Authorization must be an allowed header');
  });

  test('concatenation: partials and the final POST need a token; another owner\'s partial -> 404', T, async () => {
    const a = seededBytes(2000, 2);
    const b = seededBytes(3000, 3);
    const pa = await finishedUpload(alice, a, { 'Upload-Concat': 'partial' });
    const pb = await finishedUpload(alice, b, { 'Upload-Concat': 'partial' });
    const finalHeaders = { ...TUS, 'Upload-Concat': `final;${pa} ${pb}` };
    assert401(await request(srv.url, { method: 'POST', headers: finalHeaders }), 'final POST without a token');
    // bob lists alice's partials (and one of his own): answered like unknown partials
    const pBob = await finishedUpload(bob, seededBytes(100, 4), { 'Upload-Concat': 'partial' });
    const stolen = await request(srv.url, { method: 'POST', headers: { ...TUS, ...bearer(bob), 'Upload-Concat': `final;${pBob} ${pa}` } });
    assert.equal(stolen.status, 404, `final over another owner's partial -> ${stolen.status} ${stolen.text}`);
    const f = await request(srv.url, { method: 'POST', headers: { ...finalHeaders, ...bearer(alice) } });
    assert.equal(f.status, 201, f.text);
    const g = await get(f.headers.location, bearer(alice));
    assert.equal(g.status, 200);
    assert.equal(sha256(g.body), sha256(Buffer.concat([a, b])));
    assert.equal((await get(f.headers.location, bearer(bob))).status, 404, 'bob GETs alice\'s final');
  });

  test('IETF draft (interop 6) requests need a token too, and get no 104 without one', T, async () => {
    const data = seededBytes(4000, 5);
    const post = await exchange(srv.port, 'POST', '/files/', [V6, ['Upload-Complete', '?0']], data.subarray(0, 1000));
    assert401(post.res, 'IETF POST');
    assert.deepEqual(post.interim.map((r) => r.status), [], 'a 104 (with a Location) was sent before the 401');

    const c = await exchange(srv.port, 'POST', '/files/', [V6, ['Upload-Complete', '?0'], ['Authorization', `Bearer ${alice}`]], data.subarray(0, 1000));
    assert.equal(c.res.status, 201, c.res.text);
    assert.equal(c.interim[0]?.status, 104);
    const id = idOf(c.res.headers.location);
    const target = `/files/${id}`;
    assert401((await exchange(srv.port, 'HEAD', target, [V6])).res, 'IETF HEAD');
    const app = [V6, ['Upload-Offset', '1000'], ['Upload-Complete', '?1'], ['Content-Type', 'application/partial-upload']];
    assert401((await exchange(srv.port, 'PATCH', target, app, data.subarray(1000))).res, 'IETF PATCH');
    assert401((await exchange(srv.port, 'DELETE', target, [V6])).res, 'IETF DELETE');
    // another owner: 404 everywhere
    const B = ['Authorization', `Bearer ${bob}`];
    assert.equal((await exchange(srv.port, 'HEAD', target, [V6, B])).res.status, 404, 'IETF HEAD by another owner');
    assert.equal((await exchange(srv.port, 'PATCH', target, [...app, B], data.subarray(1000))).res.status, 404, 'IETF PATCH by another owner');
    assert.equal((await exchange(srv.port, 'DELETE', target, [V6, B])).res.status, 404, 'IETF DELETE by another owner');
    const Al = ['Authorization', `Bearer ${alice}`];
    const h = await exchange(srv.port, 'HEAD', target, [V6, Al]);
    assert.equal(h.res.status, 204);
    assert.equal(h.res.headers['upload-offset'], '1000', 'refused appends stored bytes');
    const done = await exchange(srv.port, 'PATCH', target, [...app, Al], data.subarray(1000));
    assert.equal(done.res.status, 204, done.res.text);
    const g = await get(`${srv.origin}${target}`, bearer(alice));
    assert.equal(sha256(g.body), sha256(data));
    assert.equal((await exchange(srv.port, 'DELETE', target, [V6, Al])).res.status, 204);
  });

  test('refused tokens -> 401 with a reason (expired, nbf, forged, alg none, malformed claims)', T, async () => {
    const n = now();
    const good = claims('alice');
    const [hdr, pl, sig] = mintHS(good).split('.');
    const otherSecret = crypto.randomBytes(32).toString('hex');
    const cases = [
      ['expired (exp 2 min ago)', mintHS({ ...good, exp: n - 120 }), /expire/i],
      ['expired long ago', mintHS({ ...good, iat: 1000, exp: 2000 }), /expire/i],
      ['nbf 5 min ahead', mintHS({ ...good, nbf: n + 300 }), /(not yet|nbf|before)/i],
      ['signed with another secret', mintHS(good, { secret: otherSecret }), /signature/i],
      ['payload altered (sub)', `${hdr}.${b64u({ ...good, sub: 'mallory' })}.${sig}`, /signature/i],
      ['payload altered (exp)', `${hdr}.${b64u({ ...good, exp: good.exp + 1 })}.${sig}`, /signature/i],
      ['signature truncated', `${hdr}.${pl}.${sig.slice(0, -4)}`, null],
      ['signature empty', `${hdr}.${pl}.`, null],
      ['alg none, no signature', `${b64u({ alg: 'none', typ: 'JWT' })}.${pl}.`, /none/i],
      ['alg none, HMAC signature', `${b64u({ alg: 'none' })}.${pl}.${sig}`, /none/i],
      ['alg NONE', `${b64u({ alg: 'NONE' })}.${pl}.`, null],
      ['alg HS512', mintHS(good, { header: { alg: 'HS512' } }), /HS512|alg/i],
      ['no alg', mintHS(good, { header: { typ: 'JWT' } }), null],
      ['crit header', mintHS(good, { header: { alg: 'HS256', crit: ['exp'] } }), null],
      ['two parts', `${hdr}.${pl}`, null],
      ['four parts', `${hdr}.${pl}.${sig}.${sig}`, null],
      ['base64 padding', `${hdr}.${pl}.${sig}=`, null],
      ['signature in padded standard base64', `${hdr}.${pl}.${Buffer.from(sig, 'base64url').toString('base64')}`, null],
      ['no exp', mintHS({ sub: 'alice' }), /exp/i],
      ['no sub', mintHS({ exp: n + 600 }), /sub/i],
      ['empty sub', mintHS({ sub: '', exp: n + 600 }), null],
      ['sub with a space', mintHS({ sub: 'al ice', exp: n + 600 }), null],
      ['fractional exp', mintHS({ sub: 'alice', exp: n + 600.5 }), null],
      ['exp as a string', mintHS({ sub: 'alice', exp: String(n + 600) }), null],
      ['unknown policy member', mintHS({ ...good, ferry: { max_sise: 10 } }), null],
      ['duplicate JSON key', mintHS(`{"sub":"alice","exp":${n + 600},"sub":"bob"}`), null],
      ['payload not JSON', mintHS('alice'), null],
      ['token longer than 8 KiB', mintHS({ ...good, pad: 'x'.repeat(9000) }), null],
    ];
    for (const [what, tok, mention] of cases) {
      const r = await request(srv.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '10', ...bearer(tok) } });
      assert401(r, what, mention);
      assert.match(r.headers['www-authenticate'], /invalid_token/, `${what}: WWW-Authenticate should say invalid_token`);
    }
    // within the documented 30 s of clock skew the token is still good
    const skew = await request(srv.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '10', ...bearer(mintHS({ ...good, exp: n - 5, nbf: n + 5 })) } });
    assert.equal(skew.status, 201, `token 5 s past exp / 5 s before nbf -> ${skew.status} ${skew.text}`);
    // tokens never appear in the log
    const log = srv.stderrText();
    for (const [what, tok] of cases) {
      const s = tok.split('.')[2];
      if (s && s.length > 20) assert.ok(!log.includes(s), `${what}: the log contains the token's signature`);
    }
    assert.ok(!log.includes(alice.split('.')[2]), 'the log contains a valid token');
    assert.ok(!log.includes(SECRET), 'the log contains the secret');
  });

  test('another owner gets 404 on HEAD, PATCH, GET, DELETE, override requests; the upload is intact', T, async () => {
    const data = seededBytes(5000, 6);
    const { location } = await createUpload(srv.url, { length: data.length, headers: bearer(alice) });
    assert.equal((await patch(location, 0, data.subarray(0, 2000), bearer(alice))).status, 204);
    const B = bearer(bob);
    const checks = [
      ['HEAD', await head(location, B)],
      ['PATCH', await patch(location, 2000, data.subarray(2000), B)],
      ['PATCH at 0', await patch(location, 0, Buffer.alloc(10), B)],
      ['GET', await get(location, B)],
      ['download HEAD', await request(location, { method: 'HEAD', headers: B })],
      ['DELETE', await del(location, B)],
      ['POST override DELETE', await request(location, { method: 'POST', headers: { ...TUS, ...B, 'X-HTTP-Method-Override': 'DELETE' } })],
    ];
    // an id that does not exist answers exactly the same
    const missing = await head(`${srv.url}${'0'.repeat(32)}`, bearer(alice));
    for (const [what, r] of checks) {
      assert.equal(r.status, 404, `${what} by another owner -> ${r.status} ${r.text}`);
      if (what !== 'HEAD' && what !== 'download HEAD') assert.ok(!/alice/.test(r.text), `${what}: the 404 names the owner`);
    }
    assert.equal(checks[0][1].status, missing.status);
    const h = await head(location, bearer(alice));
    assert.equal(h.status, 200);
    assert.equal(h.headers['upload-offset'], '2000');
    assert.equal((await patch(location, 2000, data.subarray(2000), bearer(alice))).status, 204);
    assert.equal(sha256((await get(location, bearer(alice))).body), sha256(data));
  });

  test('policy max_size: Upload-Length above it -> 413, at it -> 201', T, async () => {
    const tok = await cliToken('sized', ['--max-size', '1000']);
    const over = await request(srv.url, { method: 'POST', headers: { ...TUS, ...bearer(tok), 'Upload-Length': '1001' } });
    assert.equal(over.status, 413, over.text);
    assert.ok(over.text.length > 0);
    const huge = await request(srv.url, { method: 'POST', headers: { ...TUS, ...bearer(tok), 'Upload-Length': String(2 ** 53) } });
    assert.equal(huge.status, 413, huge.text);
    const { location } = await createUpload(srv.url, { length: 1000, headers: bearer(tok) });
    // a deferred length may not be declared beyond it either
    const d = await createUpload(srv.url, { deferred: true, headers: bearer(tok) }).catch(() => null);
    if (d) {
      const r = await patch(d.location, 0, Buffer.alloc(0), { ...bearer(tok), 'Upload-Length': '5000' });
      assert.equal(r.status, 413, `deferred Upload-Length above max_size -> ${r.status} ${r.text}`);
    }
    assert.equal((await patch(location, 0, seededBytes(1000, 7), bearer(tok))).status, 204);
  });

  test('policy types: declared filetype -> 415 before bytes; PNG bytes accepted; text bytes -> 415 and the upload is gone', T, async () => {
    const tok = await cliToken('imager', ['--types', 'image/*']);
    const md = (type) => ({ filename: 'x', filetype: type });
    const before = fs.readdirSync(srv.dataDir).length;
    const declared = await request(srv.url, { method: 'POST', headers: { ...TUS, ...bearer(tok), 'Upload-Length': '100', 'Upload-Metadata': `filetype ${Buffer.from('text/plain').toString('base64')}` } });
    assert.equal(declared.status, 415, `declared text/plain -> ${declared.status} ${declared.text}`);
    assert.ok(declared.text.length > 0);
    assert.equal(fs.readdirSync(srv.dataDir).length, before, 'a refused creation left files behind');
    // creation-with-upload of a declared non-image: refused before any byte is stored
    const cwu = await request(srv.url, { method: 'POST', headers: { ...TUS, ...bearer(tok), 'Upload-Length': String(TEXT.length), 'Upload-Metadata': `filetype ${Buffer.from('application/pdf').toString('base64')}`, 'Content-Type': 'application/offset+octet-stream' }, body: TEXT });
    assert.equal(cwu.status, 415, cwu.text);

    // real PNG bytes (> 16 KiB, in two PATCHes) pass and are served as image/png
    const png = makePng(96, 96);
    assert.ok(png.length > 20 * KiB);
    const p = await createUpload(srv.url, { length: png.length, headers: bearer(tok), metadata: md('image/png') });
    assert.equal((await patch(p.location, 0, png.subarray(0, 10_000), bearer(tok))).status, 204);
    const p2 = await patch(p.location, 10_000, png.subarray(10_000), bearer(tok));
    assert.equal(p2.status, 204, p2.text);
    const g = await get(p.location, bearer(tok));
    assert.equal(g.status, 200);
    assert.equal(sha256(g.body), sha256(png));
    assert.match(g.headers['content-type'] || '', /^image\/png/);

    // text bytes declared as image/png: fine below 16 KiB, refused once 16 KiB are stored
    const t1 = await createUpload(srv.url, { length: TEXT.length, headers: bearer(tok), metadata: md('image/png') });
    const first = await patch(t1.location, 0, TEXT.subarray(0, 8 * KiB), bearer(tok));
    assert.equal(first.status, 204, `8 KiB of text (not sniffed yet) -> ${first.status} ${first.text}`);
    const second = await patch(t1.location, 8 * KiB, TEXT.subarray(8 * KiB), bearer(tok));
    assert.equal(second.status, 415, `text bytes in an image/* upload -> ${second.status} ${second.text}`);
    assert.ok(second.text.length > 0);
    assert.equal((await head(t1.location, bearer(tok))).status, 404, 'the refused upload must be removed');
    assert.equal((await get(t1.location, bearer(tok))).status, 404);

    // a small upload is sniffed once it is whole
    const small = Buffer.from('just a few words of plain text\n'.repeat(10));
    const t2 = await createUpload(srv.url, { length: small.length, headers: bearer(tok) });
    const s = await patch(t2.location, 0, small, bearer(tok));
    assert.equal(s.status, 415, `a whole small text upload -> ${s.status} ${s.text}`);
    assert.equal((await head(t2.location, bearer(tok))).status, 404);
    // creation-with-upload of the whole thing
    const t3 = await request(srv.url, { method: 'POST', headers: { ...TUS, ...bearer(tok), 'Upload-Length': String(small.length), 'Content-Type': 'application/offset+octet-stream' }, body: small });
    assert.equal(t3.status, 415, `creation-with-upload of text -> ${t3.status} ${t3.text}`);
    if (t3.headers.location) assert.equal((await head(t3.headers.location, bearer(tok))).status, 404);
  });

  test('policy meta_keys: a key the token does not allow -> 403', T, async () => {
    const tok = await cliToken('meta', ['--meta-keys', 'filename,filetype']);
    const ok = await request(srv.url, { method: 'POST', headers: { ...TUS, ...bearer(tok), 'Upload-Length': '1', 'Upload-Metadata': `filename ${b64('a.txt')}` } });
    assert.equal(ok.status, 201, ok.text);
    for (const md of [`secret ${b64('x')}`, `filename ${b64('a')},owner ${b64('root')}`, 'Filename', 'is_admin']) {
      const r = await request(srv.url, { method: 'POST', headers: { ...TUS, ...bearer(tok), 'Upload-Length': '1', 'Upload-Metadata': md } });
      assert.equal(r.status, 403, `${md} -> ${r.status} ${r.text}`);
      assert.ok(r.text.length > 0);
    }
    const none = await cliToken('meta', ['--meta-keys', '']);
    const r = await request(srv.url, { method: 'POST', headers: { ...TUS, ...bearer(none), 'Upload-Length': '1', 'Upload-Metadata': `filename ${b64('a')}` } });
    assert.equal(r.status, 403, `--meta-keys "" allows none -> ${r.status}`);
    assert.equal((await request(srv.url, { method: 'POST', headers: { ...TUS, ...bearer(none), 'Upload-Length': '1' } })).status, 201);
  });

  /** Starts a PATCH of `size` bytes on `location` that sends its head and 100 bytes, then waits
   * until those bytes reached the data file (the server is writing: the writer is counted). */
  async function slowWriter(location, tok, data) {
    const c = await RawConn.connect(srv.port);
    await c.write(rawHead(`PATCH ${new URL(location).pathname} HTTP/1.1`, [['Host', `127.0.0.1:${srv.port}`], ['Tus-Resumable', '1.0.0'], ['Authorization', `Bearer ${tok}`],
      ['Upload-Offset', '0'], ['Content-Type', 'application/offset+octet-stream'], ['Content-Length', String(data.length)]]));
    await c.write(data.subarray(0, 100));
    const file = path.join(srv.dataDir, idOf(location));
    const deadline = Date.now() + 5000;
    while (!(fs.existsSync(file) && fs.statSync(file).size >= 100)) {
      if (Date.now() > deadline) {
        c.destroy();
        assert.fail('the slow PATCH never reached the data file');
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return {
      async finish() {
        await c.write(data.subarray(100));
        const [res] = await c.waitForResponses(1, { methods: ['PATCH'], timeout: 10_000 });
        c.destroy();
        return res;
      },
      destroy: () => c.destroy(),
    };
  }

  test('policy max_uploads 1: a second concurrent writer of the same sub -> 429 with Retry-After', T, async () => {
    const tok = await cliToken('busy', ['--max-uploads', '1']);
    const size = 4000;
    const data = seededBytes(size, 8);
    const u1 = (await createUpload(srv.url, { length: size, headers: bearer(tok) })).location;
    const u2 = (await createUpload(srv.url, { length: size, headers: bearer(tok) })).location;
    const w = await slowWriter(u1, tok, data);
    try {
      const second = await patch(u2, 0, data, bearer(tok));
      assert.equal(second.status, 429, `second concurrent writer -> ${second.status} ${second.text}`);
      assert.ok(/^\d+$/.test(second.headers['retry-after'] || ''), `429 without a Retry-After: ${second.headers['retry-after']}`);
      assert.ok(second.text.length > 0);
      assert.equal((await head(u2, bearer(tok))).headers['upload-offset'], '0', 'the refused writer stored bytes');
      // creation-with-upload is a writer too
      const cwu = await request(srv.url, { method: 'POST', headers: { ...TUS, ...bearer(tok), 'Upload-Length': '10', 'Content-Type': 'application/offset+octet-stream' }, body: Buffer.alloc(10) });
      assert.equal(cwu.status, 429, `creation-with-upload beside a running writer -> ${cwu.status} ${cwu.text}`);
      // reads and other owners are not limited
      assert.equal((await head(u2, bearer(tok))).status, 200);
      const other = await createUpload(srv.url, { length: 10, body: Buffer.alloc(10), headers: bearer(bob) });
      assert.equal(other.res.headers['upload-offset'], '10');
      assert.equal((await w.finish()).status, 204);
    } finally {
      w.destroy();
    }
    // The slot is free again once the first writer is done: ferry gives it back before it
    // answers, so a request sent the moment the 204 arrives is accepted.
    const again = await patch(u2, 0, data, bearer(tok));
    assert.equal(again.status, 204, `after the first writer finished -> ${again.status} ${again.text}`);
  });

  test('--max-uploads-per-owner applies to tokens without max_uploads', T, async () => {
    const limited = await startServer({ args: ['--auth', 'jwt', '--jwt-secret-file', secretFile, '--max-uploads-per-owner', '1'] });
    const u1 = (await createUpload(limited.url, { length: 4000, headers: bearer(alice) })).location;
    const u2 = (await createUpload(limited.url, { length: 4000, headers: bearer(alice) })).location;
    const c = await RawConn.connect(limited.port);
    try {
      await c.write(rawHead(`PATCH ${new URL(u1).pathname} HTTP/1.1`, [['Host', `127.0.0.1:${limited.port}`], ['Tus-Resumable', '1.0.0'], ['Authorization', `Bearer ${alice}`],
        ['Upload-Offset', '0'], ['Content-Type', 'application/offset+octet-stream'], ['Content-Length', '4000']]));
      await c.write(Buffer.alloc(100));
      const file = path.join(limited.dataDir, idOf(u1));
      const deadline = Date.now() + 5000;
      while (!(fs.existsSync(file) && fs.statSync(file).size >= 100)) {
        assert.ok(Date.now() < deadline, 'the slow PATCH never reached the data file');
        await new Promise((r) => setTimeout(r, 20));
      }
      const r = await patch(u2, 0, Buffer.alloc(4000), bearer(alice));
      assert.equal(r.status, 429, `${r.status} ${r.text}`);
      assert.ok(r.headers['retry-after']);
      assert.equal((await patch(u2, 0, Buffer.alloc(4000), bearer(bob))).status, 404, 'bob reaches alice\'s upload');
    } finally {
      c.destroy();
    }
    await limited.stop();
  });

  test('tus-js-client with headers: {Authorization} uploads; without a token it fails with 401', T, async () => {
    const data = seededBytes((SANITIZED ? 1 : 4) * MiB + 17, 9);
    const upload = (headers) =>
      new Promise((resolve, reject) => {
        const u = new tus.Upload(data, {
          endpoint: srv.url,
          headers,
          chunkSize: 1 * MiB,
          retryDelays: [],
          metadata: { filename: 'a.bin' },
          onError: reject,
          onSuccess: () => resolve(u.url),
        });
        u.start();
      });
    const url = await upload({ Authorization: `Bearer ${alice}` });
    const g = await get(url, bearer(alice));
    assert.equal(g.status, 200);
    assert.equal(sha256(g.body), sha256(data));
    const err = await upload({}).then(() => null, (e) => e);
    assert.ok(err, 'tus-js-client succeeded without a token');
    assert.equal(err.originalResponse?.getStatus(), 401, `tus-js-client error: ${err.message}`);
  });
});

// --- public-key servers ---

describe('ES256 and EdDSA servers (--jwt-public-key)', () => {
  let es;
  let eds;
  before(async () => {
    es = await startServer({ args: ['--auth', 'jwt', '--jwt-public-key', ecPubFile] });
    eds = await startServer({ args: ['--auth', 'jwt', '--jwt-public-key', edPubFile] });
  });

  async function roundTrip(srv, tok) {
    const data = seededBytes(1234, 10);
    const { location } = await createUpload(srv.url, { length: data.length, headers: bearer(tok) });
    assert.equal((await patch(location, 0, data, bearer(tok))).status, 204);
    const g = await get(location, bearer(tok));
    assert.equal(sha256(g.body), sha256(data));
    return location;
  }
  const post = (srv, tok) => request(srv.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '10', ...bearer(tok) } });

  test('ES256 (P-256, r||s signature) happy path; DER signature, other key, HS256 confusion, EdDSA -> 401', T, async () => {
    await roundTrip(es, mintES(claims('carol')));
    const c = claims('carol');
    const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cases = [
      ['DER-encoded signature', mintES(c, { dsaEncoding: 'der' }), null],
      ['signed by another P-256 key', mintES(c, { key: other.privateKey }), /signature/i],
      ['HS256 with the public key PEM as the secret (alg confusion)', mintHS(c, { secret: ecPub }), /HS256/],
      ['HS256 with the SPKI DER as the secret', mintHS(c, { secret: ec.publicKey.export({ type: 'spki', format: 'der' }) }), /HS256/],
      ['EdDSA token (wrong key type)', mintEd(c), /EdDSA|ES256/],
      ['alg none', `${b64u({ alg: 'none' })}.${b64u(c)}.`, /none/i],
      ['ES256 expired', mintES({ ...c, exp: now() - 3600 }), /expire/i],
      ['ES256 header claiming ES384', mintES(c, { header: { alg: 'ES384' } }), null],
    ];
    for (const [what, tok, mention] of cases) assert401(await post(es, tok), `ES256 server: ${what}`, mention);
    const r = await post(es, mintHS(c, { secret: ecPub }));
    assert.match(r.text, /ES256/, `the refusal should name the accepted algorithm: ${r.text}`);
  });

  test('EdDSA (Ed25519) happy path ("EdDSA" and "Ed25519" headers); ES256, HS256 confusion, other key -> 401', T, async () => {
    await roundTrip(eds, mintEd(claims('dave')));
    await roundTrip(eds, mintEd(claims('dave'), { header: { alg: 'Ed25519', typ: 'JWT' } }));
    const c = claims('dave');
    const cases = [
      ['ES256 token to an Ed25519 server', mintES(c), /ES256|EdDSA/],
      ['HS256 with the public key PEM as the secret', mintHS(c, { secret: edPub }), /HS256/],
      ['signed by another Ed25519 key', mintEd(c, { key: crypto.generateKeyPairSync('ed25519').privateKey }), /signature/i],
      ['EdDSA nbf in the future', mintEd({ ...c, nbf: now() + 600 }), null],
    ];
    for (const [what, tok, mention] of cases) assert401(await post(eds, tok), `EdDSA server: ${what}`, mention);
    // ownership works the same with public-key tokens
    const loc = await roundTrip(eds, mintEd(claims('dave')));
    assert.equal((await head(loc, bearer(mintEd(claims('erin'))))).status, 404);
  });

  test('a key of another type is refused at startup', T, async () => {
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const f = path.join(keyDir, 'rsa.pub');
    fs.writeFileSync(f, rsa.publicKey.export({ type: 'spki', format: 'pem' }));
    const r = await runFerry(['serve', '--listen', '127.0.0.1:0', '--data', keyDir, '--auth', 'jwt', '--jwt-public-key', f]);
    assert.notEqual(r.code, 0, 'ferry started with an RSA key');
    assert.ok(r.stderr.trim().length > 0, 'no reason given for refusing the key');
    const short = path.join(keyDir, 'short.secret');
    fs.writeFileSync(short, 'tooshort\n');
    const r2 = await runFerry(['serve', '--listen', '127.0.0.1:0', '--data', keyDir, '--auth', 'jwt', '--jwt-secret-file', short]);
    assert.notEqual(r2.code, 0, 'ferry started with an 8-byte HS256 secret');
  });
});

// --- --allow-types without tokens ---

describe('--allow-types image/* without --auth', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--allow-types', 'image/*'] });
  });

  test('declared, sniffed-at-16-KiB and sniffed-when-whole types are enforced', T, async () => {
    const declared = await request(srv.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '100', 'Upload-Metadata': `filetype ${Buffer.from('text/html').toString('base64')}` } });
    assert.equal(declared.status, 415, declared.text);
    const png = makePng(100, 80);
    const p = await createUpload(srv.url, { length: png.length });
    assert.equal((await patch(p.location, 0, png)).status, 204);
    assert.match((await get(p.location)).headers['content-type'] || '', /^image\/png/);

    const t = await createUpload(srv.url, { length: TEXT.length });
    const r = await patch(t.location, 0, TEXT);
    assert.equal(r.status, 415, `text bytes -> ${r.status} ${r.text}`);
    assert.equal((await head(t.location)).status, 404, 'the refused upload must be removed');
    assert.ok(!fs.existsSync(path.join(srv.dataDir, idOf(t.location))), 'the refused upload\'s data file is still on disk');

    const html = Buffer.from('<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n');
    const h = await createUpload(srv.url, { length: html.length, metadata: { filetype: 'image/png' } });
    const hr = await patch(h.location, 0, html);
    assert.equal(hr.status, 415, `HTML declared as image/png -> ${hr.status} ${hr.text}`);
    assert.equal((await head(h.location)).status, 404);
  });
});
