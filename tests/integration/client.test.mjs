// The ferry client (libferry through `ferry upload|status|resume`) against the real server,
// directly and through the fault-injecting proxy.
//
// Measured figures are printed as test diagnostics ("# client: ...") so CI logs keep them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FERRY_BIN, MiB, isExecutable } from './lib/env.mjs';
import { makeRandomFile } from './lib/files.mjs';
import { getSha256, request, tokens } from './lib/http.mjs';
import { TextCollector, exitOf, removeTempDir, trackChild, trackTempDir, withTimeout } from './lib/procs.mjs';
import { startProxy } from './lib/proxy.mjs';
import { startServer } from './lib/server.mjs';
import { assertSameBytes, doneEvent, jsonEvents, runCli, spawnCli, stateHome } from './lib/cli.mjs';

const SANITIZED = process.env.FERRY_TEST_SANITIZED === '1';
const BIG = SANITIZED ? 128 * MiB : 1024 * MiB;
const DEFAULT_CHUNK = 8 * MiB;

function urlsOf(stdout) {
  return stdout.split('\n').filter(Boolean);
}

/** Sum of the client->server bytes the proxy forwarded, over all its connections. */
function proxyUpBytes(proxy) {
  const perConn = new Map();
  for (const ev of proxy.events()) {
    const m = ev.rest.match(/\bup=(\d+)/);
    if (m) perConn.set(ev.conn, Math.max(perConn.get(ev.conn) || 0, Number(m[1])));
  }
  let sum = 0;
  for (const v of perConn.values()) sum += v;
  return sum;
}

function note(t, msg) {
  t.diagnostic(`client: ${msg}`);
}

test('client: uploads files and stdin, prints one URL per file, data intact', async (t) => {
  const server = await startServer({ t });
  const state = stateHome(t);
  const a = makeRandomFile(3 * MiB + 17, { t, name: 'a.bin' });
  const b = makeRandomFile(1000, { t, name: 'b.txt' });
  const r = await runCli(['upload', '--json', '--chunk-size', '1M', '-m', 'owner=it', server.url, a.path, b.path], {
    state,
  });
  assert.equal(r.code, 0, r.stderr);
  const urls = urlsOf(r.stdout);
  assert.equal(urls.length, 2);
  const byFile = Object.fromEntries(r.events.filter((e) => e.event === 'done').map((e) => [path.basename(e.file), e.url]));
  await assertSameBytes(byFile['a.bin'], a);
  await assertSameBytes(byFile['b.txt'], b);
  assert.deepEqual([...urls].sort(), Object.values(byFile).sort());
  const h = await request(byFile['a.bin'], { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
  assert.match(h.headers['upload-metadata'] || '', /filename /);
  assert.match(h.headers['upload-metadata'] || '', /owner /);

  // stdin of unknown length (a pipe): deferred length, several PATCHes.
  const s = makeRandomFile(2 * MiB + 5, { t, name: 's.bin' });
  const rs = await runCli(['upload', '--json', '--chunk-size', '512K', server.url, '-'], { state, input: s.path });
  assert.equal(rs.code, 0, rs.stderr);
  await assertSameBytes(urlsOf(rs.stdout)[0], s);

  // Nothing is left in the resume state after success.
  const st = await runCli(['status', '--offline'], { state });
  assert.equal(st.code, 0);
  assert.match(st.stdout, /no unfinished uploads/);
});

test('client: with a server that sends Repr-Digest, the whole file is verified after the last byte', async (t) => {
  const server = await startServer({ t, args: ['--repr-digest'] });
  const plain = await startServer({ t });
  const state = stateHome(t);
  const f = makeRandomFile(5 * MiB + 3, { t, name: 'v.bin' });
  for (const protocol of ['tus', 'ietf']) {
    const r = await runCli(['upload', '--json', '--no-resume', '--protocol', protocol, '--chunk-size', '2M', server.url, f.path], { state });
    assert.equal(r.code, 0, r.stderr);
    const done = r.events.find((e) => e.event === 'done');
    assert.equal(done.verified, true, `${protocol}: the client did not verify the server's Repr-Digest`);
  }
  // Without --repr-digest the server exposes no digest: nothing to verify, still a success.
  const r = await runCli(['upload', '--json', '--no-resume', plain.url, f.path], { state });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.events.find((e) => e.event === 'done').verified, false);
});

test('client: usage errors and --help', async (t) => {
  const state = stateHome(t);
  const h = await runCli(['upload', '--help'], { state });
  assert.equal(h.code, 0);
  assert.match(h.stdout, /usage: ferry upload/);
  const bad = await runCli(['upload', 'http://127.0.0.1:9/files/'], { state });
  assert.equal(bad.code, 2);
  const badChunk = await runCli(['upload', '--chunk-size', 'lots', 'http://127.0.0.1:9/files/', '/etc/hostname'], {
    state,
  });
  assert.equal(badChunk.code, 2);
  assert.match(badChunk.stderr, /invalid value/);
  const missing = await runCli(['upload', 'http://127.0.0.1:9/files/', '/nonexistent/file'], { state });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nonexistent/);
});

