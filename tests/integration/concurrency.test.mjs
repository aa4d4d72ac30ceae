// Lock release and concurrent clients: a newer request takes an upload over from a stalled
// (half-open) PATCH, and racing writers never corrupt the stored bytes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { checkedServers } from './lib/checked.mjs';
import { startProxy } from './lib/proxy.mjs';
import { TUS, request, createUpload, head, patch, del, get, offsetOf, sha256 } from './lib/http.mjs';
import { RawConn, head as rawHead } from './lib/raw.mjs';
import { seededBytes } from './lib/files.mjs';
import { withTimeout } from './lib/procs.mjs';
import { MiB } from './lib/env.mjs';

// Every server this file starts is checked for sanitizer reports when the file is done.
const startServer = checkedServers();

const SANITIZED = process.env.FERRY_TEST_SANITIZED === '1';
const TAKEOVER_MS = SANITIZED ? 2000 : 1000;

const idOf = (location) => new URL(location).pathname.split('/').pop();

/** Resolves once `file` is at least `min` bytes long (inotify, no polling loop). */
function waitForFileSize(file, min, timeout = 10_000) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const size = () => fs.statSync(file).size;
      if (size() >= min) return resolve(size());
      const w = fs.watch(file, () => {
        const s = size();
        if (s >= min) {
          w.close();
          resolve(s);
        }
      });
      w.on('error', reject);
      if (size() >= min) {
        w.close();
        resolve(size());
      }
    }),
    timeout,
    `${file} reaching ${min} bytes`,
  );
}

function patchHead(port, id, offset, length) {
  return rawHead(`PATCH /files/${id} HTTP/1.1`, [
    ['Host', `127.0.0.1:${port}`], ['Tus-Resumable', '1.0.0'], ['Upload-Offset', String(offset)],
    ['Content-Type', 'application/offset+octet-stream'], ['Content-Length', String(length)],
  ]);
}

test('resume while the first PATCH is half-open behind a stalled proxy (faultproxy --stall-after)', { timeout: 30_000 }, async (t) => {
  const srv = await startServer({ t });
  const data = seededBytes(MiB, 81);
  const { location } = await createUpload(srv.url, { length: data.length });
  const id = idOf(location);
  const STALL = 300_000;
  const proxy = await startProxy({ target: srv.port, stallAfter: STALL, t });
  const stale = await RawConn.connect(proxy.port);
  t.after(() => stale.destroy());
  const h = patchHead(srv.port, id, 0, data.length);
  await stale.write(Buffer.concat([Buffer.from(h, 'latin1'), data]));
  const forwarded = STALL - Buffer.byteLength(h, 'latin1');
  // every byte the proxy let through reaches the file; then the client looks dead but is not gone
  await waitForFileSize(path.join(srv.dataDir, id), forwarded);

  const start = Date.now();
  const r = await head(location);
  const took = Date.now() - start;
  assert.equal(r.status, 200);
  assert.ok(took < TAKEOVER_MS, `HEAD waited ${took} ms for the stalled PATCH`);
  assert.equal(r.headers['upload-offset'], String(forwarded), 'HEAD must report every received (and synced) byte');
  const p = await patch(location, forwarded, data.subarray(forwarded));
  assert.equal(p.status, 204, p.text);
  assert.equal(p.headers['upload-offset'], String(data.length));
  const g = await get(location);
  assert.equal(g.status, 200);
  assert.equal(sha256(g.body), sha256(data));
  assert.equal(stale.closed, false, 'the stalled client connection is still open (half-open case)');
  stale.destroy();
  await proxy.stop(); // lets the server see the zombie connection go before it is stopped
});

test('a raw client that stops sending mid-PATCH is taken over; its late bytes are not written', { timeout: 30_000 }, async (t) => {
  const srv = await startServer({ t });
  const data = seededBytes(MiB, 82);
  const { location } = await createUpload(srv.url, { length: data.length });
  const id = idOf(location);
  const stale = await RawConn.connect(srv.port);
  t.after(() => stale.destroy());
  await stale.write(patchHead(srv.port, id, 0, data.length));
  await stale.write(data.subarray(0, 200_000));
  await waitForFileSize(path.join(srv.dataDir, id), 200_000);

  const start = Date.now();
  const x = await offsetOf(location);
  const took = Date.now() - start;
  assert.ok(took < TAKEOVER_MS, `HEAD waited ${took} ms`);
  assert.equal(x, 200_000);
  // the stopped request is ended with an answer saying so
  const [old] = await stale.waitForResponses(1, { timeout: 5000 });
  assert.equal(old.status, 409, old.body.toString());
  assert.equal(old.headers['upload-offset'], '200000');
  // late bytes of the zombie request must not land anywhere
  await stale.write(Buffer.alloc(100_000, 0xee));
  const p = await patch(location, x, data.subarray(x));
  assert.equal(p.status, 204, p.text);
  assert.equal(sha256((await get(location)).body), sha256(data));
  assert.equal(await offsetOf(location), data.length);
});

