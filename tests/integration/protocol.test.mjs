// tus 1.0.0 protocol contract of ferry, exercised with node:http.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, runFerry } from './lib/server.mjs';
import {
  TUS, request, createUpload, head, patch, del, get, offsetOf, encodeMetadata, decodeMetadata,
  assertTusResumable, assertError, tokens, b64,
} from './lib/http.mjs';
import { rawRequest, head as rawHead } from './lib/raw.mjs';

const T = { timeout: 20_000 };

describe('command line', () => {
  test('ferry --version prints "ferry X.Y.Z"', T, async () => {
    const r = await runFerry(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^ferry \d+\.\d+\.\d+$/);
  });

  test('ferry serve --help prints usage and exits 0', T, async () => {
    const r = await runFerry(['serve', '--help']);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout + r.stderr;
    assert.match(out, /usage/i);
    for (const flag of ['--listen', '--data', '--max-size', '--header-timeout']) assert.ok(out.includes(flag), `help lacks ${flag}`);
  });

  test('serve accepts every documented flag and prints the readiness line', T, async (t) => {
    const srv = await startServer({
      t,
      args: ['--max-size', '1000000', '--base-path', '/files/', '--workers', '2', '--header-timeout', '5',
        '--idle-timeout', '5', '--body-timeout', '5', '--grace', '2', '--log-level', 'debug'],
    });
    assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/files\/$/);
    const r = await request(srv.url, { method: 'OPTIONS' });
    assert.ok([200, 204].includes(r.status));
    assert.equal(r.headers['tus-max-size'], '1000000');
  });

  test('flags can be set through FERRY_<NAME> environment variables', T, async (t) => {
    const srv = await startServer({ t, env: { FERRY_MAX_SIZE: '4242' } });
    const r = await request(srv.url, { method: 'OPTIONS' });
    assert.equal(r.headers['tus-max-size'], '4242');
    const big = await request(srv.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '4243' } });
    assertError(big, 413, { what: 'POST over FERRY_MAX_SIZE' });
  });

  test('--base-path moves the endpoint', T, async (t) => {
    const srv = await startServer({ t, args: ['--base-path', '/up/'] });
    assert.match(srv.url, /\/up\/$/);
    const { location } = await createUpload(srv.url, { length: 3, basePathRe: /^\/up\/[0-9a-f]{32}$/ });
    assert.equal((await patch(location, 0, Buffer.from('abc'))).status, 204);
    assert.equal((await get(location)).text, 'abc');
    const other = await request(`${srv.origin}/files/`, { method: 'POST', headers: { ...TUS, 'Upload-Length': '1' } });
    assert.equal(other.status, 404);
  });
});