test(`client: ${BIG / MiB} MiB through a proxy cutting every connection after 1-16 MiB`, async (t) => {
  const server = await startServer({ t });
  const proxy = await startProxy({ target: server.port, cutRandom: [1 * MiB, 16 * MiB], seed: 7, t });
  const state = stateHome(t);
  const f = makeRandomFile(BIG, { t });
  const t0 = Date.now();
  const r = await runCli(['upload', '--json', '--retries', '20', `${proxy.origin}/files/`, f.path], { state }, 240_000);
  const secs = (Date.now() - t0) / 1000;
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const d = doneEvent(r);
  const resent = (d.bytes_sent - f.size) / f.size;
  note(t, `cut proxy: ${f.size} bytes in ${secs.toFixed(1)} s, ${proxy.cuts()} cuts, ${d.requests} requests, ` +
    `${d.retries} visible retries, re-sent ${(resent * 100).toFixed(2)}%`);
  assert.ok(proxy.cuts() > 5, `the proxy should have cut connections (cuts=${proxy.cuts()})`);
  assert.ok(resent < 0.1, `re-sent ${(resent * 100).toFixed(1)}% of the file (limit 10%)`);
  await assertSameBytes(d.url, f);
});

test('client: kill -9 mid-upload, the re-run resumes and re-sends less than a chunk', async (t) => {
  const server = await startServer({ t });
  // 16 MiB/s per connection: a 48 MiB file takes ~3 s, so the kill lands mid-way.
  const proxy = await startProxy({ target: server.port, rate: 16 * MiB, t });
  const state = stateHome(t);
  const f = makeRandomFile(48 * MiB, { t });
  const args = ['upload', '--json', `${proxy.origin}/files/`, f.path];
  const first = spawnCli(args, { state });
  await first.stderr.waitFor(/"event":"progress"[^\n]*"sent":(1[0-9]|[2-9][0-9])\d{6},/, 30_000, 'progress past 10 MB');
  first.proc.kill('SIGKILL');
  const k = await first.done;
  assert.equal(k.signal, 'SIGKILL');

  // The state file remembers it; status shows how far the server got.
  const st = await runCli(['status', '--json'], { state });
  assert.equal(st.code, 0, st.stderr);
  const pending = st.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.equal(pending.length, 1);
  assert.equal(pending[0].path, fs.realpathSync(f.path));
  assert.ok(pending[0].offset > 0, `server offset after the kill: ${pending[0].offset}`);

  const r = await runCli(args, { state }, 60_000);
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const resumed = r.events.find((e) => e.event === 'resumed');
  assert.ok(resumed && resumed.offset > 0, 'the second run should report a resume');
  const d = doneEvent(r);
  await new Promise((res) => setTimeout(res, 300)); // let the proxy log the last closes
  // Wire truth: everything both runs pushed through the proxy, minus the file, minus headers.
  const overhead = d.requests * 2048 + 64 * 1024;
  const resentWire = proxyUpBytes(proxy) - f.size - overhead;
  const resentClient = d.bytes_sent - (f.size - d.resumed_from);
  note(t, `kill -9: resumed at ${resumed.offset} of ${f.size}; re-sent on the wire <= ${Math.max(resentWire, 0)} bytes, ` +
    `second run re-sent ${resentClient} bytes (chunk ${DEFAULT_CHUNK})`);
  assert.ok(resentWire < DEFAULT_CHUNK, `re-sent ${resentWire} bytes, more than one chunk`);
  assert.ok(resentClient < DEFAULT_CHUNK);
  await assertSameBytes(d.url, f);
});

