// Slowloris: thousands of connections that send a partial request head and then one byte every
// few seconds, plus a few PATCHes that trickle their body one byte every 2 s, must not keep a
// normal 64 MiB upload from completing while they are all open; the trickling bodies are cut by
// --min-rate/--rate-window ("conn_too_slow") and keep the bytes they delivered.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { checkedServers } from './lib/checked.mjs';
import { createUpload, head, sha256 } from './lib/http.mjs';
import { RawConn, head as rawHead } from './lib/raw.mjs';
import { withTimeout } from './lib/procs.mjs';
import { MiB } from './lib/env.mjs';

// Every server this file starts is checked for sanitizer reports when the file is done.
const startServer = checkedServers();

const SANITIZED = process.env.FERRY_TEST_SANITIZED === '1';
const WANTED = SANITIZED ? 1500 : 5000;
const TRICKLERS = 20; // of the WANTED connections: valid PATCH heads whose bodies trickle
const UPLOAD = 64 * MiB;
const RATE_WINDOW = 4; // seconds
const MIN_RATE = 128; // bytes/s; a trickler brings 0.5 B/s
const TICK_MS = 2000; // every connection gets one more byte per tick

/** The soft RLIMIT_NOFILE this process (and the ferry it spawns) runs with. */
function fdLimit() {
  const out = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  return out === 'unlimited' ? Infinity : Number(out);
}

const fdCount = (pid) => {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
};

