// Paths of the binaries under test and small shared constants.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';

export const INTEGRATION_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(INTEGRATION_DIR, '..', '..');
export const FERRY_BIN = process.env.FERRY_BIN || path.join(REPO_ROOT, 'build', 'ferry');
export const FAULTPROXY_BIN = process.env.FAULTPROXY_BIN || path.join(REPO_ROOT, 'build', 'faultproxy');
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const TUS_MIN_JS = path.join(INTEGRATION_DIR, 'node_modules', 'tus-js-client', 'dist', 'tus.min.js');

export const MiB = 1024 * 1024;
export const KiB = 1024;

export function isExecutable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