describe('tus core protocol', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--max-size', String(64 * 1024 * 1024)] });
  });
  after(() => srv?.stop());

  test('OPTIONS advertises version, extensions and max size', T, async () => {
    const r = await request(srv.url, { method: 'OPTIONS' });
    assert.ok([200, 204].includes(r.status), `OPTIONS -> ${r.status}`);
    assert.ok(tokens(r.headers['tus-version']).includes('1.0.0'), `Tus-Version: ${r.headers['tus-version']}`);
    const ext = tokens(r.headers['tus-extension']);
    for (const e of ['creation', 'creation-with-upload', 'creation-defer-length', 'termination']) {
      assert.ok(ext.includes(e), `Tus-Extension lacks ${e}: ${r.headers['tus-extension']}`);
    }
    assert.equal(r.headers['tus-max-size'], String(64 * 1024 * 1024));
  });

  test('OPTIONS without --max-size has no Tus-Max-Size', T, async (t) => {
    const s2 = await startServer({ t });
    const r = await request(s2.url, { method: 'OPTIONS' });
    assert.equal(r.headers['tus-max-size'], undefined);
  });

  test('creation: 201 with an absolute Location, HEAD reports offset 0 and the length', T, async () => {
    const { location } = await createUpload(srv.url, { length: 11 });
    assert.ok(location.startsWith(`http://127.0.0.1:${srv.port}/files/`), location);
    const h = await head(location);
    assert.equal(h.status, 200);
    assertTusResumable(h, 'HEAD');
    assert.equal(h.headers['upload-offset'], '0');
    assert.equal(h.headers['upload-length'], '11');
    assert.match(h.headers['cache-control'] || '', /no-store/);
    assert.equal(h.body.length, 0);
  });

  test('Location uses the Host header the client sent', T, async () => {
    const r = await request(srv.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '1', Host: `127.0.0.1:${srv.port}` } });
    assert.equal(r.status, 201);
    assert.match(r.headers.location, new RegExp(`^http://127\\.0\\.0\\.1:${srv.port}/files/[0-9a-f]{32}$`));
  });

  test('upload ids are unique', T, async () => {
    const ids = new Set();
    for (let i = 0; i < 20; i++) ids.add((await createUpload(srv.url, { length: 1 })).location);
    assert.equal(ids.size, 20);
  });

  test('PATCH in pieces, HEAD after each, GET returns the exact bytes', T, async () => {
    const data = crypto.randomBytes(100_000);
    const { location } = await createUpload(srv.url, { length: data.length });
    let off = 0;
    for (const n of [1, 4095, 50_000, 45_904]) {
      const r = await patch(location, off, data.subarray(off, off + n));
      assert.equal(r.status, 204, r.text);
      assertTusResumable(r, 'PATCH');
      off += n;
      assert.equal(r.headers['upload-offset'], String(off));
      assert.equal(await offsetOf(location), off);
    }
    const g = await get(location);
    assert.equal(g.status, 200);
    assert.equal(g.headers['content-length'], String(data.length));
    assert.ok(g.body.equals(data), 'downloaded bytes differ');
    assert.equal(g.headers['x-content-type-options'], 'nosniff');
  });

  test('creation-with-upload: body in the POST', T, async () => {
    const data = Buffer.from('hello, creation-with-upload');
    const { location, res } = await createUpload(srv.url, { length: data.length + 5, body: data });
    assert.equal(res.headers['upload-offset'], String(data.length));
    assert.equal(await offsetOf(location), data.length);
    assert.equal((await patch(location, data.length, Buffer.from('!!!!!'))).status, 204);
    assert.equal((await get(location)).text, 'hello, creation-with-upload!!!!!');
  });

  test('deferred length: HEAD says Upload-Defer-Length, a final PATCH sets Upload-Length', T, async () => {
    const { location } = await createUpload(srv.url, { deferred: true });
    let h = await head(location);
    assert.equal(h.headers['upload-defer-length'], '1');
    assert.equal(h.headers['upload-length'], undefined);
    assert.equal((await patch(location, 0, Buffer.from('abcdef'))).status, 204);
    assert.equal((await get(location)).status, 409, 'unfinished deferred upload must not be downloadable');
    const fin = await patch(location, 6, Buffer.alloc(0), { 'Upload-Length': '6' });
    assert.equal(fin.status, 204, fin.text);
    assert.equal(fin.headers['upload-offset'], '6');
    h = await head(location);
    assert.equal(h.headers['upload-length'], '6');
    assert.equal(h.headers['upload-defer-length'], undefined);
    assert.equal((await get(location)).text, 'abcdef');
  });

  test('zero-length upload is complete at creation and downloadable', T, async () => {
    const { location } = await createUpload(srv.url, { length: 0 });
    const h = await head(location);
    assert.equal(h.headers['upload-offset'], '0');
    assert.equal(h.headers['upload-length'], '0');
    const g = await get(location);
    assert.equal(g.status, 200);
    assert.equal(g.body.length, 0);
  });

  test('metadata is echoed by HEAD', T, async () => {
    const md = { filename: 'wörld.txt', is_confidential: null, filetype: 'text/plain' };
    const { location } = await createUpload(srv.url, { length: 1, metadata: md });
    const h = await head(location);
    assert.deepEqual(decodeMetadata(h.headers['upload-metadata']), md);
  });

  test('termination: DELETE -> 204, then 404/410 for HEAD, PATCH, GET', T, async () => {
    const { location } = await createUpload(srv.url, { length: 4 });
    await patch(location, 0, Buffer.from('ab'));
    const d = await del(location);
    assert.equal(d.status, 204, d.text);
    assertTusResumable(d, 'DELETE');
    for (const r of [await head(location), await patch(location, 2, Buffer.from('cd')), await get(location)]) {
      assert.ok([404, 410].includes(r.status), `after DELETE got ${r.status}`);
    }
    assert.ok([404, 410].includes((await del(location)).status));
  });

  test('GET of an unfinished upload -> 409', T, async () => {
    const { location } = await createUpload(srv.url, { length: 10 });
    await patch(location, 0, Buffer.from('12345'));
    const g = await get(location);
    assert.equal(g.status, 409);
    assert.ok(g.body.length > 0);
    assert.ok(!g.text.includes('12345'), 'partial bytes must not be served');
  });

  test('X-HTTP-Method-Override: PATCH and DELETE on a POST', T, async () => {
    const { location } = await createUpload(srv.url, { length: 3 });
    const p = await request(location, {
      method: 'POST',
      headers: { ...TUS, 'X-HTTP-Method-Override': 'PATCH', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
      body: Buffer.from('xyz'),
    });
    assert.equal(p.status, 204, p.text);
    assert.equal(p.headers['upload-offset'], '3');
    assert.equal((await get(location)).text, 'xyz');
    const d = await request(location, { method: 'POST', headers: { ...TUS, 'X-HTTP-Method-Override': 'DELETE', 'Content-Length': '0' } });
    assert.equal(d.status, 204, d.text);
    assert.ok([404, 410].includes((await head(location)).status));
  });
});