test('DELETE while a PATCH is stalled answers promptly and removes the upload', { timeout: 30_000 }, async (t) => {
  const srv = await startServer({ t });
  const data = seededBytes(300_000, 83);
  const { location } = await createUpload(srv.url, { length: data.length });
  const id = idOf(location);
  const stale = await RawConn.connect(srv.port);
  t.after(() => stale.destroy());
  await stale.write(patchHead(srv.port, id, 0, data.length));
  await stale.write(data.subarray(0, 50_000));
  await waitForFileSize(path.join(srv.dataDir, id), 50_000);
  const start = Date.now();
  const d = await del(location);
  assert.equal(d.status, 204, d.text);
  assert.ok(Date.now() - start < TAKEOVER_MS, 'DELETE waited for the stalled PATCH');
  assert.equal((await head(location)).status, 404);
  await stale.write(data.subarray(50_000));
  assert.equal((await head(location)).status, 404);
  assert.deepEqual(fs.readdirSync(srv.dataDir).filter((n) => n.startsWith(id)), []);
});

/** request() that retries once when a keep-alive socket was closed under it. */
async function req(url, opts) {
  try {
    return await request(url, opts);
  } catch (e) {
    if (!/ECONNRESET|EPIPE|socket hang up/.test(String(e?.code || e?.message))) throw e;
    return { status: 0, error: e, headers: {}, text: String(e) };
  }
}

test('two clients racing on one upload never corrupt it; HEAD/GET stay consistent', { timeout: 120_000 }, async (t) => {
  const srv = await startServer({ t });
  const rounds = SANITIZED ? 60 : 200;
  const source = seededBytes(rounds * 4096, 84);
  const { location } = await createUpload(srv.url, { length: source.length });
  const stats = { 204: 0, 409: 0, 423: 0, reset: 0 };

  async function writer(chunk) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; ; i++) {
        assert.ok(i < rounds * 30, `no progress after ${i} rounds (chunk ${chunk})`);
        const h = await req(location, { method: 'HEAD', headers: TUS, agent });
        if (h.status === 0) {
          stats.reset++;
          continue;
        }
        assert.equal(h.status, 200, `HEAD -> ${h.status}`);
        const o = Number(h.headers['upload-offset']);
        if (o === source.length) return;
        const body = source.subarray(o, o + chunk);
        const r = await req(location, {
          method: 'PATCH',
          agent,
          body,
          headers: { ...TUS, 'Upload-Offset': String(o), 'Content-Type': 'application/offset+octet-stream', 'Content-Length': String(body.length) },
        });
        if (r.status === 204) {
          stats[204]++;
          assert.equal(r.headers['upload-offset'], String(o + body.length), 'a 204 must acknowledge the whole chunk');
        } else if (r.status === 409 || r.status === 423) {
          stats[r.status]++;
          const ro = Number(r.headers['upload-offset']);
          assert.ok(ro >= o && ro <= source.length, `409/423 with Upload-Offset ${r.headers["upload-offset"]} (sent at ${o})`);
        } else if (r.status === 0) {
          stats.reset++;
        } else {
          assert.fail(`PATCH at ${o} -> ${r.status} ${r.text}`);
        }
      }
    } finally {
      agent.destroy();
    }
  }

  async function observer() {
    let last = 0;
    let checks = 0;
    for (;;) {
      const h = await req(location, { method: 'HEAD', headers: TUS });
      if (h.status === 0) continue;
      assert.equal(h.status, 200);
      const o = Number(h.headers['upload-offset']);
      assert.ok(o >= last, `offset went backwards: ${last} -> ${o}`);
      assert.ok(o <= source.length);
      last = o;
      checks++;
      const g = await get(location);
      if (o === source.length) {
        assert.equal(g.status, 200);
        return checks;
      }
      // not finished when HEAD looked; it may finish in between, but then the bytes are whole
      if (g.status === 200) assert.equal(sha256(g.body), sha256(source));
      else assert.equal(g.status, 409);
    }
  }

  const [, , checks] = await Promise.all([writer(4096), writer(4000), observer()]);
  t.diagnostic(`204=${stats[204]} 409=${stats[409]} 423=${stats[423]} resets=${stats.reset} observer checks=${checks}`);
  assert.ok(stats[204] > 0);
  const g = await get(location);
  assert.equal(g.status, 200);
  assert.equal(g.body.length, source.length);
  assert.ok(g.body.equals(source), 'stored bytes differ from the source');
});
