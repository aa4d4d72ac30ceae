// Downloads of finished uploads as an HTTP client sees them: ranges, validators, plain HEAD.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { checkedServers } from './lib/checked.mjs';
import { createUpload, request, get, head } from './lib/http.mjs';
import { RawConn, head as rawHead } from './lib/raw.mjs';
import { seededBytes } from './lib/files.mjs';

// Every server this file starts is checked for sanitizer reports when the file is done.
const startServer = checkedServers();

const T = { timeout: 20_000 };
const LEN = 1000;
const IMF = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

describe('downloads', () => {
  let srv;
  let url;
  const data = seededBytes(LEN, 91);
  before(async () => {
    srv = await startServer();
    ({ location: url } = await createUpload(srv.url, { length: LEN, body: data, metadata: { filename: 'r.bin' } }));
  });
  after(() => srv?.stop());

  const range = (r) => get(url, { Range: r });

  test('a full GET advertises ranges and carries validators', T, async () => {
    const g = await get(url);
    assert.equal(g.status, 200);
    assert.ok(g.body.equals(data));
    assert.equal(g.headers['content-length'], String(LEN));
    assert.equal(g.headers['accept-ranges'], 'bytes');
    assert.match(g.headers.etag || '', /^(W\/)?"[^"]+"$/, `ETag: ${g.headers.etag}`);
    assert.match(g.headers['last-modified'] || '', IMF, `Last-Modified: ${g.headers['last-modified']}`);
    assert.ok(Date.parse(g.headers['last-modified']) <= Date.now() + 1000);
    assert.equal((await get(url)).headers.etag, g.headers.etag, 'ETag of unchanged bytes must be stable');
  });

  test('Range: bytes=0-9 -> 206 with the first 10 bytes', T, async () => {
    const r = await range('bytes=0-9');
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 0-9/${LEN}`);
    assert.equal(r.headers['content-length'], '10');
    assert.ok(r.body.equals(data.subarray(0, 10)));
  });

  test('Range: bytes=10- -> 206 with the rest', T, async () => {
    const r = await range('bytes=10-');
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 10-${LEN - 1}/${LEN}`);
    assert.ok(r.body.equals(data.subarray(10)));
  });

  test('Range: bytes=-5 -> 206 with the last 5 bytes', T, async () => {
    const r = await range('bytes=-5');
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes ${LEN - 5}-${LEN - 1}/${LEN}`);
    assert.ok(r.body.equals(data.subarray(LEN - 5)));
    const all = await range(`bytes=-${LEN * 2}`);
    assert.equal(all.status, 206);
    assert.ok(all.body.equals(data));
  });

  test('a range ending past the end is clipped; one starting past it -> 416 bytes */LEN', T, async () => {
    const clipped = await range(`bytes=${LEN - 3}-${LEN + 100}`);
    assert.equal(clipped.status, 206);
    assert.equal(clipped.headers['content-range'], `bytes ${LEN - 3}-${LEN - 1}/${LEN}`);
    assert.ok(clipped.body.equals(data.subarray(LEN - 3)));
    for (const r of [`bytes=${LEN}-`, `bytes=${LEN + 5}-${LEN + 10}`, 'bytes=-0']) {
      const res = await range(r);
      assert.equal(res.status, 416, `${r} -> ${res.status}`);
      assert.equal(res.headers['content-range'], `bytes */${LEN}`, r);
    }
  });

  test('multiple ranges or an invalid range -> 200 with the whole file', T, async () => {
    for (const r of ['bytes=0-1,5-6', 'bytes=5-2', 'items=0-5', 'bytes=abc']) {
      const res = await range(r);
      assert.equal(res.status, 200, `${r} -> ${res.status}`);
      assert.equal(res.headers['content-range'], undefined);
      assert.ok(res.body.equals(data), r);
    }
  });

  test('If-None-Match with the ETag -> 304 without a body; another ETag -> 200', T, async () => {
    const { headers } = await get(url);
    for (const inm of [headers.etag, `"nope", ${headers.etag}`, '*']) {
      const r = await get(url, { 'If-None-Match': inm });
      assert.equal(r.status, 304, `If-None-Match: ${inm}`);
      assert.equal(r.body.length, 0);
      assert.equal(r.headers.etag, headers.etag, '304 must repeat the ETag');
    }
    const other = await get(url, { 'If-None-Match': '"something-else"' });
    assert.equal(other.status, 200);
    assert.ok(other.body.equals(data));
  });

  test('If-Range with a matching ETag honours Range; a different validator gets the whole file', T, async () => {
    const { headers } = await get(url);
    const match = await get(url, { Range: 'bytes=0-9', 'If-Range': headers.etag });
    assert.equal(match.status, 206);
    const stale = await get(url, { Range: 'bytes=0-9', 'If-Range': '"stale-validator"' });
    assert.equal(stale.status, 200, 'a stale If-Range must yield the full representation');
    assert.ok(stale.body.equals(data));
  });

  test('a plain HEAD (no Tus-Resumable) gives the download headers and no body', T, async () => {
    const h = await request(url, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-length'], String(LEN));
    assert.equal(h.headers['accept-ranges'], 'bytes');
    assert.ok(h.headers.etag);
    assert.equal(h.headers['upload-offset'], undefined, 'a plain HEAD is a download HEAD, not a tus HEAD');
    // on the wire: no body bytes follow, and the connection serves the next request
    const c = await RawConn.connect(srv.port);
    try {
      const p = new URL(url).pathname;
      await c.write(rawHead(`HEAD ${p} HTTP/1.1`, [['Host', 'x']]) + rawHead(`GET ${p} HTTP/1.1`, [['Host', 'x'], ['Range', 'bytes=0-1']]));
      const rs = await c.waitForResponses(2, { methods: ['HEAD', 'GET'] });
      assert.equal(rs[0].status, 200);
      assert.equal(rs[0].headers['content-length'], String(LEN));
      assert.equal(rs[0].body.length, 0);
      assert.equal(rs[1].status, 206, 'the HEAD response was followed by body bytes');
      assert.ok(rs[1].body.equals(data.subarray(0, 2)));
    } finally {
      c.destroy();
    }
    // the tus HEAD is still the tus one
    assert.equal((await head(url)).headers['upload-offset'], String(LEN));
  });

  test('an unfinished upload is not downloadable (409), a plain HEAD says the same', T, async () => {
    const { location } = await createUpload(srv.url, { length: 10, body: Buffer.from('12345') });
    assert.equal((await get(location)).status, 409);
    assert.equal((await get(location, { Range: 'bytes=0-1' })).status, 409);
    assert.equal((await request(location, { method: 'HEAD' })).status, 409);
  });
});

describe('Repr-Digest (--repr-digest)', () => {
  const sha = (b) => crypto.createHash('sha256').update(b).digest('base64');

  test('HEAD and GET of a finished upload carry its SHA-256; unfinished uploads and the default do not', T, async () => {
    const srv = await startServer({ args: ['--repr-digest'] });
    const data = seededBytes(300_000, 7);
    const { location } = await createUpload(srv.url, { length: data.length, body: data });
    const want = `sha-256=:${sha(data)}:`;
    assert.equal((await head(location)).headers['repr-digest'], want);
    const g = await get(location);
    assert.ok(g.body.equals(data));
    assert.equal(g.headers['repr-digest'], want);
    // IETF offset retrieval too.
    const h = await request(location, { method: 'HEAD', headers: { 'Upload-Draft-Interop-Version': '8' } });
    assert.equal(h.headers['repr-digest'], want);
    // An empty upload is finished at creation.
    const { location: empty } = await createUpload(srv.url, { length: 0 });
    assert.equal((await head(empty)).headers['repr-digest'], `sha-256=:${sha(Buffer.alloc(0))}:`);
    // Unfinished: no digest yet.
    const { location: half } = await createUpload(srv.url, { length: 10, body: Buffer.from('abc') });
    assert.equal((await head(half)).headers['repr-digest'], undefined);
    await srv.stop();
    // Without the flag nothing is hashed.
    const plain = await startServer();
    const { location: p } = await createUpload(plain.url, { length: data.length, body: data });
    assert.equal((await head(p)).headers['repr-digest'], undefined);
  });

  test('a concatenated upload gets the digest of the whole, its partials none', T, async () => {
    const srv = await startServer({ args: ['--repr-digest'] });
    const a = seededBytes(70_000, 1), b = seededBytes(50_000, 2);
    const partial = async (body) => (await createUpload(srv.url, { length: body.length, body, headers: { 'Upload-Concat': 'partial' } })).location;
    const pa = await partial(a), pb = await partial(b);
    assert.equal((await head(pa)).headers['repr-digest'], undefined);
    const f = await request(srv.url, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Concat': `final;${pa} ${pb}` } });
    assert.equal(f.status, 201, f.text);
    assert.equal((await head(f.headers.location)).headers['repr-digest'], `sha-256=:${sha(Buffer.concat([a, b]))}:`);
  });
});