describe('tus errors', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--max-size', '1000000'] });
  });
  after(() => srv?.stop());

  test('412 for an unsupported Tus-Resumable, with Tus-Version', T, async () => {
    const r = await request(srv.url, { method: 'POST', headers: { 'Tus-Resumable': '0.2.2', 'Upload-Length': '1' } });
    assertError(r, 412, { what: 'POST Tus-Resumable 0.2.2' });
    assert.ok(tokens(r.headers['tus-version']).includes('1.0.0'));
    const { location } = await createUpload(srv.url, { length: 1 });
    const h = await request(location, { method: 'HEAD', headers: { 'Tus-Resumable': '2.0.0' } });
    assert.equal(h.status, 412);
    assert.ok(h.headers['tus-version']);
  });

  test('412 when Tus-Resumable is missing on POST and PATCH; a plain HEAD is a download HEAD', T, async () => {
    assertError(await request(srv.url, { method: 'POST', headers: { 'Upload-Length': '1' } }), 412, { what: 'POST' });
    const { location } = await createUpload(srv.url, { length: 1 });
    // Without Tus-Resumable a HEAD is plain HTTP: the download's headers, here 409 (unfinished).
    const plain = await request(location, { method: 'HEAD' });
    assert.equal(plain.status, 409);
    assert.equal(plain.headers['upload-offset'], undefined);
    const p = await request(location, {
      method: 'PATCH',
      headers: { 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
      body: Buffer.from('a'),
    });
    assertError(p, 412, { what: 'PATCH' });
    assert.equal(await offsetOf(location), 0);
  });

  test('409 on offset mismatch, with the current Upload-Offset', T, async () => {
    const { location } = await createUpload(srv.url, { length: 10 });
    assert.equal((await patch(location, 0, Buffer.from('abc'))).status, 204);
    for (const wrong of [0, 5]) {
      const r = await patch(location, wrong, Buffer.from('zz'));
      assertError(r, 409, { mention: 'Upload-Offset', what: `PATCH at ${wrong}` });
      assert.equal(r.headers['upload-offset'], '3');
    }
    assert.equal(await offsetOf(location), 3);
  });

  test('415 on PATCH with a wrong Content-Type', T, async () => {
    const { location } = await createUpload(srv.url, { length: 3 });
    for (const ct of ['text/plain', 'application/octet-stream', undefined]) {
      const headers = { ...TUS, 'Upload-Offset': '0' };
      if (ct) headers['Content-Type'] = ct;
      const r = await request(location, { method: 'PATCH', headers, body: Buffer.from('abc') });
      assertError(r, 415, { what: `PATCH Content-Type ${ct}` });
    }
    assert.equal(await offsetOf(location), 0);
  });

  test('404 for unknown and malformed upload ids', T, async () => {
    const unknown = `${srv.url}${crypto.randomBytes(16).toString('hex')}`;
    const hu = await head(unknown);
    assert.equal(hu.status, 404, 'HEAD unknown'); // a HEAD response has no body to check
    assertTusResumable(hu, 'HEAD unknown');
    assertError(await patch(unknown, 0, Buffer.from('a')), 404, { what: 'PATCH unknown' });
    assertError(await del(unknown), 404, { what: 'DELETE unknown' });
    assert.equal((await get(unknown)).status, 404);
    const bad = ['../../etc/passwd', '..%2f..%2fetc%2fpasswd', 'ABCDEF0123456789ABCDEF0123456789',
      '0123456789abcdef', `${'a'.repeat(32)}/x`, `${'a'.repeat(31)}.`, '%00', 'a'.repeat(300)];
    for (const b of bad) {
      for (const method of ['GET', 'HEAD', 'PATCH', 'DELETE']) {
        const r = await rawRequest(srv.port, rawHead(`${method} /files/${b} HTTP/1.1`, [
          ['Host', `127.0.0.1:${srv.port}`], ['Tus-Resumable', '1.0.0'], ['Upload-Offset', '0'],
          ['Content-Type', 'application/offset+octet-stream'], ['Content-Length', '0'], ['Connection', 'close'],
        ]), { methods: [method] });
        assert.equal(r.responses.length, 1, `${method} /files/${b}: no response`);
        assert.equal(r.responses[0].status, 404, `${method} /files/${b} -> ${r.responses[0].status}`);
        assert.ok(!r.data.toString('latin1').includes('root:'), 'leaked /etc/passwd');
      }
    }
  });

  test('413 when Upload-Length exceeds --max-size', T, async () => {
    const r = await request(srv.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '1000001' } });
    assertError(r, 413, { what: 'POST too large' });
    const ok = await request(srv.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '1000000' } });
    assert.equal(ok.status, 201);
  });

  test('413 when a PATCH body would pass Upload-Length', T, async () => {
    const { location } = await createUpload(srv.url, { length: 10 });
    const r = await patch(location, 0, Buffer.alloc(20, 0x41));
    assertError(r, 413, { what: 'PATCH past length' });
    const off = await offsetOf(location);
    assert.ok(off <= 10, `offset ${off} beyond Upload-Length`);
    const r2 = await patch(location, off, Buffer.alloc(10 - off, 0x42));
    assert.equal(r2.status, 204);
    assert.equal((await get(location)).body.length, 10);
  });

  test('400 for malformed Upload-Length', T, async () => {
    for (const v of ['abc', '-1', '1e3', '0x10', ' ', '99999999999999999999999', '1,2']) {
      const r = await request(srv.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': v } });
      assertError(r, 400, { mention: 'Upload-Length', what: `Upload-Length ${JSON.stringify(v)}` });
    }
    const neither = await request(srv.url, { method: 'POST', headers: { ...TUS } });
    assertError(neither, 400, { what: 'POST without Upload-Length' });
  });

  test('400 for malformed Upload-Offset', T, async () => {
    const { location } = await createUpload(srv.url, { length: 5 });
    for (const v of ['x', '-1', '1.5']) {
      const r = await patch(location, 0, Buffer.from('a'), { 'Upload-Offset': v });
      assertError(r, 400, { mention: 'Upload-Offset', what: `Upload-Offset ${v}` });
    }
    const missing = await request(location, {
      method: 'PATCH', headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream' }, body: Buffer.from('a'),
    });
    assertError(missing, 400, { what: 'PATCH without Upload-Offset' });
  });

  test('400 for malformed Upload-Metadata (bad base64, duplicate key)', T, async () => {
    for (const md of ['filename !!!notbase64', `a ${b64('x')},a ${b64('y')}`, `na me ${b64('x')}`]) {
      const r = await request(srv.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '1', 'Upload-Metadata': md } });
      assertError(r, 400, { mention: 'Upload-Metadata', what: `metadata ${md}` });
    }
  });

  test('405 for unsupported methods', T, async () => {
    const { location } = await createUpload(srv.url, { length: 1 });
    for (const [method, url] of [['PUT', location], ['POST', location], ['PATCH', srv.url], ['DELETE', srv.url], ['PUT', srv.url]]) {
      const r = await request(url, { method, headers: { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body: '' });
      assert.equal(r.status, 405, `${method} ${url} -> ${r.status}`);
      assert.ok(r.body.length > 0);
    }
  });
});