test('client: Ctrl-C stops cleanly (exit 130) and the next run resumes', async (t) => {
  const server = await startServer({ t });
  const proxy = await startProxy({ target: server.port, rate: 16 * MiB, t });
  const state = stateHome(t);
  const f = makeRandomFile(40 * MiB, { t });
  const args = ['upload', '--json', '--chunk-size', '2M', `${proxy.origin}/files/`, f.path];
  const first = spawnCli(args, { state });
  await first.stderr.waitFor(/"event":"progress"[^\n]*"sent":([5-9]|[1-9][0-9])\d{6},/, 30_000, 'progress past 5 MB');
  const t0 = Date.now();
  first.proc.kill('SIGINT');
  const k = await withTimeout(first.done, 5000, 'exit after SIGINT');
  note(t, `SIGINT: exited ${k.code} after ${Date.now() - t0} ms`);
  assert.equal(k.code, 130, k.stderr.slice(-2000));
  assert.ok(k.events.some((e) => e.event === 'failed' && e.error === 'CANCELLED'));
  const r = await runCli(args, { state }, 60_000);
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const d = doneEvent(r);
  assert.ok(d.resumed_from > 0, 'the second run should continue, not restart');
  await assertSameBytes(d.url, f);
});

test('client: the server restarts mid-upload; the client backs off, retries and finishes', async (t) => {
  const server = await startServer({ t });
  const proxy = await startProxy({ target: server.port, rate: 16 * MiB, t });
  const state = stateHome(t);
  const f = makeRandomFile(40 * MiB, { t });
  const run = spawnCli(['upload', '--json', '--retry-delay', '200', '--chunk-size', '4M', `${proxy.origin}/files/`, f.path], {
    state,
  });
  await run.stderr.waitFor(/"event":"progress"[^\n]*"sent":([5-9]|[1-9][0-9])\d{6},/, 30_000, 'progress past 5 MB');
  await server.kill('SIGKILL');
  const down = Date.now();
  await new Promise((res) => setTimeout(res, 1500));
  await server.restart();
  const r = await withTimeout(run.done, 90_000, 'upload after the restart');
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const retries = r.events.filter((e) => e.event === 'retry');
  assert.ok(retries.length >= 1, 'expected retries while the server was down');
  // Full jitter: every wait is within [0, min(cap, 200 * 2^(attempt-1))].
  for (const e of retries) assert.ok(e.delay_ms <= Math.min(30000, 200 * 2 ** (e.attempt - 1)), JSON.stringify(e));
  const d = doneEvent(r);
  note(t, `server restart: down 1.5 s, ${retries.length} retries (max attempt ${Math.max(...retries.map((e) => e.attempt))}), ` +
    `finished ${((Date.now() - down) / 1000).toFixed(1)} s after the kill, re-sent ${d.bytes_sent - f.size} bytes`);
  assert.ok(d.bytes_sent - f.size < 4 * MiB * 2, 'the upload continued from the server offset, not from zero');
  await assertSameBytes(d.url, f);
});

test('client: --parallel 4 is at least 3x faster than --parallel 1 with per-connection throttling', async (t) => {
  const server = await startServer({ t });
  const opt = await request(server.url, { method: 'OPTIONS' });
  if (!tokens(opt.headers['tus-extension']).includes('concatenation')) {
    t.skip('the server does not advertise the concatenation extension (OPTIONS Tus-Extension); parallel upload falls back to one stream');
    return;
  }
  // 6 MiB at 256 KiB/s per connection: ~24 s with one stream, ~6 s with four. The bandwidth
  // dominates so strongly that the fixed costs (creations, fsyncs, concatenation), which grow
  // when the machine is busy, cannot pull the ratio below 3; one chunk per part keeps them few.
  const rate = 256 * 1024;
  const proxy = await startProxy({ target: server.port, rate, t });
  const state = stateHome(t);
  const f = makeRandomFile(6 * MiB, { t });
  const times = {};
  for (const p of [1, 4]) {
    const t0 = Date.now();
    const r = await runCli(['upload', '--json', '--no-resume', '--chunk-size', '16M', '--parallel', String(p), `${proxy.origin}/files/`, f.path], {
      state,
    });
    times[p] = (Date.now() - t0) / 1000;
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const d = doneEvent(r);
    assert.equal(d.parts, p);
    await assertSameBytes(d.url, f);
  }
  const speedup = times[1] / times[4];
  note(t, `parallel: ${times[1].toFixed(2)} s with 1 stream, ${times[4].toFixed(2)} s with 4, speedup ${speedup.toFixed(2)}x`);
  assert.ok(speedup >= 3, `speedup ${speedup.toFixed(2)}x < 3x`);
});

