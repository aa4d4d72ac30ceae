// tus 1.0 extensions beyond creation/termination: checksum, checksum-trailer, expiration and
// concatenation (including tus-js-client's parallelUploads), seen from a client.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import * as tus from 'tus-js-client';
import { checkedServers } from './lib/checked.mjs';
import {
  TUS, request, createUpload, head, patch, del, get, offsetOf, encodeMetadata, decodeMetadata,
  assertError, assertTusResumable, tokens, sha256, getSha256,
} from './lib/http.mjs';
import { RawConn, head as rawHead } from './lib/raw.mjs';
import { seededBytes } from './lib/files.mjs';
import { MiB } from './lib/env.mjs';

// Every server this file starts is checked for sanitizer reports when the file is done.
const startServer = checkedServers();

const SANITIZED = process.env.FERRY_TEST_SANITIZED === '1';
const T = { timeout: 30_000 };
const ALGORITHMS = ['sha1', 'sha256', 'sha512', 'md5', 'crc32'];

// --- helpers ---

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(buf) >>> 0;
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** base64 digest of buf as tus's Upload-Checksum carries it (crc32: 4 bytes big-endian). */
function digest(algo, buf) {
  if (algo === 'crc32') {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(crc32(buf));
    return b.toString('base64');
  }
  return crypto.createHash(algo).update(buf).digest('base64');
}

const checksum = (algo, buf) => `${algo} ${digest(algo, buf)}`;
const idOf = (location) => new URL(location).pathname.split('/').pop();
const dataFileSize = (srv, id) => fs.statSync(path.join(srv.dataDir, id)).size;
const filesOf = (srv, id) => fs.readdirSync(srv.dataDir).filter((n) => n.startsWith(id));