describe('download headers', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.stop());

  async function finished(metadata, content = 'payload') {
    const body = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const { location } = await createUpload(srv.url, { length: body.length, metadata, body });
    return location;
  }

  test('filetype text/html is never served as text/html, and is an attachment', T, async () => {
    const loc = await finished(`filetype ${b64('text/html')},filename ${b64('x.html')}`, '<script>alert(1)</script>');
    const g = await get(loc);
    assert.equal(g.status, 200);
    assert.doesNotMatch(g.headers['content-type'] || '', /html/i);
    assert.match(g.headers['content-disposition'] || '', /^attachment/i);
    assert.equal(g.headers['x-content-type-options'], 'nosniff');
  });

  // Real bytes of each type: the server sniffs the content and serves what the bytes are.
  const samples = {
    'image/png': Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000a49444154789c6300010000050001' +
      '0d0a2db40000000049454e44ae426082', 'hex'),
    'image/jpeg': Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'),
    'audio/mpeg': Buffer.from('494433030000000000' + '00fffb9064' + '00'.repeat(32), 'hex'),
    'video/mp4': Buffer.from('000000186674797069736f6d0000000069736f6d6d703432', 'hex'),
    'text/plain': Buffer.from('just some text\n'),
    'image/svg+xml': Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    'application/javascript': Buffer.from('alert(document.cookie)\n'),
    'application/xhtml+xml': Buffer.from('<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>'),
  };
  for (const [type, inline] of [['image/png', true], ['image/jpeg', true], ['text/plain', true], ['audio/mpeg', true],
    ['video/mp4', true], ['image/svg+xml', false], ['application/javascript', false], ['application/xhtml+xml', false]]) {
    test(`filetype ${type} -> ${inline ? 'same type, inline' : 'octet-stream, attachment'}`, T, async () => {
      const g = await get(await finished({ filetype: type, filename: 'f.bin' }, samples[type]));
      assert.equal(g.status, 200);
      const ct = (g.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
      if (inline) {
        assert.equal(ct, type);
        assert.match(g.headers['content-disposition'] || '', /^inline/i);
      } else {
        assert.equal(ct, 'application/octet-stream');
        assert.match(g.headers['content-disposition'] || '', /^attachment/i);
      }
      assert.match(g.headers['content-disposition'], /f\.bin/);
      assert.equal(g.headers['x-content-type-options'], 'nosniff');
    });
  }

  test('declared image/png but the bytes are text: served as text/plain (what the bytes are)', T, async () => {
    const g = await get(await finished({ filetype: 'image/png', filename: 'f.png' }, 'not a png at all\n'));
    assert.equal(g.status, 200);
    assert.equal((g.headers['content-type'] || '').split(';')[0], 'text/plain');
    assert.equal(g.headers['x-content-type-options'], 'nosniff');
  });

  test('no filetype and unrecognisable bytes -> application/octet-stream attachment', T, async () => {
    const g = await get(await finished(undefined, Buffer.from('00ff13377a01c0de9e8d', 'hex')));
    assert.equal(g.headers['content-type'].split(';')[0].trim(), 'application/octet-stream');
    assert.match(g.headers['content-disposition'] || '', /^attachment/i);
  });

  test('filename with CR/LF and quotes cannot inject headers', T, async () => {
    const loc = await finished({ filename: 'a"b\r\nSet-Cookie: pwned=1\r\n\r\n.txt', filetype: 'text/plain' });
    const u = new URL(loc);
    const r = await rawRequest(srv.port, rawHead(`GET ${u.pathname} HTTP/1.1`, [['Host', u.host], ['Connection', 'close']]));
    assert.equal(r.responses.length, 1);
    const res = r.responses[0];
    assert.equal(res.status, 200);
    assert.equal(res.headers['set-cookie'], undefined, 'header injection through the filename');
    const cd = res.headerList.filter(([n]) => n === 'content-disposition');
    assert.equal(cd.length, 1);
    assert.doesNotMatch(cd[0][1], /[\r\n]/);
    assert.equal(res.body.toString(), 'payload');
  });
});

