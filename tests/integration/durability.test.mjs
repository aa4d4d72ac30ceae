// Crash safety, shutdown, timeouts and disk-full behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from './lib/server.mjs';
import { createUpload, head, patch, getSha256, sha256, offsetOf, request, TUS } from './lib/http.mjs';
import { RawConn, head as rawHead, parseResponses } from './lib/raw.mjs';
import { seededBytes, prng } from './lib/files.mjs';
import { MiB, KiB } from './lib/env.mjs';

test('kill -9 at random moments during 1 MiB PATCHes: acknowledged bytes survive', { timeout: 120_000 }, async (t) => {
  const seed = Number(process.env.FERRY_IT_SEED) || (Date.now() & 0xffff) + 1;
  t.diagnostic(`seed=${seed} (set FERRY_IT_SEED to reproduce)`);
  const rnd = prng(seed);
  const L = 24 * MiB;
  const source = seededBytes(L, seed);
  const srv = await startServer({ t });
  const { location } = await createUpload(srv.url, { length: L });
  const idPath = new URL(location).pathname;
  const urlNow = () => `${srv.origin}${idPath}`;
  let acked = 0;
  let offset = 0;
  for (let round = 0; round < 4 && acked < L; round++) {
    // let the writer run, and kill the server after a random delay
    const killAfter = 20 + Math.floor(rnd() * 250);
    let killed = false;
    const killer = sleep(killAfter).then(async () => {
      killed = true;
      await srv.kill('SIGKILL');
    });
    while (!killed && offset < L) {
      const n = Math.min(MiB, L - offset);
      let r;
      try {
        r = await patch(urlNow(), offset, source.subarray(offset, offset + n));
      } catch {
        break; // connection reset/refused by the kill
      }
      assert.equal(r.status, 204, `PATCH at ${offset} -> ${r.status} ${r.text}`);
      offset = Number(r.headers['upload-offset']);
      assert.ok(offset >= acked, 'offset went backwards');
      acked = offset;
    }
    await killer;
    await srv.restart({ samePort: false });
    const h = await head(urlNow());
    assert.equal(h.status, 200, `HEAD after restart -> ${h.status}`);
    const after = Number(h.headers['upload-offset']);
    t.diagnostic(`round ${round}: killed after ${killAfter} ms, acknowledged ${acked}, HEAD says ${after}`);
    assert.ok(after >= acked, `after restart offset ${after} < acknowledged ${acked}`);
    assert.ok(after <= L);
    assert.equal(h.headers['upload-length'], String(L));
    offset = after;
    acked = after;
  }
  // finish from wherever the server says, then compare all bytes
  for (let i = 0; offset < L && i < 64; i++) {
    const r = await patch(urlNow(), offset, source.subarray(offset, Math.min(offset + 4 * MiB, L)));
    assert.equal(r.status, 204, r.text);
    offset = Number(r.headers['upload-offset']);
  }
  assert.equal(offset, L);
  const g = await getSha256(urlNow());
  assert.equal(g.status, 200);
  assert.equal(g.length, L);
  assert.equal(g.sha256, sha256(source), 'stored bytes differ from what was sent');
});

/** Starts a PATCH that trickles `total` bytes, `step` bytes every `everyMs`; returns a controller. */
async function slowPatch(srv, location, total, step, everyMs) {
  const c = await RawConn.connect(srv.port);
  const p = new URL(location).pathname;
  await c.write(rawHead(`PATCH ${p} HTTP/1.1`, [['Host', `127.0.0.1:${srv.port}`], ['Tus-Resumable', '1.0.0'], ['Upload-Offset', '0'],
    ['Content-Type', 'application/offset+octet-stream'], ['Content-Length', String(total)]]));
  let sent = 0;
  const progress = [];
  const done = (async () => {
    while (sent < total && !c.closed) {
      const n = Math.min(step, total - sent);
      if (!(await c.write(Buffer.alloc(n, 0x7a)))) break;
      sent += n;
      for (const w of progress.splice(0)) if (sent >= w.at) w.resolve(); else progress.push(w);
      if (sent < total) await sleep(everyMs);
    }
  })();
  return {
    conn: c,
    done,
    sent: () => sent,
    reached: (at) => (sent >= at ? Promise.resolve() : new Promise((resolve) => progress.push({ at, resolve }))),
  };
}

