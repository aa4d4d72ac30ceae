// Real-client tests with tus-js-client (Node), plus concurrent writers over raw sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tus from 'tus-js-client';
import { startServer } from './lib/server.mjs';
import { startProxy } from './lib/proxy.mjs';
import { makeRandomFile, seededBytes } from './lib/files.mjs';
import { createUpload, head, get, patch, getSha256, sha256, decodeMetadata, offsetOf } from './lib/http.mjs';
import { RawConn, head as rawHead, parseResponses } from './lib/raw.mjs';
import { MiB } from './lib/env.mjs';

/** Runs one tus-js-client upload to completion; resolves with {url, upload, retries}. */
function tusUpload(input, options) {
  return new Promise((resolve, reject) => {
    let retries = 0;
    const upload = new tus.Upload(input, {
      retryDelays: [0, 100, 200, 500, 1000],
      ...options,
      // called by tus-js-client only while retry attempts remain; same policy as its default
      // (retry unless a 4xx other than 409/423), but counts the retries
      onShouldRetry: (err, attempt) => {
        const status = err?.originalResponse ? err.originalResponse.getStatus() : 0;
        const retry = !(status >= 400 && status < 500) || status === 409 || status === 423;
        if (retry) {
          retries++;
          options.onRetry?.(err, attempt);
        }
        return retry;
      },
      onError: (err) => reject(err),
      onSuccess: () => resolve({ url: upload.url, upload, retries }),
    });
    options.onCreate?.(upload);
    upload.start();
  });
}

/** GETs `url` (rewritten to `origin` when given) and compares size and sha256. */
async function assertDownloadMatches(url, { size, sha }, origin) {
  const u = new URL(url);
  const target = origin ? `${origin}${u.pathname}` : url;
  const r = await getSha256(target);
  assert.equal(r.status, 200, `GET ${target} -> ${r.status}`);
  assert.equal(r.length, size, 'downloaded size differs');
  assert.equal(r.sha256, sha, 'downloaded sha256 differs');
}

test('50 MB file, single PATCH (chunkSize Infinity), with metadata', { timeout: 90_000 }, async (t) => {
  const srv = await startServer({ t });
  const f = makeRandomFile(50 * MiB, { t });
  const { url } = await tusUpload(fs.createReadStream(f.path), {
    endpoint: srv.url,
    metadata: { filename: 'big.bin', filetype: 'application/octet-stream' },
  });
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]{32}$/);
  const h = await head(url);
  assert.equal(h.headers['upload-offset'], String(f.size));
  assert.deepEqual(decodeMetadata(h.headers['upload-metadata']), { filename: 'big.bin', filetype: 'application/octet-stream' });
  await assertDownloadMatches(url, { size: f.size, sha: f.sha256 });
});

test('50 MB file, chunkSize 5 MB and uploadDataDuringCreation', { timeout: 90_000 }, async (t) => {
  const srv = await startServer({ t });
  const f = makeRandomFile(50 * MiB, { t });
  const offsets = [];
  const { url } = await tusUpload(fs.createReadStream(f.path), {
    endpoint: srv.url,
    chunkSize: 5 * MiB,
    uploadDataDuringCreation: true,
    onChunkComplete: (_chunk, accepted) => offsets.push(accepted),
  });
  assert.equal(offsets.length, 10, `chunks acknowledged: ${offsets}`);
  assert.equal(offsets[0], 5 * MiB, 'first chunk should be sent with the POST');
  await assertDownloadMatches(url, { size: f.size, sha: f.sha256 });
});

