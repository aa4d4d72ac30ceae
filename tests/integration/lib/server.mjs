// Starts ferry servers for the tests.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FERRY_BIN, isExecutable } from './env.mjs';
import { TextCollector, exitOf, removeTempDir, trackChild, trackTempDir, withTimeout } from './procs.mjs';

const READY_RE = /^listening on (http:\/\/127\.0\.0\.1:(\d+)(\/\S*))\s*$/m;

function spawnFerry({ port, dataDir, args, env, readyTimeout }) {
  if (!isExecutable(FERRY_BIN)) {
    return Promise.reject(new Error(`ferry binary not found at ${FERRY_BIN} (build it, or set FERRY_BIN)`));
  }
  const argv = ['serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir, ...args];
  const proc = trackChild(
    spawn(FERRY_BIN, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const stdout = new TextCollector(proc.stdout);
  const stderr = new TextCollector(proc.stderr);
  const spawnError = new Promise((_, reject) => proc.once('error', reject));
  const exitedEarly = exitOf(proc).then(({ code, signal }) => {
    throw new Error(`ferry exited before it was ready (code=${code} signal=${signal})`);
  });
  const ready = stdout.waitFor(READY_RE, readyTimeout, 'the "listening on" line');
  return withTimeout(Promise.race([ready, exitedEarly, spawnError]), readyTimeout + 500, 'ferry readiness')
    .then((m) => ({ proc, stdout, stderr, url: m[1], port: Number(m[2]), basePath: m[3] }))
    .catch((err) => {
      try {
        proc.kill('SIGKILL');
      } catch {
        /* ignore */
      }
      err.message += `\nargv: ${FERRY_BIN} ${argv.join(' ')}\nstderr:\n${stderr.text.slice(-4000)}`;
      throw err;
    });
}

/**
 * Starts `ferry serve --listen 127.0.0.1:0 --data <fresh temp dir> ...args`.
 * Pass the test context `t` to have it stopped (and its data dir removed) in t.after.
 *
 * Returns {url, port, origin, dataDir, proc, stderrText(), waitForStderr(re, ms),
 *          kill(signal), stop(), restart({samePort}), exited()}.
 */
export async function startServer({ args = [], env = {}, dataDir, port = 0, readyTimeout = 10_000, t } = {}) {
  const ownsDataDir = !dataDir;
  if (!dataDir) dataDir = trackTempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-it-data-')));
  let cur = await spawnFerry({ port, dataDir, args, env, readyTimeout }).catch((e) => {
    if (ownsDataDir) removeTempDir(dataDir);
    throw e;
  });
  const previousStderr = [];
  let stopped = false;

  const handle = {
    dataDir,
    get url() {
      return cur.url; // e.g. http://127.0.0.1:PORT/files/
    },
    get port() {
      return cur.port;
    },
    get origin() {
      return `http://127.0.0.1:${cur.port}`;
    },
    get proc() {
      return cur.proc;
    },
    /** stderr of the current process (and of earlier ones, after restarts). */
    stderrText() {
      return previousStderr.join('') + cur.stderr.text;
    },
    waitForStderr(re, ms = 3000) {
      return cur.stderr.waitFor(re, ms);
    },
    exited() {
      return exitOf(cur.proc);
    },
    /** Sends `signal` and resolves with {code, signal} when the process has exited. */
    async kill(signal = 'SIGKILL') {
      const done = exitOf(cur.proc);
      if (cur.proc.exitCode === null && cur.proc.signalCode === null) cur.proc.kill(signal);
      return done;
    },
    /** Starts ferry again on the same data dir (and by default the same port). */
    async restart({ samePort = true, extraArgs = [] } = {}) {
      if (cur.proc.exitCode === null && cur.proc.signalCode === null) await handle.kill('SIGKILL');
      previousStderr.push(cur.stderr.text);
      cur = await spawnFerry({
        port: samePort ? cur.port : 0,
        dataDir,
        args: [...args, ...extraArgs],
        env,
        readyTimeout,
      });
      return handle;
    },
    /** SIGTERM, SIGKILL after 5 s; removes the data dir when it was created here. */
    async stop() {
      if (stopped) return;
      stopped = true;
      const p = cur.proc;
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGTERM');
        const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
        await exitOf(p);
        clearTimeout(timer);
      }
      if (ownsDataDir) removeTempDir(dataDir);
    },
  };
  if (t) t.after(() => handle.stop());
  return handle;
}

/** Runs the ferry binary with `args` (no server), returns {code, stdout, stderr}. */
export function runFerry(args, { timeout = 5000, env = {} } = {}) {
  if (!isExecutable(FERRY_BIN)) {
    return Promise.reject(new Error(`ferry binary not found at ${FERRY_BIN} (build it, or set FERRY_BIN)`));
  }
  return new Promise((resolve, reject) => {
    const proc = trackChild(spawn(FERRY_BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`ferry ${args.join(' ')} did not exit within ${timeout} ms`));
    }, timeout);
    proc.once('error', reject);
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
