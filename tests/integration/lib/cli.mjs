// Driving the ferry command-line client from tests: spawn it with its own resume-state folder,
// collect its output and its --json events (one JSON object per stderr line).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { FERRY_BIN, isExecutable } from './env.mjs';
import { getSha256 } from './http.mjs';
import { TextCollector, exitOf, removeTempDir, trackChild, trackTempDir, withTimeout } from './procs.mjs';

/** A fresh resume-state folder (XDG_STATE_HOME) per test. */
export function stateHome(t) {
  const dir = trackTempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-it-state-')));
  t.after(() => removeTempDir(dir));
  return dir;
}

export function jsonEvents(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      /* a sanitizer line that happened to start with "{" */
    }
  }
  return out;
}

/**
 * Starts `ferry <args>`; returns {proc, stdout, stderr, done} where done resolves with
 * {code, signal, stdout, stderr, events}. `input` is a file path or a string/Buffer for stdin.
 */
export function spawnCli(args, { state, input, env = {} } = {}) {
  if (!isExecutable(FERRY_BIN)) throw new Error(`ferry binary not found at ${FERRY_BIN}`);
  const proc = trackChild(
    spawn(FERRY_BIN, args, {
      env: { ...process.env, XDG_STATE_HOME: state, ...env },
      stdio: [input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    }),
  );
  const stdout = new TextCollector(proc.stdout);
  const stderr = new TextCollector(proc.stderr);
  if (input !== undefined) {
    proc.stdin.on('error', () => {});
    if (typeof input === 'string' && fs.existsSync(input)) fs.createReadStream(input).pipe(proc.stdin);
    else proc.stdin.end(input);
  }
  const done = exitOf(proc).then(async ({ code, signal }) => {
    await new Promise((r) => setImmediate(r));
    return { code, signal, stdout: stdout.text, stderr: stderr.text, events: jsonEvents(stderr.text) };
  });
  return { proc, stdout, stderr, done };
}

export async function runCli(args, opts = {}, timeout = 120_000) {
  const c = spawnCli(args, opts);
  return withTimeout(c.done, timeout, `ferry ${args.join(' ')}`).catch((e) => {
    c.proc.kill('SIGKILL');
    throw e;
  });
}

/** The "done" event (of `file`, given as the path passed or its base name, when given). */
export function doneEvent(r, file) {
  const e = r.events.find((ev) => ev.event === 'done' && (!file || ev.file === file || path.basename(ev.file) === file));
  assert.ok(e, `no "done" event; exit ${r.code}; stderr:\n${r.stderr.slice(-3000)}`);
  return e;
}

/** The upload at url holds exactly the bytes of file ({size, sha256}). */
export async function assertSameBytes(url, file) {
  const got = await getSha256(url, { timeout: 120_000 });
  assert.equal(got.status, 200, `GET ${url}`);
  assert.equal(got.length, file.size, 'downloaded length');
  assert.equal(got.sha256, file.sha256, 'downloaded sha256 differs from the local file');
}
