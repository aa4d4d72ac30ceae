// IETF "Resumable Uploads for HTTP" (draft-ietf-httpbis-resumable-upload), interop versions 3
// to 8: tus-js-client's ietf-draft-03/-05 modes, and raw-socket checks of what each version puts
// on the wire (104 before the final response, completion flags, Upload-Limit, digests, 409s).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as tus from 'tus-js-client';
import { checkedServers } from './lib/checked.mjs';
import { request, createUpload, head, patch, get, offsetOf, sha256 } from './lib/http.mjs';
import { RawConn, parseResponses, head as rawHead } from './lib/raw.mjs';
import { seededBytes } from './lib/files.mjs';
import { MiB } from './lib/env.mjs';

// Every server this file starts is checked for sanitizer reports when the file is done.
const startServer = checkedServers();

const SANITIZED = process.env.FERRY_TEST_SANITIZED === '1';
const T = { timeout: 30_000 };
const MAX = 64 * MiB;
const PARTIAL = 'application/partial-upload';

const idOf = (location) => new URL(location).pathname.split('/').pop();

/**
 * Sends one request on a fresh connection and waits for its final (>= 200) response.
 * Returns {interim: [1xx responses], res: final response, raw: Buffer}.
 */
async function exchange(port, method, target, headers = [], body, { expectContinue = false } = {}) {
  const c = await RawConn.connect(port);
  try {
    const h = [['Host', `127.0.0.1:${port}`], ...headers];
    if (body !== undefined && !h.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n))) h.push(['Content-Length', String(body.length)]);
    if (expectContinue) h.push(['Expect', '100-continue']);
    await c.write(rawHead(`${method} ${target} HTTP/1.1`, h));
    const finalOf = (d, closed) => parseResponses(d, { methods: [method], closed }).responses.find((r) => r.status >= 200);
    if (expectContinue) {
      await c.waitUntil((d, closed) => /^HTTP\/1\.1 100 /m.test(d.toString('latin1')) || finalOf(d, closed), 10_000, '100 Continue');
      if (finalOf(c.data, c.closed)) throw new Error(`final response before 100 Continue:\n${c.data.toString('latin1')}`);
    }
    if (body !== undefined && body.length > 0) await c.write(body);
    await c.waitUntil((d, closed) => finalOf(d, closed), 10_000, `final response to ${method} ${target}`);
    const all = parseResponses(c.data, { methods: [method], closed: c.closed }).responses;
    return { interim: all.filter((r) => r.status < 200), res: all.find((r) => r.status >= 200), raw: c.data };
  } finally {
    c.destroy();
  }
}

const v = (n) => ['Upload-Draft-Interop-Version', String(n)];

/** Parses an Upload-Limit dictionary into {key: number}. */
function limits(value) {
  assert.ok(value, 'Upload-Limit missing');
  const out = {};
  for (const item of value.split(',')) {
    const m = item.trim().match(/^([a-z][a-z0-9_.*-]*)=(\d+)$/);
    assert.ok(m, `bad Upload-Limit member ${JSON.stringify(item)} in ${value}`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

const contentDigest = (buf, algo = 'sha256') =>
  `${algo === 'sha256' ? 'sha-256' : 'sha-512'}=:${crypto.createHash(algo).update(buf).digest('base64')}:`;

// --- tus-js-client ---

describe('tus-js-client IETF protocol modes', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--max-size', String(MAX)] });
  });
  after(() => srv?.stop());

  const size = (SANITIZED ? 1 : 3) * MiB + 123;
  const variants = [
    {},
    { chunkSize: 256 * 1024 },
    { uploadDataDuringCreation: true },
    { chunkSize: 256 * 1024, uploadDataDuringCreation: true },
  ];
  for (const [protocol, interop] of [['ietf-draft-03', '5'], ['ietf-draft-05', '6']]) {
    for (const opts of variants) {
      test(`${protocol} ${JSON.stringify(opts)} -> success, identical download`, { timeout: 60_000 }, async () => {
        const data = seededBytes(size, size + Object.keys(opts).length);
        const seen = [];
        const url = await new Promise((resolve, reject) => {
          const up = new tus.Upload(data, {
            endpoint: srv.url,
            protocol,
            retryDelays: null,
            ...opts,
            onAfterResponse: (req, res) => {
              seen.push({ method: req.getMethod(), interop: req.getHeader('Upload-Draft-Interop-Version'), status: res.getStatus() });
            },
            onError: reject,
            onSuccess: () => resolve(up.url),
          });
          up.start();
        });
        // uploadDataDuringCreation without chunkSize: one POST carries everything
        assert.ok(seen.length >= (opts.uploadDataDuringCreation && !opts.chunkSize ? 1 : 2), JSON.stringify(seen));
        assert.equal(seen[0].method, 'POST');
        for (const s of seen) assert.equal(s.interop, interop, `request without the interop header: ${JSON.stringify(s)}`);
        if (opts.chunkSize) assert.ok(seen.length >= Math.ceil(size / opts.chunkSize), `too few requests: ${JSON.stringify(seen)}`);
        const g = await get(url);
        assert.equal(g.status, 200);
        assert.equal(g.body.length, size);
        assert.equal(sha256(g.body), sha256(data));
      });
    }
  }
});

