// Temp files with random content for upload tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { removeTempDir, trackTempDir } from './procs.mjs';

/**
 * Creates a file of `size` random bytes in a fresh dir under os.tmpdir().
 * Returns {path, size, sha256, remove()}. Pass `t` to remove it in t.after.
 */
export function makeRandomFile(size, { t, name = 'upload.bin' } = {}) {
  const dir = trackTempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-it-file-')));
  const p = path.join(dir, name);
  const fd = fs.openSync(p, 'w');
  const hash = crypto.createHash('sha256');
  const block = 1024 * 1024;
  try {
    for (let done = 0; done < size; ) {
      const n = Math.min(block, size - done);
      const b = crypto.randomBytes(n);
      fs.writeSync(fd, b);
      hash.update(b);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  const f = { path: p, size, sha256: hash.digest('hex'), remove: () => removeTempDir(dir) };
  if (t) t.after(() => f.remove());
  return f;
}

/** Deterministic pseudo-random bytes (xorshift32) so failures are reproducible from a seed. */
export function seededBytes(size, seed) {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A small seeded PRNG returning floats in [0, 1). */
export function prng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}
