// Registry of every child process and temp dir created by the helpers, so that
// nothing outlives the test process even when a test throws before its cleanup.
import fs from 'node:fs';

const children = new Set();
const tempDirs = new Set();

export function trackChild(proc) {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

export function trackTempDir(dir) {
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir) {
  tempDirs.delete(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}

function killAll() {
  for (const p of children) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  children.clear();
  for (const d of tempDirs) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {
      /* best effort (e.g. still mounted) */
    }
  }
  tempDirs.clear();
}

process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

/** Resolves with {code, signal} once `proc` has exited (immediately if it already has). */
export function exitOf(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  }
  return new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Rejects after `ms` with `message` unless `promise` settles first. */
export function withTimeout(promise, ms, message) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (timed out after ${ms} ms)`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/**
 * Collects a child's stream as text (bounded) and lets callers await a pattern.
 */
export class TextCollector {
  constructor(stream, limit = 8 * 1024 * 1024) {
    this.text = '';
    this.limit = limit;
    this.waiters = [];
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      if (this.text.length < this.limit) this.text += chunk;
      this.waiters = this.waiters.filter((w) => !w.check());
    });
    stream.on('end', () => {
      for (const w of this.waiters) w.end();
      this.waiters = [];
      this.ended = true;
    });
  }

  /** Waits until the collected text matches `re`; resolves with the match. */
  waitFor(re, ms, what = String(re)) {
    return new Promise((resolve, reject) => {
      let timer;
      const w = {
        check: () => {
          const m = this.text.match(re);
          if (m) {
            clearTimeout(timer);
            resolve(m);
            return true;
          }
          return false;
        },
        end: () => {
          clearTimeout(timer);
          reject(new Error(`stream ended before ${what} appeared; got:\n${this.text.slice(-4000)}`));
        },
      };
      if (w.check()) return;
      if (this.ended) return w.end();
      timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; got:\n${this.text.slice(-4000)}`));
      }, ms);
      this.waiters.push(w);
    });
  }
}
