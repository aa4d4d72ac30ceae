// The ferry client speaking the IETF "Resumable Uploads for HTTP" draft (`ferry upload
// --protocol ietf`) against the real server, directly and through the fault-injecting proxy,
// and the protocol choice of --protocol auto.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FERRY_BIN, MiB, isExecutable } from './lib/env.mjs';
import { makeRandomFile } from './lib/files.mjs';
import { getSha256, request } from './lib/http.mjs';
import { TextCollector, exitOf, removeTempDir, trackChild, trackTempDir, withTimeout } from './lib/procs.mjs';
import { startProxy } from './lib/proxy.mjs';
import { startServer } from './lib/server.mjs';
import { assertSameBytes, doneEvent, jsonEvents, runCli, spawnCli, stateHome } from './lib/cli.mjs';

const SANITIZED = process.env.FERRY_TEST_SANITIZED === '1';
const CUT_FILE = SANITIZED ? 8 * MiB : 24 * MiB;

/** The server's view in the draft: complete, at the full length. */
async function assertCompleteIetf(url, size, interop) {
  const h = await request(url, { method: 'HEAD', headers: { 'Upload-Draft-Interop-Version': String(interop) } });
  assert.equal(h.status, 204);
  assert.equal(h.headers['upload-offset'], String(size));
  if (interop === 3) assert.equal(h.headers['upload-incomplete'], '?0');
  else assert.equal(h.headers['upload-complete'], '?1');
}

for (const interop of [8, 6, 3]) {
  test(`client-ietf: --protocol ietf --interop ${interop} uploads a chunked file and a small one intact`, async (t) => {
    const server = await startServer({ t });
    const state = stateHome(t);
    const big = makeRandomFile(3 * MiB + 77, { t, name: 'big.bin' });
    const small = makeRandomFile(1500, { t, name: 'small.bin' });
    const r = await runCli(
      ['upload', '--json', '--protocol', 'ietf', '--interop', String(interop), '--chunk-size', '1M', server.url, big.path, small.path],
      { state },
    );
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const db = doneEvent(r, 'big.bin');
    const ds = doneEvent(r, 'small.bin');
    assert.equal(db.protocol, 'ietf');
    assert.equal(ds.protocol, 'ietf');
    // OPTIONS, POST, 4 PATCHes, HEAD; the small file goes whole in the creation.
    assert.equal(db.requests, 7, `requests for the big file: ${db.requests}`);
    assert.equal(ds.requests, 3, `requests for the small file: ${ds.requests}`);
    await assertSameBytes(db.url, big);
    await assertSameBytes(ds.url, small);
    await assertCompleteIetf(db.url, big.size, interop);
    await assertCompleteIetf(ds.url, small.size, interop);
  });
}

test('client-ietf: --protocol auto picks tus on ferry (it speaks both); bad values are usage errors', async (t) => {
  const server = await startServer({ t });
  const state = stateHome(t);
  const f = makeRandomFile(200_000, { t });
  const r = await runCli(['upload', '--json', server.url, f.path], { state });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(doneEvent(r).protocol, 'tus');
  const created = r.events.find((e) => e.event === 'created');
  assert.equal(created.protocol, 'tus');
  await assertSameBytes(doneEvent(r).url, f);

  const r2 = await runCli(['upload', '--json', '--protocol', 'tus', server.url, f.path], { state });
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(doneEvent(r2).protocol, 'tus');

  for (const bad of [['--protocol', 'ftp'], ['--interop', '2'], ['--interop', '9']]) {
    const b = await runCli(['upload', ...bad, server.url, f.path], { state });
    assert.equal(b.code, 2, `${bad.join(' ')}: ${b.stderr}`);
    assert.match(b.stderr, /invalid value/);
  }
  const h = await runCli(['upload', '--help'], { state });
  assert.match(h.stdout, /--protocol/);
  assert.match(h.stdout, /--interop/);
});