async function until(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One raw PATCH of `data` at offset 0 on a fresh connection; returns {status, offset, ms}. */
async function rawPatch(port, location, data) {
  const c = await RawConn.connect(port);
  try {
    const t0 = process.hrtime.bigint();
    await c.write(rawHead(`PATCH ${new URL(location).pathname} HTTP/1.1`, [['Host', `127.0.0.1:${port}`], ['Tus-Resumable', '1.0.0'],
      ['Upload-Offset', '0'], ['Content-Type', 'application/offset+octet-stream'], ['Content-Length', String(data.length)]]));
    await c.write(data);
    const [res] = await c.waitForResponses(1, { methods: ['PATCH'], timeout: 60_000 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    return { status: res.status, offset: res.headers['upload-offset'], text: res.body.toString(), ms };
  } finally {
    c.destroy();
  }
}

async function getSha(url) {
  const r = await fetch(url);
  const h = crypto.createHash('sha256');
  let n = 0;
  for await (const chunk of r.body) {
    h.update(chunk);
    n += chunk.length;
  }
  return { status: r.status, length: n, sha256: h.digest('hex') };
}

test('slowloris connections do not stop a normal upload; trickling bodies are cut and keep their bytes', { timeout: 90_000 }, async (t) => {
  const limit = fdLimit();
  let total = WANTED;
  if (limit - 500 < WANTED) {
    total = Math.max(TRICKLERS + 50, limit - 500);
    t.diagnostic(`ulimit -n is ${limit}: using ${total} slow connections instead of ${WANTED} (tests/run.sh raises the limit)`);
  }
  const heads = total - TRICKLERS;
  const srv = await startServer({
    args: ['--header-timeout', '300', '--idle-timeout', '300', '--body-timeout', '300', '--min-rate', String(MIN_RATE),
      '--rate-window', String(RATE_WINDOW), '--max-connections', String(total + 100), '--max-size', String(2 * UPLOAD)],
  });
  const source = crypto.randomBytes(UPLOAD);

  // baseline: the same upload with nothing else going on
  const base = await createUpload(srv.url, { length: UPLOAD });
  const alone = await rawPatch(srv.port, base.location, source);
  assert.equal(alone.status, 204, alone.text);

  const sockets = [];
  const closedEarly = [];
  let tick;
  const fdsBefore = fdCount(srv.proc.pid);
  try {
    // trickling bodies: valid PATCH heads, then 1 byte per tick
    const tricklers = [];
    for (let i = 0; i < TRICKLERS; i++) {
      const { location } = await createUpload(srv.url, { length: 1000 });
      const c = await RawConn.connect(srv.port);
      await c.write(rawHead(`PATCH ${new URL(location).pathname} HTTP/1.1`, [['Host', `127.0.0.1:${srv.port}`], ['Tus-Resumable', '1.0.0'],
        ['Upload-Offset', '0'], ['Content-Type', 'application/offset+octet-stream'], ['Content-Length', '1000']]));
      await c.write('x');
      tricklers.push({ c, location });
    }
    const trickleStart = Date.now();

    // partial heads, opened 200 at a time
    const connectOne = (i) =>
      new Promise((resolve, reject) => {
        const s = net.connect({ port: srv.port, host: '127.0.0.1' });
        s.once('connect', () => {
          s.write(`PATCH /files/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-${i}: a`);
          resolve(s);
        });
        s.once('error', reject);
      });
    for (let i = 0; i < heads; i += 200) {
      const batch = await Promise.all(Array.from({ length: Math.min(200, heads - i) }, (_, k) => connectOne(i + k)));
      for (const s of batch) {
        s.on('error', () => {});
        s.once('close', () => closedEarly.push(s));
        sockets.push(s);
      }
    }
    tick = setInterval(() => {
      for (const s of sockets) if (!s.destroyed) s.write('a');
      for (const { c } of tricklers) if (!c.closed) c.sock.write('y');
    }, TICK_MS);

    // ferry has accepted them all (it holds a descriptor per connection)
    await until(() => fdCount(srv.proc.pid) >= fdsBefore + total, 20_000, `ferry to hold ${total} more descriptors (has ${fdCount(srv.proc.pid) - fdsBefore})`);
    assert.equal(closedEarly.length, 0, `${closedEarly.length} slow connections were closed before the upload started`);

    // the normal upload, with every slow connection open
    const { location } = await createUpload(srv.url, { length: UPLOAD });
    const withLoris = await rawPatch(srv.port, location, source);
    assert.equal(withLoris.status, 204, `upload beside ${total} slow connections -> ${withLoris.status} ${withLoris.text}`);
    assert.equal(withLoris.offset, String(UPLOAD));
    assert.equal(closedEarly.length, 0, `${closedEarly.length} slow connections were closed during the upload`);
    assert.ok(fdCount(srv.proc.pid) >= fdsBefore + heads, 'ferry dropped slow connections during the upload');
    // a fresh connection is still served
    const h = await head(location);
    assert.equal(h.status, 200);
    assert.equal(h.headers['upload-offset'], String(UPLOAD));
    const g = await getSha(location);
    assert.equal(g.status, 200);
    assert.equal(g.length, UPLOAD);
    assert.equal(g.sha256, sha256(source), 'the upload beside the slow connections was corrupted');
    const mbps = (ms) => ((UPLOAD / MiB) / (ms / 1000)).toFixed(0);
    t.diagnostic(`${UPLOAD / MiB} MiB PATCH: alone ${alone.ms.toFixed(0)} ms (${mbps(alone.ms)} MiB/s), beside ${heads} slow heads + ${TRICKLERS} trickling bodies ${withLoris.ms.toFixed(0)} ms (${mbps(withLoris.ms)} MiB/s)`);

    // the trickling bodies are cut once a rate window passes below --min-rate ...
    await withTimeout(Promise.all(tricklers.map(({ c }) => c.waitForClose(RATE_WINDOW * 1000 + 3 * TICK_MS + 10_000))), RATE_WINDOW * 1000 + 3 * TICK_MS + 12_000, 'tricklers cut');
    const stillOpen = tricklers.filter(({ c }) => !c.closed).length;
    assert.equal(stillOpen, 0, `${stillOpen} of ${TRICKLERS} trickling bodies were not cut`);
    const cutAfter = (Date.now() - trickleStart) / 1000;
    assert.ok(cutAfter >= RATE_WINDOW - 0.5, `trickling bodies cut after ${cutAfter.toFixed(1)} s, before one --rate-window (${RATE_WINDOW} s)`);
    const slow = srv.stderrText().match(/^.*\bconn_too_slow\b.*$/gm) ?? [];
    assert.ok(slow.length >= TRICKLERS, `expected ${TRICKLERS} conn_too_slow log lines, got ${slow.length}:\n${slow.join('\n')}`);
    // ... and what they delivered is kept
    for (const { location: loc } of tricklers) {
      const r = await head(loc);
      assert.equal(r.status, 200);
      const off = Number(r.headers['upload-offset']);
      assert.ok(off > 0 && off < 1000, `a cut trickling body kept ${r.headers['upload-offset']} bytes`);
    }
    // the slow heads are still open: only bodies are rate-limited, heads have --header-timeout
    assert.equal(closedEarly.length, 0, `${closedEarly.length} slow heads were closed`);
    t.diagnostic(`trickling bodies cut after ${cutAfter.toFixed(1)} s; ${heads} slow heads still open`);
  } finally {
    clearInterval(tick);
    for (const s of sockets) s.destroy();
  }
  // once the slow clients are gone the server serves normally
  const o = await fetch(srv.url, { method: 'OPTIONS' });
  assert.ok(o.status === 200 || o.status === 204);
});