// --- raw protocol checks ---

describe('IETF draft on the wire', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--max-size', String(MAX), '--expire', '3600'] });
  });
  after(() => srv?.stop());

  test('interop 6: 104 with Location arrives before the 201; HEAD; 415; completing PATCH', T, async () => {
    const first = seededBytes(5000, 61);
    const { interim, res, raw } = await exchange(srv.port, 'POST', '/files/', [v(6), ['Upload-Complete', '?0']], first);
    const text = raw.toString('latin1');
    const i104 = text.indexOf('HTTP/1.1 104');
    const i201 = text.indexOf('HTTP/1.1 201');
    assert.ok(i104 === 0 && i201 > i104, `104 must come first:\n${text.slice(0, 800)}`);
    assert.equal(interim.length, 1);
    const info = interim[0];
    assert.equal(info.status, 104);
    assert.equal(info.headers['upload-draft-interop-version'], '6');
    assert.match(info.headers.location || '', new RegExp(`^http://127\\.0\\.0\\.1:${srv.port}/files/[0-9a-f]{32}$`));
    assert.equal(limits(info.headers['upload-limit'])['max-size'], MAX);
    assert.equal(res.status, 201);
    assert.equal(res.headers.location, info.headers.location, 'every Location of one request must be the same');
    assert.equal(res.headers['upload-offset'], String(first.length));
    assert.equal(res.headers['upload-complete'], '?0');
    assert.equal(limits(res.headers['upload-limit'])['min-size'], 0);
    const id = idOf(res.headers.location);

    const h = await exchange(srv.port, 'HEAD', `/files/${id}`, [v(6)]);
    assert.equal(h.res.status, 204);
    assert.equal(h.res.headers['upload-offset'], String(first.length));
    assert.equal(h.res.headers['upload-complete'], '?0');
    assert.match(h.res.headers['cache-control'] || '', /no-store/);
    const lim = limits(h.res.headers['upload-limit']);
    assert.equal(lim['max-size'], MAX);
    assert.equal(lim.expires, 3600, 'interop 6 calls the lifetime limit "expires"');
    assert.equal(h.interim.length, 0);

    const rest = seededBytes(3000, 62);
    for (const ct of [undefined, 'application/offset+octet-stream']) {
      const hdrs = [v(6), ['Upload-Offset', String(first.length)], ['Upload-Complete', '?1']];
      if (ct) hdrs.push(['Content-Type', ct]);
      const bad = await exchange(srv.port, 'PATCH', `/files/${id}`, hdrs, rest);
      assert.equal(bad.res.status, 415, `Content-Type ${ct}: ${bad.res.body}`);
      assert.equal(await offsetOf(res.headers.location), first.length);
    }
    const p = await exchange(srv.port, 'PATCH', `/files/${id}`,
      [v(6), ['Content-Type', PARTIAL], ['Upload-Offset', String(first.length)], ['Upload-Complete', '?1']], rest);
    assert.ok(p.res.status >= 200 && p.res.status < 300, `PATCH -> ${p.res.status} ${p.res.body}`);
    assert.equal(p.res.headers['upload-complete'], '?1');
    assert.equal(p.res.headers['upload-offset'], String(first.length + rest.length));
    const h2 = await exchange(srv.port, 'HEAD', `/files/${id}`, [v(6)]);
    assert.equal(h2.res.headers['upload-complete'], '?1');
    assert.equal(h2.res.headers['upload-length'], String(first.length + rest.length));
    assert.ok((await get(res.headers.location)).body.equals(Buffer.concat([first, rest])));
  });

  for (const interop of [3, 4, 5, 6, 7, 8]) {
    test(`interop ${interop}: create with part of the body, HEAD, complete with an append`, T, async () => {
      const data = seededBytes(6000, 60 + interop);
      const flag = (complete) => (interop === 3 ? ['Upload-Incomplete', complete ? '?0' : '?1'] : ['Upload-Complete', complete ? '?1' : '?0']);
      const flagName = interop === 3 ? 'upload-incomplete' : 'upload-complete';
      const flagValue = (complete) => (interop === 3 ? (complete ? '?0' : '?1') : complete ? '?1' : '?0');
      const c = await exchange(srv.port, 'POST', '/files/', [v(interop), flag(false)], data.subarray(0, 2500));
      assert.deepEqual(c.interim.map((r) => [r.status, r.headers['upload-draft-interop-version']]), [[104, String(interop)]]);
      assert.equal(c.res.status, 201, c.res.body.toString());
      assert.equal(c.res.headers['upload-offset'], '2500');
      assert.equal(c.res.headers[flagName], flagValue(false));
      const id = idOf(c.res.headers.location);
      const h = await exchange(srv.port, 'HEAD', `/files/${id}`, [v(interop)]);
      assert.ok([200, 204].includes(h.res.status), `HEAD -> ${h.res.status}`);
      assert.equal(h.res.headers['upload-offset'], '2500');
      assert.equal(h.res.headers[flagName], flagValue(false));
      const lim = h.res.headers['upload-limit'];
      if (interop >= 6) {
        assert.equal(limits(lim)[interop === 6 ? 'expires' : 'max-age'], 3600, `Upload-Limit: ${lim}`);
        assert.equal(limits(lim)[interop === 6 ? 'max-age' : 'expires'], undefined, `Upload-Limit: ${lim}`);
      }
      const hdrs = [v(interop), ['Upload-Offset', '2500'], flag(true)];
      if (interop >= 6) hdrs.push(['Content-Type', PARTIAL]);
      const p = await exchange(srv.port, 'PATCH', `/files/${id}`, hdrs, data.subarray(2500));
      assert.ok(p.res.status >= 200 && p.res.status < 300, `PATCH -> ${p.res.status} ${p.res.body}`);
      assert.equal(p.res.headers['upload-offset'], String(data.length), 'tus-js-client needs Upload-Offset on every append response');
      assert.equal(p.res.headers[flagName], flagValue(true));
      assert.ok((await get(c.res.headers.location)).body.equals(data));
    });
  }

  test('a chunked creation with Upload-Complete: ?1 takes its length from the body', T, async () => {
    const data = seededBytes(7000, 66);
    const body = Buffer.concat([
      Buffer.from(`${(4000).toString(16)}\r\n`), data.subarray(0, 4000), Buffer.from('\r\n'),
      Buffer.from(`${(3000).toString(16)}\r\n`), data.subarray(4000), Buffer.from('\r\n0\r\n\r\n'),
    ]);
    const c = await exchange(srv.port, 'POST', '/files/', [v(8), ['Upload-Complete', '?1'], ['Transfer-Encoding', 'chunked']], body);
    assert.ok(c.res.status >= 200 && c.res.status < 300, `${c.res.status} ${c.res.body}`);
    assert.equal(c.res.headers['upload-complete'], '?1');
    const h = await exchange(srv.port, 'HEAD', `/files/${idOf(c.res.headers.location)}`, [v(8)]);
    assert.equal(h.res.headers['upload-length'], String(data.length));
    assert.ok((await get(c.res.headers.location)).body.equals(data));
  });

  test('Expect: 100-continue is still answered after the 104', T, async () => {
    const body = seededBytes(20_000, 63);
    const { interim, res, raw } = await exchange(srv.port, 'POST', '/files/', [v(8), ['Upload-Complete', '?1']], body, { expectContinue: true });
    const statuses = interim.map((r) => r.status);
    assert.ok(statuses.includes(100), `no 100 Continue: ${statuses}`);
    assert.ok(statuses.includes(104), `no 104: ${statuses}\n${raw.toString('latin1').slice(0, 600)}`);
    assert.ok(res.status >= 200 && res.status < 300, `${res.status} ${res.body}`);
    assert.equal(res.headers['upload-complete'], '?1');
    assert.ok((await get(res.headers.location)).body.equals(body));
  });

  test('tus requests never get a 104, even when they also name an interop version', T, async () => {
    for (const extra of [[], [v(6)]]) {
      const { interim, res } = await exchange(srv.port, 'POST', '/files/',
        [['Tus-Resumable', '1.0.0'], ['Upload-Length', '3'], ['Content-Type', 'application/offset+octet-stream'], ...extra], Buffer.from('abc'));
      assert.deepEqual(interim.map((r) => r.status), []);
      assert.equal(res.status, 201);
      assert.equal(res.headers['tus-resumable'], '1.0.0');
      assert.equal(res.headers['upload-offset'], '3');
    }
  });

  test('interop 3: Upload-Incomplete ?1 creates, ?0 completes', T, async () => {
    const a = Buffer.from('abc');
    const c = await exchange(srv.port, 'POST', '/files/', [v(3), ['Upload-Incomplete', '?1']], a);
    assert.deepEqual(c.interim.map((r) => [r.status, r.headers['upload-draft-interop-version']]), [[104, '3']]);
    assert.equal(c.res.status, 201, c.res.body.toString());
    assert.equal(c.res.headers['upload-incomplete'], '?1');
    assert.equal(c.res.headers['upload-complete'], undefined, 'interop 3 has no Upload-Complete');
    assert.equal(c.res.headers['upload-offset'], '3');
    const id = idOf(c.res.headers.location);
    const h = await exchange(srv.port, 'HEAD', `/files/${id}`, [v(3)]);
    assert.equal(h.res.status, 204);
    assert.equal(h.res.headers['upload-incomplete'], '?1');
    assert.equal(h.res.headers['upload-offset'], '3');
    // at interop 3 a PATCH needs no particular Content-Type
    const p = await exchange(srv.port, 'PATCH', `/files/${id}`, [v(3), ['Upload-Offset', '3'], ['Upload-Incomplete', '?0']], Buffer.from('defg'));
    assert.ok(p.res.status >= 200 && p.res.status < 300, `${p.res.status} ${p.res.body}`);
    assert.equal(p.res.headers['upload-incomplete'], '?0');
    assert.equal(p.res.headers['upload-offset'], '7');
    const h2 = await exchange(srv.port, 'HEAD', `/files/${id}`, [v(3)]);
    assert.equal(h2.res.headers['upload-incomplete'], '?0');
    assert.equal((await get(c.res.headers.location)).text, 'abcdefg');
    // Upload-Complete means nothing at interop 3
    const bad = await exchange(srv.port, 'POST', '/files/', [v(3), ['Upload-Complete', '?0']], Buffer.alloc(0));
    assert.equal(bad.res.status, 400);
    assert.deepEqual(bad.interim, []);
  });

  test('interop 8: OPTIONS advertises Accept-Patch and Upload-Limit', T, async () => {
    const r = await request(srv.url, { method: 'OPTIONS', headers: { 'Upload-Draft-Interop-Version': '8' } });
    assert.ok([200, 204].includes(r.status));
    assert.ok((r.headers['accept-patch'] || '').split(',').map((s) => s.trim()).includes(PARTIAL), `Accept-Patch: ${r.headers['accept-patch']}`);
    const lim = limits(r.headers['upload-limit']);
    assert.equal(lim['min-size'], 0);
    assert.equal(lim['max-size'], MAX);
    assert.equal(lim['max-age'], 3600);
  });

  test('interop 8: creation, HEAD, appends with Content-Digest, 409 with the right offset, completion', T, async () => {
    const data = seededBytes(10_000, 64);
    const c = await exchange(srv.port, 'POST', '/files/', [v(8), ['Upload-Complete', '?0'], ['Upload-Length', String(data.length)]], Buffer.alloc(0));
    assert.deepEqual(c.interim.map((r) => r.status), [104]);
    assert.equal(c.res.status, 201);
    assert.ok(c.res.headers.location);
    assert.equal(c.res.headers.location, c.interim[0].headers.location);
    assert.ok(c.res.headers['upload-limit']);
    const loc = c.res.headers.location;
    const id = idOf(loc);
    const H = async () => (await exchange(srv.port, 'HEAD', `/files/${id}`, [v(8)])).res;

    let h = await H();
    assert.ok([200, 204].includes(h.status));
    assert.equal(h.headers['upload-offset'], '0');
    assert.equal(h.headers['upload-complete'], '?0');
    assert.equal(h.headers['upload-length'], String(data.length));
    assert.match(h.headers['cache-control'] || '', /no-store/);
    assert.equal(limits(h.headers['upload-limit'])['max-age'], 3600);

    const append = (off, bytes, complete, extra = []) =>
      exchange(srv.port, 'PATCH', `/files/${id}`, [v(8), ['Content-Type', PARTIAL], ['Upload-Offset', String(off)], ['Upload-Complete', complete ? '?1' : '?0'], ...extra], bytes);

    let p = await append(0, data.subarray(0, 4000), false, [['Content-Digest', contentDigest(data.subarray(0, 4000))]]);
    assert.ok(p.res.status >= 200 && p.res.status < 300, `${p.res.status} ${p.res.body}`);
    assert.equal(p.res.headers['upload-complete'], '?0');
    assert.equal((await H()).headers['upload-offset'], '4000');

    // a mismatching digest: not appended
    const wrong = Buffer.from(data.subarray(4000, 7000));
    wrong[0] ^= 0xff;
    p = await append(4000, wrong, false, [['Content-Digest', contentDigest(data.subarray(4000, 7000))]]);
    assert.ok(p.res.status >= 400 && p.res.status < 500, `mismatching Content-Digest -> ${p.res.status}`);
    assert.equal((await H()).headers['upload-offset'], '4000');
    // malformed digest: rejected
    p = await append(4000, data.subarray(4000, 7000), false, [['Content-Digest', 'sha-256=:abc:']]);
    assert.equal(p.res.status, 400);
    assert.equal((await H()).headers['upload-offset'], '4000');
    // sha-512 works too
    p = await append(4000, data.subarray(4000, 7000), false, [['Content-Digest', contentDigest(data.subarray(4000, 7000), 'sha512')]]);
    assert.ok(p.res.status >= 200 && p.res.status < 300, `${p.res.status} ${p.res.body}`);

    // wrong offset: 409 carrying the correct one
    p = await append(4000, data.subarray(7000), true);
    assert.equal(p.res.status, 409);
    assert.equal(p.res.headers['upload-offset'], '7000');
    assert.equal((await H()).headers['upload-offset'], '7000');

    p = await append(7000, data.subarray(7000), true);
    assert.ok(p.res.status >= 200 && p.res.status < 300, `${p.res.status} ${p.res.body}`);
    assert.equal(p.res.headers['upload-complete'], '?1');
    h = await H();
    assert.equal(h.headers['upload-complete'], '?1');
    assert.equal(h.headers['upload-offset'], String(data.length));
    assert.ok((await get(loc)).body.equals(data));

    // appending to a completed upload is refused and changes nothing
    p = await append(data.length, Buffer.from('x'), true);
    assert.equal(p.res.status, 400);
    p = await append(data.length, Buffer.alloc(0), true);
    assert.ok([404, 410].includes(p.res.status), `empty append to a completed upload -> ${p.res.status}`);
    assert.ok((await get(loc)).body.equals(data));
  });

  test('interop 8: inconsistent lengths are refused', T, async () => {
    const r = await exchange(srv.port, 'POST', '/files/', [v(8), ['Upload-Complete', '?1'], ['Upload-Length', '10']], Buffer.from('short'));
    assert.equal(r.res.status, 400);
    const c = await exchange(srv.port, 'POST', '/files/', [v(8), ['Upload-Complete', '?0'], ['Upload-Length', '10']], Buffer.from('12345'));
    assert.equal(c.res.status, 201);
    const id = idOf(c.res.headers.location);
    const p = await exchange(srv.port, 'PATCH', `/files/${id}`, [v(8), ['Content-Type', PARTIAL], ['Upload-Offset', '5'], ['Upload-Complete', '?1']], Buffer.from('678'));
    assert.equal(p.res.status, 400, 'a completing append that ends before Upload-Length');
    assert.equal(await offsetOf(c.res.headers.location), 5);
    const big = await exchange(srv.port, 'POST', '/files/', [v(8), ['Upload-Complete', '?0'], ['Upload-Length', String(MAX + 1)]], Buffer.alloc(0));
    assert.equal(big.res.status, 413);
  });

  test('interop 8: DELETE cancels the upload', T, async () => {
    const c = await exchange(srv.port, 'POST', '/files/', [v(8), ['Upload-Complete', '?0']], Buffer.from('abc'));
    const id = idOf(c.res.headers.location);
    const d = await exchange(srv.port, 'DELETE', `/files/${id}`, [v(8)]);
    assert.ok(d.res.status >= 200 && d.res.status < 300, `DELETE -> ${d.res.status}`);
    const h = await exchange(srv.port, 'HEAD', `/files/${id}`, [v(8)]);
    assert.equal(h.res.status, 404);
  });

  test('unsupported interop versions -> 400', T, async () => {
    const c = await exchange(srv.port, 'POST', '/files/', [v(8), ['Upload-Complete', '?0']], Buffer.from('abc'));
    const id = idOf(c.res.headers.location);
    for (const bad of ['99', '2', '9', 'abc', '-1']) {
      const r = await exchange(srv.port, 'POST', '/files/', [['Upload-Draft-Interop-Version', bad], ['Upload-Complete', '?0']], Buffer.alloc(0));
      assert.equal(r.res.status, 400, `interop ${bad}`);
      assert.deepEqual(r.interim, [], `interop ${bad}: a 104 for a version the server does not speak`);
      const h = await exchange(srv.port, 'HEAD', `/files/${id}`, [['Upload-Draft-Interop-Version', bad]]);
      assert.equal(h.res.status, 400, `HEAD interop ${bad}`);
    }
  });

  test('an upload created with tus is resumed with the IETF protocol, and vice versa', T, async () => {
    const data = seededBytes(9000, 65);
    const { location } = await createUpload(srv.url, { length: data.length });
    const id = idOf(location);
    assert.equal((await patch(location, 0, data.subarray(0, 3000))).status, 204);
    const h = await exchange(srv.port, 'HEAD', `/files/${id}`, [v(6)]);
    assert.equal(h.res.status, 204);
    assert.equal(h.res.headers['upload-offset'], '3000');
    assert.equal(h.res.headers['upload-complete'], '?0');
    assert.equal(h.res.headers['upload-length'], String(data.length));
    const p = await exchange(srv.port, 'PATCH', `/files/${id}`, [v(6), ['Content-Type', PARTIAL], ['Upload-Offset', '3000'], ['Upload-Complete', '?1']], data.subarray(3000));
    assert.ok(p.res.status >= 200 && p.res.status < 300, `${p.res.status} ${p.res.body}`);
    const th = await head(location);
    assert.equal(th.headers['upload-offset'], String(data.length));
    assert.ok((await get(location)).body.equals(data));

    // IETF creation (interop 5, known length), resumed with tus
    const c = await exchange(srv.port, 'POST', '/files/', [v(5), ['Upload-Complete', '?0'], ['Upload-Length', String(data.length)]], data.subarray(0, 5000));
    assert.equal(c.res.status, 201);
    const loc2 = c.res.headers.location;
    const t2 = await head(loc2);
    assert.equal(t2.status, 200);
    assert.equal(t2.headers['upload-offset'], '5000');
    assert.equal(t2.headers['upload-length'], String(data.length));
    const tp = await patch(loc2, 5000, data.subarray(5000));
    assert.equal(tp.status, 204, tp.text);
    const ih = await exchange(srv.port, 'HEAD', `/files/${idOf(loc2)}`, [v(5)]);
    assert.equal(ih.res.headers['upload-complete'], '?1');
    assert.ok((await get(loc2)).body.equals(data));
  });
});