describe('CORS', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.stop());
  const ORIGIN = 'http://127.0.0.1:9';

  test('requests with Origin get Access-Control-Allow-Origin and exposed tus headers', T, async () => {
    const r = await request(srv.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '5', Origin: ORIGIN } });
    assert.equal(r.status, 201);
    assert.ok(['*', ORIGIN].includes(r.headers['access-control-allow-origin']), `ACAO ${r.headers['access-control-allow-origin']}`);
    const exposed = tokens(r.headers['access-control-expose-headers']);
    for (const h of ['location', 'upload-offset', 'upload-length', 'tus-resumable']) assert.ok(exposed.includes(h), `not exposed: ${h}`);
    const h = await head(r.headers.location, { Origin: ORIGIN });
    assert.ok(h.headers['access-control-allow-origin']);
    assert.ok(tokens(h.headers['access-control-expose-headers']).includes('upload-offset'));
  });

  test('preflight OPTIONS answers with allowed methods and headers', T, async () => {
    for (const url of [srv.url, `${srv.url}${'0'.repeat(32)}`]) {
      const r = await request(url, {
        method: 'OPTIONS',
        headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'PATCH', 'Access-Control-Request-Headers': 'tus-resumable,upload-offset,content-type' },
      });
      assert.ok([200, 204].includes(r.status), `preflight -> ${r.status}`);
      assert.ok(['*', ORIGIN].includes(r.headers['access-control-allow-origin']));
      const methods = tokens(r.headers['access-control-allow-methods']).map((m) => m.toUpperCase());
      for (const m of ['POST', 'HEAD', 'PATCH', 'DELETE', 'GET', 'OPTIONS']) assert.ok(methods.includes(m), `method ${m} not allowed`);
      const allowed = tokens(r.headers['access-control-allow-headers']);
      for (const h of ['Tus-Resumable', 'Upload-Length', 'Upload-Metadata', 'Upload-Offset', 'Content-Type',
        'Upload-Defer-Length', 'Upload-Concat', 'X-HTTP-Method-Override', 'Authorization', 'X-Requested-With', 'X-Request-ID']) {
        assert.ok(allowed.includes(h.toLowerCase()), `header ${h} not allowed: ${r.headers['access-control-allow-headers']}`);
      }
    }
  });
});