test('client: a parallel upload killed mid-way resumes its parts', async (t) => {
  const server = await startServer({ t });
  const opt = await request(server.url, { method: 'OPTIONS' });
  if (!tokens(opt.headers['tus-extension']).includes('concatenation')) {
    t.skip('the server does not advertise concatenation');
    return;
  }
  const proxy = await startProxy({ target: server.port, rate: 8 * MiB, t });
  const state = stateHome(t);
  const f = makeRandomFile(32 * MiB, { t });
  const args = ['upload', '--json', '--parallel', '4', '--chunk-size', '1M', `${proxy.origin}/files/`, f.path];
  const first = spawnCli(args, { state });
  await first.stderr.waitFor(/"event":"progress"[^\n]*"sent":(1[0-9]|[2-9][0-9])\d{6},/, 30_000, 'progress past 10 MB');
  first.proc.kill('SIGKILL');
  await first.done;
  const r = await runCli(args, { state }, 60_000);
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  assert.equal(r.events.filter((e) => e.event === 'resumed').length, 4);
  const d = doneEvent(r);
  assert.equal(d.parts, 4);
  assert.ok(d.resumed_from > 8 * MiB);
  await assertSameBytes(d.url, f);
});

test('client: a 413 fails fast with a clear message, no retries', async (t) => {
  const server = await startServer({ t, args: ['--max-size', '1M'] });
  const state = stateHome(t);
  const f = makeRandomFile(2 * MiB, { t });
  const t0 = Date.now();
  const r = await runCli(['upload', '--json', server.url, f.path], { state }, 20_000);
  const ms = Date.now() - t0;
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  const failed = r.events.find((e) => e.event === 'failed');
  assert.ok(failed, r.stderr);
  assert.equal(failed.error, 'TOO_LARGE');
  assert.match(failed.message, /413/);
  assert.equal(r.events.filter((e) => e.event === 'retry').length, 0, 'a 413 must not be retried');
  assert.ok(ms < 5000, `took ${ms} ms`);

  // Without --json the message is on stderr for a person.
  const plain = await runCli(['upload', server.url, f.path], { state }, 20_000);
  assert.equal(plain.code, 1);
  assert.match(plain.stderr, /413/);

  // A stream of unknown length hits the limit in a PATCH: same outcome.
  const s = makeRandomFile(3 * MiB, { t, name: 's.bin' });
  const rs = await runCli(['upload', '--json', '--chunk-size', '256K', server.url, '-'], { state, input: s.path }, 20_000);
  assert.equal(rs.code, 1);
  const fs2 = rs.events.find((e) => e.event === 'failed');
  assert.ok(fs2 && fs2.error === 'TOO_LARGE', rs.stderr);
  assert.equal(rs.events.filter((e) => e.event === 'retry').length, 0);
  note(t, `413: failed in ${ms} ms without retries`);
});

test('client: many files concurrently under a global limit, and --parallel degrades gracefully', async (t) => {
  const server = await startServer({ t });
  const state = stateHome(t);
  const files = [];
  for (let i = 0; i < 6; i++) files.push(makeRandomFile(300 * 1024 + i, { t, name: `f${i}.bin` }));
  const r = await runCli(['upload', '--json', '--jobs', '2', server.url, ...files.map((f) => f.path)], { state });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(urlsOf(r.stdout).length, 6);
  for (const f of files) await assertSameBytes(doneEvent(r, f.path).url, f);
});