test('resumes after the connection is cut mid-PATCH (faultproxy --cut-random)', { timeout: 120_000 }, async (t) => {
  const srv = await startServer({ t });
  const proxy = await startProxy({ target: srv.port, cutRandom: [2_000_000, 8_000_000], seed: 7, t });
  const f = makeRandomFile(24 * MiB, { t });
  const errors = [];
  const { url, retries } = await tusUpload(fs.createReadStream(f.path), {
    endpoint: `${proxy.origin}/files/`,
    chunkSize: Infinity,
    retryDelays: Array.from({ length: 30 }, (_, i) => Math.min(i * 100, 1000)),
    onRetry: (err) => errors.push(String(err).slice(0, 200)),
  });
  t.diagnostic(`retries=${retries} cuts=${proxy.cuts()} connections=${proxy.connections()}`);
  assert.ok(proxy.cuts() >= 1, 'the proxy never cut a connection');
  assert.ok(retries >= 1, 'tus-js-client never had to retry');
  assert.ok(url.startsWith(proxy.origin), `Location should follow the Host header: ${url}`);
  await assertDownloadMatches(url, { size: f.size, sha: f.sha256 }, srv.origin);
});

test('resumes after kill -9 of the server and a restart on the same port', { timeout: 120_000 }, async (t) => {
  const srv = await startServer({ t });
  const port = srv.port;
  const f = makeRandomFile(32 * MiB, { t });
  let restarting = null;
  const { url, retries } = await tusUpload(fs.createReadStream(f.path), {
    endpoint: srv.url,
    chunkSize: 4 * MiB,
    retryDelays: [0, 250, 500, 1000, 1000, 1000, 2000, 2000, 3000, 3000],
    onProgress: (sent) => {
      if (!restarting && sent >= f.size * 0.4) {
        restarting = srv.kill('SIGKILL').then(() => srv.restart());
      }
    },
  });
  assert.ok(restarting, 'the server was never killed');
  await restarting;
  assert.equal(srv.port, port, 'restart must reuse the port');
  assert.ok(retries >= 1, 'the client never noticed the kill');
  await assertDownloadMatches(url, { size: f.size, sha: f.sha256 });
});

test('deferred length with a stream source', { timeout: 60_000 }, async (t) => {
  const srv = await startServer({ t });
  const data = seededBytes(7 * MiB + 12345, 99);
  async function* gen() {
    for (let i = 0; i < data.length; i += 300_000) yield data.subarray(i, i + 300_000);
  }
  const { url } = await tusUpload(Readable.from(gen()), {
    endpoint: srv.url,
    chunkSize: 1 * MiB,
    uploadLengthDeferred: true,
  });
  const h = await head(url);
  assert.equal(h.headers['upload-length'], String(data.length));
  assert.equal(h.headers['upload-offset'], String(data.length));
  await assertDownloadMatches(url, { size: data.length, sha: sha256(data) });
});

test('termination via upload.abort(true) then HEAD -> 404', { timeout: 60_000 }, async (t) => {
  const srv = await startServer({ t });
  const data = seededBytes(8 * MiB, 5);
  let upload;
  const aborted = new Promise((resolve, reject) => {
    upload = new tus.Upload(data, {
      endpoint: srv.url,
      chunkSize: 1 * MiB,
      retryDelays: [],
      onChunkComplete: () => {
        upload.abort(true).then(resolve, reject);
      },
      onError: reject,
      onSuccess: () => reject(new Error('upload finished instead of being aborted')),
    });
    upload.start();
  });
  await aborted;
  assert.ok(upload.url);
  const h = await head(upload.url);
  assert.ok([404, 410].includes(h.status), `HEAD after abort(true) -> ${h.status}`);
});

test('zero-length file', { timeout: 20_000 }, async (t) => {
  const srv = await startServer({ t });
  const { url } = await tusUpload(Buffer.alloc(0), { endpoint: srv.url });
  const g = await get(url);
  assert.equal(g.status, 200);
  assert.equal(g.body.length, 0);
});