test('client-ietf: --parallel with the draft warns and uses one stream', async (t) => {
  const server = await startServer({ t });
  const state = stateHome(t);
  const f = makeRandomFile(4 * MiB, { t });
  const r = await runCli(['upload', '--json', '--protocol', 'ietf', '--parallel', '4', '--chunk-size', '1M', server.url, f.path], {
    state,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(
    r.events.some((e) => e.event === 'warning' && /concatenation/.test(e.message)),
    `expected a warning; stderr:\n${r.stderr}`,
  );
  const d = doneEvent(r);
  assert.equal(d.parts, 1);
  await assertSameBytes(d.url, f);
});

test(`client-ietf: ${CUT_FILE / MiB} MiB through a proxy cutting every connection after 256 KiB-2 MiB`, async (t) => {
  const server = await startServer({ t });
  const proxy = await startProxy({ target: server.port, cutRandom: [256 * 1024, 2 * MiB], seed: 11, t });
  const state = stateHome(t);
  const f = makeRandomFile(CUT_FILE, { t });
  const r = await runCli(
    ['upload', '--json', '--protocol', 'ietf', '--retries', '40', '--retry-delay', '20', '--retry-max', '200', `${proxy.origin}/files/`, f.path],
    { state },
    120_000,
  );
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const d = doneEvent(r);
  assert.equal(d.protocol, 'ietf');
  assert.ok(proxy.cuts() > 3, `the proxy should have cut connections (cuts=${proxy.cuts()})`);
  t.diagnostic(`client-ietf: ${proxy.cuts()} cuts, ${d.requests} requests, ${d.retries} retries, sent ${d.bytes_sent}`);
  await assertSameBytes(d.url, f);
  await assertCompleteIetf(d.url, f.size, 8);
});

test('client-ietf: a creation cut after the 104 resumes the upload the 104 named', async (t) => {
  const server = await startServer({ t });
  // The whole 2 MiB file goes in the creation request (it is smaller than a chunk), and every
  // connection dies after 1 MiB: creating again could never succeed, so finishing proves the
  // upload was taken from the 104's Location and continued with HEAD and smaller appends.
  const proxy = await startProxy({ target: server.port, cutAfter: 1 * MiB, t });
  const state = stateHome(t);
  const f = makeRandomFile(2 * MiB, { t });
  const r = await runCli(
    ['upload', '--json', '--protocol', 'ietf', '--retries', '40', '--retry-delay', '20', '--retry-max', '200', `${proxy.origin}/files/`, f.path],
    { state },
    60_000,
  );
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const d = doneEvent(r);
  const created = r.events.filter((e) => e.event === 'created');
  assert.equal(created.length, 1, `one upload only, got ${JSON.stringify(created)}`);
  assert.equal(created[0].url, d.url);
  assert.ok(d.retries > 0, 'the creation should have been cut');
  await assertSameBytes(d.url, f);
});

test('client-ietf: kill -9 mid-upload; the re-run (--protocol auto) resumes in the draft from the state file', async (t) => {
  const server = await startServer({ t });
  const proxy = await startProxy({ target: server.port, rate: 8 * MiB, t });
  const state = stateHome(t);
  const f = makeRandomFile(24 * MiB, { t });
  const first = spawnCli(['upload', '--json', '--protocol', 'ietf', '--interop', '6', `${proxy.origin}/files/`, f.path], { state });
  await first.stderr.waitFor(/"event":"progress"[^\n]*"sent":([4-9]|1[0-9])\d{6},/, 30_000, 'progress past 4 MB');
  first.proc.kill('SIGKILL');
  assert.equal((await first.done).signal, 'SIGKILL');

  const saved = JSON.parse(fs.readFileSync(path.join(state, 'ferry', 'uploads.json'), 'utf8'));
  const entries = Object.values(saved.uploads);
  assert.equal(entries.length, 1);
  assert.equal(entries[0].protocol, 'ietf');
  assert.equal(entries[0].interop, 6);

  const r = await runCli(['upload', '--json', `${proxy.origin}/files/`, f.path], { state }, 60_000);
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const resumed = r.events.find((e) => e.event === 'resumed');
  assert.ok(resumed && resumed.offset > 0, 'the second run should report a resume');
  const d = doneEvent(r);
  assert.equal(d.protocol, 'ietf');
  assert.ok(d.bytes_sent < f.size, `re-sent ${d.bytes_sent} of ${f.size}`);
  assert.ok(!r.events.some((e) => e.event === 'created'), 'no new upload');
  await assertSameBytes(d.url, f);
});