/** A chunked PATCH on a raw socket; `trailers` is a list of "Name: value" lines. */
function chunkedPatchBytes(port, id, offset, body, { headers = [], trailers = [], pieces = 3 } = {}) {
  let out = rawHead(`PATCH /files/${id} HTTP/1.1`, [
    ['Host', `127.0.0.1:${port}`],
    ['Tus-Resumable', '1.0.0'],
    ['Upload-Offset', String(offset)],
    ['Content-Type', 'application/offset+octet-stream'],
    ['Transfer-Encoding', 'chunked'],
    ...headers,
  ]);
  const parts = [Buffer.from(out, 'latin1')];
  const step = Math.ceil(body.length / pieces);
  for (let i = 0; i < body.length; i += step) {
    const piece = body.subarray(i, i + step);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`, 'latin1'), piece, Buffer.from('\r\n', 'latin1'));
  }
  out = '0\r\n' + trailers.map((l) => `${l}\r\n`).join('') + '\r\n';
  parts.push(Buffer.from(out, 'latin1'));
  return Buffer.concat(parts);
}

async function sendRaw(port, bytes, methods = ['PATCH']) {
  const c = await RawConn.connect(port);
  try {
    await c.write(bytes);
    const [res] = await c.waitForResponses(1, { timeout: 10_000, methods });
    return res;
  } finally {
    c.destroy();
  }
}

/** Parses an IMF-fixdate (RFC 9110 HTTP-date, preferred form) strictly; returns ms. */
function parseImfFixdate(v) {
  assert.match(
    v || '',
    /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/,
    `not an IMF-fixdate: ${JSON.stringify(v)}`,
  );
  return Date.parse(v);
}

// --- checksum ---

describe('checksum extension', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.stop());

  test('OPTIONS advertises checksum, checksum-trailer and the algorithms', T, async () => {
    const r = await request(srv.url, { method: 'OPTIONS' });
    const ext = tokens(r.headers['tus-extension']);
    assert.ok(ext.includes('checksum'), `Tus-Extension: ${r.headers['tus-extension']}`);
    assert.ok(ext.includes('checksum-trailer'), `Tus-Extension: ${r.headers['tus-extension']}`);
    assert.equal(r.headers['tus-checksum-algorithm'], 'sha1,sha256,sha512,md5,crc32');
  });

  for (const algo of ALGORITHMS) {
    test(`${algo}: a mismatching chunk gets 460 and is dropped, the correct one 204`, T, async () => {
      const data = seededBytes(10_000, 11);
      const { location } = await createUpload(srv.url, { length: data.length });
      const wrong = await patch(location, 0, data, { 'Upload-Checksum': checksum(algo, data.subarray(1)) });
      assertError(wrong, 460, { what: `${algo} mismatch` });
      assert.equal(await offsetOf(location), 0);
      const ok = await patch(location, 0, data, { 'Upload-Checksum': checksum(algo, data) });
      assert.equal(ok.status, 204, `${algo}: ${ok.text}`);
      assert.equal(ok.headers['upload-offset'], String(data.length));
      assert.ok((await get(location)).body.equals(data));
    });
  }

  test('a rejected chunk never reaches the stored bytes', T, async () => {
    const data = seededBytes(3 * 40_000, 12);
    const chunk = (i) => data.subarray(i * 40_000, (i + 1) * 40_000);
    const { location } = await createUpload(srv.url, { length: data.length });
    const id = idOf(location);
    let r = await patch(location, 0, chunk(0), { 'Upload-Checksum': checksum('sha1', chunk(0)) });
    assert.equal(r.status, 204, r.text);
    // The tampered chunk is longer than what is left: nothing of it may be kept either way.
    const tampered = Buffer.from(data.subarray(40_000));
    tampered[12345] ^= 0x01;
    r = await patch(location, 40_000, tampered, { 'Upload-Checksum': checksum('sha1', data.subarray(40_000)) });
    assertError(r, 460, { what: 'tampered chunk' });
    assert.equal(await offsetOf(location), 40_000);
    assert.equal(dataFileSize(srv, id), 40_000, 'the data file grew with rejected bytes');
    for (const i of [1, 2]) {
      r = await patch(location, i * 40_000, chunk(i), { 'Upload-Checksum': checksum('sha256', chunk(i)) });
      assert.equal(r.status, 204, r.text);
    }
    const g = await get(location);
    assert.equal(g.status, 200);
    assert.equal(sha256(g.body), sha256(data));
  });

  test('unsupported algorithms get 400 and change nothing', T, async () => {
    const data = Buffer.from('hello world');
    const { location } = await createUpload(srv.url, { length: data.length });
    for (const value of [
      `sha3-256 ${crypto.createHash('sha3-256').update(data).digest('base64')}`,
      'crc32c yZRlqg==',
      `SHA1 ${digest('sha1', data)}`,
    ]) {
      const r = await patch(location, 0, data, { 'Upload-Checksum': value });
      assertError(r, 400, { what: `Upload-Checksum: ${value}` });
      assert.equal(await offsetOf(location), 0);
    }
  });

  test('malformed Upload-Checksum values get 400 and change nothing', T, async () => {
    const data = Buffer.from('hello world');
    const { location } = await createUpload(srv.url, { length: data.length });
    for (const value of [
      'sha1', // no digest
      'sha1 ', // empty digest
      'sha1 ***notbase64***',
      `sha1 ${Buffer.alloc(10).toString('base64')}`, // wrong digest size
      `sha256 ${digest('sha1', data)}`, // a sha1-sized digest for sha256
      `crc32 ${Buffer.alloc(8).toString('base64')}`,
    ]) {
      const r = await patch(location, 0, data, { 'Upload-Checksum': value });
      assertError(r, 400, { what: `Upload-Checksum: ${JSON.stringify(value)}` });
      assert.equal(await offsetOf(location), 0);
    }
    // the known sha1 example from the tus spec still works afterwards
    const r = await patch(location, 0, data, { 'Upload-Checksum': 'sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=' });
    assert.equal(r.status, 204, r.text);
  });

  test('a rejected chunk carrying a deferred Upload-Length does not set the length', T, async () => {
    const { location } = await createUpload(srv.url, { deferred: true });
    const r = await patch(location, 0, Buffer.from('abc'), { 'Upload-Length': '3', 'Upload-Checksum': checksum('sha1', Buffer.from('abd')) });
    assertError(r, 460, { what: 'deferred + mismatch' });
    const h = await head(location);
    assert.equal(h.headers['upload-offset'], '0');
    assert.equal(h.headers['upload-length'], undefined);
    assert.equal(h.headers['upload-defer-length'], '1');
    const ok = await patch(location, 0, Buffer.from('abcd'), { 'Upload-Length': '4', 'Upload-Checksum': checksum('sha1', Buffer.from('abcd')) });
    assert.equal(ok.status, 204, ok.text);
    assert.equal((await get(location)).text, 'abcd');
  });

  test('creation-with-upload verifies Upload-Checksum too', T, async () => {
    const data = seededBytes(5000, 13);
    const good = await createUpload(srv.url, { length: 2 * data.length, body: data, headers: { 'Upload-Checksum': checksum('md5', data) } });
    assert.equal(good.res.headers['upload-offset'], String(data.length));
    const bad = await request(srv.url, {
      method: 'POST',
      headers: {
        ...TUS, 'Upload-Length': String(data.length), 'Content-Type': 'application/offset+octet-stream',
        'Upload-Checksum': checksum('md5', Buffer.from('other')),
      },
      body: data,
    });
    assertError(bad, 460, { what: 'POST with a wrong checksum' });
    if (bad.headers.location) assert.equal(await offsetOf(bad.headers.location), 0);
  });

  test('a checksummed PATCH cut mid-body keeps none of its bytes (an unverified one keeps them)', T, async (t) => {
    const s = await startServer({ t });
    const data = seededBytes(400_000, 14);
    const { location } = await createUpload(s.url, { length: data.length });
    const id = idOf(location);
    assert.equal((await patch(location, 0, data.subarray(0, 1000))).status, 204);

    const cutPatch = async (from, withChecksum) => {
      const headers = [
        ['Host', `127.0.0.1:${s.port}`], ['Tus-Resumable', '1.0.0'], ['Upload-Offset', String(from)],
        ['Content-Type', 'application/offset+octet-stream'], ['Content-Length', String(data.length - from)],
      ];
      if (withChecksum) headers.push(['Upload-Checksum', checksum('sha256', data.subarray(from))]);
      const c = await RawConn.connect(s.port);
      await c.write(rawHead(`PATCH /files/${id} HTTP/1.1`, headers));
      await c.write(data.subarray(from, from + 100_000));
      c.destroy();
    };

    await cutPatch(1000, true);
    const m = await s.waitForStderr(new RegExp(`body_interrupted id=${id} offset=(\\d+)`), 10_000);
    assert.ok(Number(m[1]) > 1000, 'the server saw none of the body; the test proves nothing');
    assert.equal(await offsetOf(location), 1000, 'bytes of an unverifiable (cut) checksummed PATCH were kept');
    assert.equal(dataFileSize(s, id), 1000);

    // Contrast: the same cut without a checksum keeps the received prefix (tus core behaviour).
    await cutPatch(1000, false);
    const all = () => [...s.stderrText().matchAll(new RegExp(`body_interrupted id=${id} offset=(\\d+)`, 'g'))];
    await s.waitForStderr(new RegExp(`body_interrupted id=${id}[^\\n]*\\n[^]*body_interrupted id=${id} offset=(\\d+)`), 10_000);
    const kept = Number(all()[1][1]);
    assert.ok(kept > 1000);
    assert.equal(await offsetOf(location), kept);

    const r = await patch(location, kept, data.subarray(kept), { 'Upload-Checksum': checksum('sha512', data.subarray(kept)) });
    assert.equal(r.status, 204, r.text);
    assert.equal(sha256((await get(location)).body), sha256(data));
  });
});

// --- checksum-trailer ---

describe('checksum-trailer extension (raw chunked PATCH; curl 7.88 cannot send trailers)', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.stop());

  const announce = [['Trailer', 'Upload-Checksum']];

  test('a correct trailer checksum appends the chunk (204, offset advanced)', T, async () => {
    const data = seededBytes(30_000, 21);
    const { location } = await createUpload(srv.url, { length: 2 * data.length });
    const id = idOf(location);
    let r = await sendRaw(srv.port, chunkedPatchBytes(srv.port, id, 0, data, { headers: announce, trailers: [`Upload-Checksum: ${checksum('sha256', data)}`] }));
    assert.equal(r.status, 204, r.body.toString());
    assert.equal(r.headers['upload-offset'], String(data.length));
    const second = seededBytes(30_000, 22);
    r = await sendRaw(srv.port, chunkedPatchBytes(srv.port, id, data.length, second, { headers: announce, trailers: [`upload-checksum: ${checksum('crc32', second)}`] }));
    assert.equal(r.status, 204, r.body.toString());
    assert.equal(await offsetOf(location), 2 * data.length);
    assert.ok((await get(location)).body.equals(Buffer.concat([data, second])));
  });

  test('a wrong trailer checksum gets 460 and the offset stays', T, async () => {
    const data = seededBytes(30_000, 23);
    const { location } = await createUpload(srv.url, { length: data.length });
    const id = idOf(location);
    const r = await sendRaw(srv.port, chunkedPatchBytes(srv.port, id, 0, data, { headers: announce, trailers: [`Upload-Checksum: ${checksum('sha1', data.subarray(1))}`] }));
    assert.equal(r.status, 460, r.body.toString());
    assert.equal(r.headers['tus-resumable'], '1.0.0');
    assert.equal(await offsetOf(location), 0);
    assert.equal(dataFileSize(srv, id), 0);
  });

  test('an announced trailer that never arrives gets 400 and the offset stays', T, async () => {
    const data = seededBytes(30_000, 24);
    const { location } = await createUpload(srv.url, { length: data.length });
    const id = idOf(location);
    let r = await sendRaw(srv.port, chunkedPatchBytes(srv.port, id, 0, data, { headers: announce }));
    assert.equal(r.status, 400, r.body.toString());
    assert.ok(r.body.length > 0);
    assert.equal(await offsetOf(location), 0);
    // some other trailer field instead of the announced one
    r = await sendRaw(srv.port, chunkedPatchBytes(srv.port, id, 0, data, { headers: [['Trailer', 'Upload-Checksum, X-Other']], trailers: ['X-Other: 1'] }));
    assert.equal(r.status, 400, r.body.toString());
    assert.equal(await offsetOf(location), 0);
  });

  test('unsupported algorithm or malformed value in the trailer: 400, offset stays', T, async () => {
    const data = seededBytes(1000, 25);
    const { location } = await createUpload(srv.url, { length: data.length });
    const id = idOf(location);
    for (const v of ['crc32c yZRlqg==', 'sha1', `sha1 ${Buffer.alloc(3).toString('base64')}`]) {
      const r = await sendRaw(srv.port, chunkedPatchBytes(srv.port, id, 0, data, { headers: announce, trailers: [`Upload-Checksum: ${v}`] }));
      assert.equal(r.status, 400, `${v}: ${r.body}`);
      assert.equal(await offsetOf(location), 0);
    }
  });

  test('a keep-alive connection stays usable after a trailer-checksummed PATCH', T, async () => {
    const data = seededBytes(2000, 26);
    const { location } = await createUpload(srv.url, { length: data.length });
    const id = idOf(location);
    const c = await RawConn.connect(srv.port);
    try {
      await c.write(Buffer.concat([
        chunkedPatchBytes(srv.port, id, 0, data, { headers: announce, trailers: [`Upload-Checksum: ${checksum('md5', data)}`] }),
        Buffer.from(rawHead(`HEAD /files/${id} HTTP/1.1`, [['Host', 'x'], ['Tus-Resumable', '1.0.0']]), 'latin1'),
      ]));
      const rs = await c.waitForResponses(2, { methods: ['PATCH', 'HEAD'], timeout: 10_000 });
      assert.equal(rs[0].status, 204);
      assert.equal(rs[1].status, 200);
      assert.equal(rs[1].headers['upload-offset'], String(data.length));
    } finally {
      c.destroy();
    }
  });
});

// --- expiration ---

describe('expiration extension (--expire 2)', { concurrency: true }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--expire', '2'] });
  });
  after(() => srv?.stop());

  test('OPTIONS advertises expiration', T, async () => {
    const r = await request(srv.url, { method: 'OPTIONS' });
    assert.ok(tokens(r.headers['tus-extension']).includes('expiration'));
  });

  test('creation, PATCH and HEAD of an unfinished upload carry Upload-Expires ~2 s ahead', T, async () => {
    const c = await createUpload(srv.url, { length: 100 });
    const check = (res, what) => {
      const exp = parseImfFixdate(res.headers['upload-expires']);
      const date = parseImfFixdate(res.headers.date);
      const ahead = exp - date;
      assert.ok(ahead >= 1000 && ahead <= 2000, `${what}: Upload-Expires ${res.headers['upload-expires']} vs Date ${res.headers.date}`);
      const vsNow = exp - Date.now();
      assert.ok(vsNow > -1000 && vsNow <= 2000, `${what}: Upload-Expires is ${vsNow} ms from now`);
    };
    check(c.res, 'POST 201');
    const p = await patch(c.location, 0, Buffer.alloc(10, 1));
    assert.equal(p.status, 204);
    check(p, 'PATCH 204');
    check(await head(c.location), 'HEAD');
    // a finished upload no longer expires, so its responses carry no Upload-Expires
    const f = await patch(c.location, 10, Buffer.alloc(90, 2));
    assert.equal(f.status, 204);
    assert.equal(f.headers['upload-expires'], undefined);
    assert.equal((await head(c.location)).headers['upload-expires'], undefined);
  });

  test('an idle unfinished upload is removed after it expires; a finished one stays', T, async () => {
    const finished = await createUpload(srv.url, { length: 5, body: Buffer.from('done!') });
    assert.equal(finished.res.headers['upload-offset'], '5');
    const idle = await createUpload(srv.url, { length: 100 });
    const id = idOf(idle.location);
    const expires = parseImfFixdate(idle.res.headers['upload-expires']);
    assert.equal((await patch(idle.location, 0, Buffer.alloc(10, 3))).status, 204);
    assert.equal((await head(idle.location)).status, 200, 'expired too early');
    assert.deepEqual(filesOf(srv, id).sort(), [id, `${id}.info`]);
    await srv.waitForStderr(new RegExp(`upload_expired id=${id}`), 8000);
    assert.ok(Date.now() >= expires, 'removed before its Upload-Expires');
    const h = await head(idle.location);
    assert.ok([404, 410].includes(h.status), `HEAD after expiry -> ${h.status}`);
    const p = await patch(idle.location, 10, Buffer.alloc(10, 3));
    assert.ok([404, 410].includes(p.status), `PATCH after expiry -> ${p.status}`);
    assert.deepEqual(filesOf(srv, id), [], 'files of the expired upload are still in the data dir');
    // The finished upload is older than the expired one and is still there.
    const fh = await head(finished.location);
    assert.equal(fh.status, 200);
    assert.equal(fh.headers['upload-offset'], '5');
    assert.equal((await get(finished.location)).text, 'done!');
    assert.equal(filesOf(srv, idOf(finished.location)).length, 2);
  });

  test('an upload being written is not removed mid-PATCH, even past its expiry', T, async () => {
    const data = seededBytes(100, 31);
    const slow = await createUpload(srv.url, { length: data.length });
    const id = idOf(slow.location);
    const marker = await createUpload(srv.url, { length: 100 }); // created later: expires no earlier
    const c = await RawConn.connect(srv.port);
    try {
      await c.write(rawHead(`PATCH /files/${id} HTTP/1.1`, [
        ['Host', `127.0.0.1:${srv.port}`], ['Tus-Resumable', '1.0.0'], ['Upload-Offset', '0'],
        ['Content-Type', 'application/offset+octet-stream'], ['Content-Length', '50'],
      ]));
      let sent = 0;
      const trickle = async (n) => {
        await c.write(data.subarray(sent, sent + n));
        sent += n;
      };
      await trickle(5);
      // The sweeper has passed the expiry of both uploads once it removed the idle marker.
      await srv.waitForStderr(new RegExp(`upload_expired id=${idOf(marker.location)}`), 8000);
      // keep trickling across at least two more sweeps (one every second at --expire 2)
      const until = Date.now() + 2200;
      while (Date.now() < until) {
        await trickle(1);
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(!srv.stderrText().includes(`upload_expired id=${id}`), 'the upload under a running PATCH was expired');
      await trickle(50 - sent);
      const [r] = await c.waitForResponses(1, { timeout: 10_000 });
      assert.equal(r.status, 204, r.body.toString());
      assert.equal(r.headers['upload-offset'], '50');
      // the end of the PATCH counts as activity: a fresh Upload-Expires
      const exp = parseImfFixdate(r.headers['upload-expires']);
      assert.ok(exp - parseImfFixdate(r.headers.date) >= 1000, `stale Upload-Expires ${r.headers['upload-expires']} at ${r.headers.date}`);
    } finally {
      c.destroy();
    }
    assert.equal((await head(slow.location)).headers['upload-offset'], '50');
    assert.equal((await patch(slow.location, 50, data.subarray(50))).status, 204);
    assert.ok((await get(slow.location)).body.equals(data));
    assert.equal(filesOf(srv, id).length, 2);
  });
});

// --- concatenation ---

describe('concatenation extension', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.stop());

  async function partial(bytes, { finish = true } = {}) {
    const { location } = await createUpload(srv.url, { length: bytes.length, headers: { 'Upload-Concat': 'partial' } });
    if (finish && bytes.length > 0) {
      const r = await patch(location, 0, bytes, { 'Upload-Concat': 'partial' });
      assert.equal(r.status, 204, r.text);
    }
    return location;
  }

  const final = (list, headers = {}) =>
    request(srv.url, { method: 'POST', headers: { ...TUS, 'Upload-Concat': `final;${list.join(' ')}`, ...headers } });

  test('OPTIONS advertises concatenation', T, async () => {
    const r = await request(srv.url, { method: 'OPTIONS' });
    assert.ok(tokens(r.headers['tus-extension']).includes('concatenation'));
  });

  test('final upload: 201, HEAD shows sum length/offset and the partials, GET the concatenation', T, async () => {
    const a = seededBytes(70_000, 41);
    const b = seededBytes(33_333, 42);
    const c = seededBytes(1, 43);
    const pa = await partial(a);
    const pb = await partial(b);
    const pc = await partial(c);
    const ph = await head(pa);
    assert.equal(ph.headers['upload-concat'], 'partial');
    assert.equal(ph.headers['upload-offset'], String(a.length));
    const r = await final([pa, pb, pc], { 'Upload-Metadata': encodeMetadata({ filename: 'whole.bin' }) });
    assert.equal(r.status, 201, r.text);
    assertTusResumable(r, 'final POST');
    const loc = r.headers.location;
    assert.match(loc, new RegExp(`^http://127\\.0\\.0\\.1:${srv.port}/files/[0-9a-f]{32}$`));
    const h = await head(loc);
    assert.equal(h.status, 200);
    const total = a.length + b.length + c.length;
    assert.equal(h.headers['upload-length'], String(total));
    assert.equal(h.headers['upload-offset'], String(total));
    assert.equal(h.headers['upload-concat'], `final;${pa} ${pb} ${pc}`);
    assert.deepEqual(decodeMetadata(h.headers['upload-metadata']), { filename: 'whole.bin' });
    const g = await get(loc);
    assert.equal(g.status, 200);
    assert.ok(g.body.equals(Buffer.concat([a, b, c])), 'concatenated bytes differ');
  });

  test('relative partial URLs are accepted and echoed as absolute URLs', T, async () => {
    const a = Buffer.from('abc');
    const b = Buffer.from('defg');
    const pa = await partial(a);
    const pb = await partial(b);
    const r = await final([new URL(pa).pathname, new URL(pb).pathname]);
    assert.equal(r.status, 201, r.text);
    assert.equal((await head(r.headers.location)).headers['upload-concat'], `final;${pa} ${pb}`);
    assert.equal((await get(r.headers.location)).text, 'abcdefg');
  });

  test('a partial listed twice contributes its bytes twice; partials stay reusable', T, async () => {
    const a = seededBytes(4096, 44);
    const b = seededBytes(10, 45);
    const pa = await partial(a);
    const pb = await partial(b);
    const r1 = await final([pa, pb, pa]);
    assert.equal(r1.status, 201, r1.text);
    assert.ok((await get(r1.headers.location)).body.equals(Buffer.concat([a, b, a])));
    const r2 = await final([pb, pb]);
    assert.equal(r2.status, 201, r2.text);
    assert.equal((await head(r2.headers.location)).headers['upload-length'], '20');
    assert.ok((await get(r2.headers.location)).body.equals(Buffer.concat([b, b])));
  });

  test('a final upload keeps its bytes after its partials are deleted', T, async () => {
    const a = seededBytes(5000, 46);
    const pa = await partial(a);
    const r = await final([pa]);
    assert.equal(r.status, 201, r.text);
    assert.equal((await del(pa)).status, 204);
    assert.equal((await head(pa)).status, 404);
    assert.ok((await get(r.headers.location)).body.equals(a));
  });

  test('PATCH to a final upload -> 403, nothing changes', T, async () => {
    const pa = await partial(Buffer.from('12345'));
    const r = await final([pa]);
    assert.equal(r.status, 201);
    const p = await patch(r.headers.location, 5, Buffer.from('x'));
    assertError(p, 403, { what: 'PATCH final' });
    const p0 = await patch(r.headers.location, 0, Buffer.from('x'));
    assertError(p0, 403, { what: 'PATCH final at 0' });
    assert.equal((await get(r.headers.location)).text, '12345');
    assert.equal((await get(pa)).text, '12345');
  });

  test('final with an unfinished partial -> 400', T, async () => {
    const done = await partial(Buffer.from('ok'));
    const half = await partial(Buffer.alloc(10), { finish: false });
    assert.equal((await patch(half, 0, Buffer.alloc(4), { 'Upload-Concat': 'partial' })).status, 204);
    assertError(await final([done, half]), 400, { what: 'final with unfinished partial' });
    const deferred = await createUpload(srv.url, { deferred: true, headers: { 'Upload-Concat': 'partial' } });
    assertError(await final([done, deferred.location]), 400, { what: 'final with a deferred-length partial' });
  });

  test('final with an unknown partial -> 404', T, async () => {
    const done = await partial(Buffer.from('ok'));
    const unknown = `${srv.url}${'0'.repeat(32)}`;
    assertError(await final([done, unknown]), 404, { what: 'final with unknown partial' });
    assertError(await final([`${srv.origin}/elsewhere/abc`]), 404, { what: 'final with a foreign URL' });
  });

  test('final with a non-partial upload -> 400', T, async () => {
    const done = await partial(Buffer.from('ok'));
    const plain = await createUpload(srv.url, { length: 2 });
    assert.equal((await patch(plain.location, 0, Buffer.from('no'))).status, 204);
    assertError(await final([done, plain.location]), 400, { what: 'final with non-partial' });
    const f = await final([done]);
    assert.equal(f.status, 201);
    assertError(await final([f.headers.location]), 400, { what: 'final of a final' });
  });

  test('final with an empty list -> 400', T, async () => {
    assertError(await final([]), 400, { what: 'final;' });
    assertError(await final([' ']), 400, { what: 'final; (space)' });
  });

  test('Upload-Length (or a deferred length) on a final -> 400; malformed Upload-Concat -> 400', T, async () => {
    const pa = await partial(Buffer.from('abc'));
    assertError(await final([pa], { 'Upload-Length': '3' }), 400, { what: 'final with Upload-Length' });
    assertError(await final([pa], { 'Upload-Defer-Length': '1' }), 400, { what: 'final with Upload-Defer-Length' });
    const bad = await request(srv.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '3', 'Upload-Concat': 'partially' } });
    assertError(bad, 400, { what: 'Upload-Concat: partially' });
  });

  // The echo must fit the response head: ferry accepts at most 64 partials and falls back to
  // relative URLs when the absolute ones are too long.
  test('HEAD of a final with 60 partials still echoes Upload-Concat (or the POST is refused)', T, async () => {
    const parts = [];
    for (let i = 0; i < 60; i++) parts.push(await partial(Buffer.from([i])));
    const r = await final(parts);
    if (r.status >= 400 && r.status < 500) return; // refusing that many partials up front is fine
    assert.equal(r.status, 201, r.text);
    const h = await head(r.headers.location);
    assert.equal(h.headers['upload-length'], '60');
    assert.ok(h.headers['upload-concat'], 'HEAD of a final upload MUST include Upload-Concat; it is missing');
    assert.ok(h.headers['upload-concat'] === `final;${parts.join(' ')}`, 'Upload-Concat does not list the 60 partials');
  });

  test('tus-js-client parallelUploads: 4 -> success and identical bytes', { timeout: 120_000 }, async () => {
    const size = (SANITIZED ? 5 : 20) * MiB;
    const data = crypto.randomBytes(size);
    const url = await new Promise((resolve, reject) => {
      const up = new tus.Upload(data, {
        endpoint: srv.url,
        parallelUploads: 4,
        retryDelays: null,
        metadata: { filename: 'parallel.bin' },
        onError: reject,
        onSuccess: () => resolve(up.url),
      });
      up.start();
    });
    const h = await head(url);
    assert.equal(h.headers['upload-length'], String(size));
    assert.match(h.headers['upload-concat'] || '', /^final;(http:\/\/\S+ ){3}http:\/\/\S+$/);
    const g = await getSha256(url);
    assert.equal(g.status, 200);
    assert.equal(g.length, size);
    assert.equal(g.sha256, sha256(data));
  });
});