test('SIGTERM during a slow upload: the upload finishes and ferry exits 0 within grace+2 s', { timeout: 30_000 }, async (t) => {
  const grace = 3;
  const srv = await startServer({ t, args: ['--grace', String(grace)] });
  const total = 256 * KiB;
  const { location } = await createUpload(srv.url, { length: total });
  const up = await slowPatch(srv, location, total, 16 * KiB, 60); // ~1 s
  t.after(() => up.conn.destroy());
  await up.reached(32 * KiB);
  const start = Date.now();
  const exited = srv.kill('SIGTERM');
  // new connections stop being served soon after the signal (bounded probe loop: the
  // signal is asynchronous, so a probe sent right after kill() may still be answered)
  const probe = async () => {
    let c;
    try {
      c = await RawConn.connect(srv.port, { timeout: 1000 });
    } catch {
      return 'refused';
    }
    try {
      await c.write(rawHead('OPTIONS /files/ HTTP/1.1', [['Host', 'x'], ['Connection', 'close']]));
      await c.waitUntil((d, closed) => closed || parseResponses(d).responses.length > 0, 1000, 'probe response');
      const st = parseResponses(c.data, { closed: c.closed }).responses[0]?.status;
      return st ?? 'closed';
    } catch {
      return 'no answer';
    } finally {
      c.destroy();
    }
  };
  const probes = [];
  const probeDeadline = Date.now() + 1000;
  while (Date.now() < probeDeadline) {
    const p = await probe();
    probes.push(p);
    if (typeof p !== 'number') break;
    await sleep(50);
  }
  assert.ok(typeof probes.at(-1) !== 'number', `still serving new connections 1 s after SIGTERM: ${probes}`);
  await up.done;
  const resps = await up.conn.waitForResponses(1, { methods: ['PATCH'], timeout: grace * 1000 + 2000 });
  assert.equal(resps[0].status, 204, 'the in-flight upload should finish within the grace period');
  const { code, signal } = await exited;
  const elapsed = (Date.now() - start) / 1000;
  assert.equal(signal, null, `killed by ${signal}`);
  assert.equal(code, 0);
  assert.ok(elapsed <= grace + 2, `exit took ${elapsed}s`);
});

test('SIGTERM with a stuck upload: ferry still exits 0 within grace+2 s', { timeout: 30_000 }, async (t) => {
  const grace = 1;
  const srv = await startServer({ t, args: ['--grace', String(grace), '--body-timeout', '60', '--idle-timeout', '60'] });
  const { location } = await createUpload(srv.url, { length: 1 * MiB });
  const up = await slowPatch(srv, location, 1 * MiB, 8 * KiB, 50); // would take ~6 s
  t.after(() => up.conn.destroy());
  await up.reached(16 * KiB);
  const start = Date.now();
  const { code, signal } = await srv.kill('SIGTERM');
  const elapsed = (Date.now() - start) / 1000;
  assert.equal(signal, null);
  assert.equal(code, 0);
  assert.ok(elapsed <= grace + 2, `exit took ${elapsed}s`);
  up.conn.destroy();
  // what was received before shutdown is kept
  await srv.restart({ samePort: false });
  const off = await offsetOf(`${srv.origin}${new URL(location).pathname}`);
  assert.ok(off <= 1 * MiB);
});

test('SIGINT on an idle server exits 0 promptly', { timeout: 15_000 }, async (t) => {
  const srv = await startServer({ t });
  const start = Date.now();
  const { code, signal } = await srv.kill('SIGINT');
  assert.equal(signal, null);
  assert.equal(code, 0);
  assert.ok(Date.now() - start < 3000);
});