test('two concurrent PATCHes on one upload: at most one wins, the other gets 409/423, never a mix', { timeout: 60_000 }, async (t) => {
  const srv = await startServer({ t });
  const L = 8 * MiB;
  const { location } = await createUpload(srv.url, { length: L });
  const p = new URL(location).pathname;
  const host = `127.0.0.1:${srv.port}`;
  const patchHead = (extra = []) => rawHead(`PATCH ${p} HTTP/1.1`, [['Host', host], ['Tus-Resumable', '1.0.0'],
    ['Upload-Offset', '0'], ['Content-Type', 'application/offset+octet-stream'], ['Content-Length', String(L)], ...extra]);
  const finalOf = (c) => parseResponses(c.data, { methods: ['PATCH'], closed: c.closed }).responses.find((r) => r.status >= 200);

  // A: slow writer of 'a'
  const a = await RawConn.connect(srv.port);
  t.after(() => a.destroy());
  await a.write(patchHead());
  const piece = Buffer.alloc(128 * 1024, 0x61);
  let sentA = 0;
  const bStart = {};
  bStart.promise = new Promise((r) => (bStart.resolve = r));
  const aDone = (async () => {
    while (sentA < L && !a.closed) {
      if (!(await a.write(piece))) break;
      sentA += piece.length;
      await sleep(8); // deliberately slow: ~8 MiB in ~0.6 s
      if (sentA === MiB) bStart.resolve();
    }
  })();

  // B: once A is well under way, a fast writer of 'b' (Expect: 100-continue lets the server refuse early)
  await Promise.race([bStart.promise, aDone]);
  const b = await RawConn.connect(srv.port);
  t.after(() => b.destroy());
  await b.write(patchHead([['Expect', '100-continue']]));
  await b.waitUntil((d, closed) => closed || parseResponses(d, { methods: ['PATCH'] }).responses.length >= 1, 10_000, 'B first response');
  const first = parseResponses(b.data, { methods: ['PATCH'], closed: b.closed }).responses[0];
  if (first && first.status === 100) await b.write(Buffer.alloc(L, 0x62));
  await aDone;
  await a.waitUntil((d, closed) => closed || finalOf(a), 15_000, 'A final response');
  await b.waitUntil((d, closed) => closed || finalOf(b), 15_000, 'B final response');
  const ra = finalOf(a);
  const rb = finalOf(b);
  const summary = `A: ${ra?.status} ${ra?.headers['upload-offset']} (${ra?.body}); B: ${rb?.status} ${rb?.headers['upload-offset']} (${rb?.body})`;
  t.diagnostic(summary);
  for (const [name, r] of [['A', ra], ['B', rb]]) {
    assert.ok(r, `${name} got no final response: ${summary}`);
    assert.ok([204, 409, 423].includes(r.status), `${name}: unexpected status: ${summary}`);
  }
  const winners = [ra, rb].filter((r) => r.status === 204);
  assert.ok(winners.length <= 1, `both PATCHes at offset 0 succeeded: ${summary}`);
  if (winners.length === 1) assert.equal(winners[0].headers['upload-offset'], String(L), summary);
  const off = await offsetOf(location);
  if (winners.length === 0) {
    // nobody finished: whatever was stored must be one writer's prefix; complete with 'c'
    assert.ok(off < L, summary);
    const r = await patch(location, off, Buffer.alloc(L - off, 0x63));
    assert.equal(r.status, 204, r.text);
  } else {
    assert.equal(off, L);
  }
  const g = await get(location);
  assert.equal(g.status, 200);
  assert.equal(g.body.length, L);
  const stored = g.body.subarray(0, off);
  if (stored.length > 0) {
    const letter = stored[0];
    assert.ok(letter === 0x61 || letter === 0x62, `unexpected byte ${letter}`);
    assert.equal(stored.indexOf(letter === 0x61 ? 0x62 : 0x61), -1, `stored bytes are a mix of both PATCHes: ${summary}`);
    if (winners.length === 1) assert.equal(letter, winners[0] === ra ? 0x61 : 0x62, 'the bytes are not those of the winning PATCH');
  }
  assert.equal(g.body.subarray(off).indexOf(0x61), -1);
  assert.equal(g.body.subarray(off).indexOf(0x62), -1);
});