test('header timeout: an incomplete head is closed after --header-timeout and logged', { timeout: 15_000 }, async (t) => {
  const srv = await startServer({ t, args: ['--header-timeout', '1'] });
  const c = await RawConn.connect(srv.port);
  t.after(() => c.destroy());
  await c.write(`POST /files/ HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\nTus-Resumable: 1.0.0\r\n`);
  const r = await c.waitForClose(5000);
  assert.ok(r.closed, 'connection still open after 5 s');
  assert.ok(r.elapsedMs >= 800, `closed too early (${r.elapsedMs} ms)`);
  assert.ok(r.elapsedMs <= 3000, `closed after ${r.elapsedMs} ms`);
  const m = await srv.waitForStderr(/^.*timeout.*$/m, 2000);
  t.diagnostic(`log line: ${m[0]}`);
  // a responsive client on another connection was not affected
  const ok = await request(srv.url, { method: 'OPTIONS' });
  assert.ok([200, 204].includes(ok.status));
});

test('a connection that never sends a byte is closed by the header or idle timeout', { timeout: 15_000 }, async (t) => {
  const srv = await startServer({ t, args: ['--header-timeout', '1', '--idle-timeout', '2'] });
  const c = await RawConn.connect(srv.port);
  t.after(() => c.destroy());
  const r = await c.waitForClose(6000);
  assert.ok(r.closed && r.elapsedMs <= 4000, `closed=${r.closed} after ${r.elapsedMs} ms`);
});

test('disk full: 507, acknowledged bytes kept, resume once space is back', { timeout: 60_000 }, async (t) => {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    t.skip('needs root to mount a tmpfs');
    return;
  }
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-it-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mnt], { stdio: 'pipe' });
  } catch (e) {
    fs.rmSync(mnt, { recursive: true, force: true });
    t.skip(`cannot mount tmpfs here: ${String(e.stderr || e.message).trim()}`);
    return;
  }
  t.after(() => {
    try {
      execFileSync('umount', [mnt], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', mnt], { stdio: 'pipe' });
    }
    fs.rmSync(mnt, { recursive: true, force: true });
  });
  const dataDir = path.join(mnt, 'data');
  fs.mkdirSync(dataDir);
  const filler = path.join(mnt, 'filler');
  fs.writeFileSync(filler, Buffer.alloc(Math.floor(9.5 * MiB), 1));
  const srv = await startServer({ t, dataDir });
  const L = 8 * MiB;
  const source = seededBytes(L, 1234);
  const { location } = await createUpload(srv.url, { length: L });
  let r;
  try {
    r = await patch(location, 0, source);
  } catch (e) {
    assert.fail(`PATCH on a full disk lost the response (${e.code || e.message}); expected a 507`);
  }
  assert.equal(r.status, 507, `expected 507 on a full disk, got ${r.status} ${r.text}`);
  assert.equal(r.headers['tus-resumable'], '1.0.0');
  assert.ok(r.text.trim().length > 0, '507 without a message');
  t.diagnostic(`507 body: ${r.text.trim()}`);
  const h = await head(location);
  assert.equal(h.status, 200);
  const kept = Number(h.headers['upload-offset']);
  assert.ok(kept >= 0 && kept < L, `offset after 507: ${kept}`);
  if (r.headers['upload-offset'] !== undefined) assert.ok(Number(r.headers['upload-offset']) <= kept);
  fs.rmSync(filler);
  const r2 = await patch(location, kept, source.subarray(kept));
  assert.equal(r2.status, 204, `resume after freeing space -> ${r2.status} ${r2.text}`);
  assert.equal(r2.headers['upload-offset'], String(L));
  const g = await getSha256(location);
  assert.equal(g.status, 200);
  assert.equal(g.sha256, sha256(source), 'bytes kept across the 507 differ from the source');
});

test('a finished upload survives a clean restart', { timeout: 20_000 }, async (t) => {
  const srv = await startServer({ t });
  const body = seededBytes(100_000, 3);
  const { location } = await createUpload(srv.url, { length: body.length, body, metadata: 'filename eC5iaW4=' });
  await srv.kill('SIGTERM');
  await srv.restart({ samePort: true });
  const h = await request(location, { method: 'HEAD', headers: TUS });
  assert.equal(h.status, 200);
  assert.equal(h.headers['upload-metadata'], 'filename eC5iaW4=');
  const g = await getSha256(location);
  assert.equal(g.sha256, sha256(body));
});
