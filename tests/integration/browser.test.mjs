// A real browser (headless Chromium via playwright-core) uploads cross-origin with tus-js-client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startServer } from './lib/server.mjs';
import { getSha256 } from './lib/http.mjs';
import { CHROMIUM_BIN, TUS_MIN_JS, isExecutable } from './lib/env.mjs';
import { trackTempDir, removeTempDir } from './lib/procs.mjs';

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>ferry upload</title><script src="/tus.min.js"></script></head>
<body><p id="status">idle</p>
<script>
async function runUpload(endpoint, size) {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(i + 65536, size)));
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  const sha = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  const blob = new Blob([bytes], { type: 'application/octet-stream' });
  return new Promise((resolve) => {
    const upload = new tus.Upload(blob, {
      endpoint,
      chunkSize: 2 * 1024 * 1024,
      retryDelays: [0, 500],
      storeFingerprintForResuming: false,
      metadata: { filename: 'browser.bin', filetype: 'application/octet-stream' },
      onError: (err) => resolve({ ok: false, error: String(err), sha }),
      onSuccess: () => resolve({ ok: true, url: upload.url, sha, size }),
    });
    document.getElementById('status').textContent = 'uploading';
    upload.start();
  });
}
</script></body></html>`;

test('headless Chromium uploads a 5 MB Blob cross-origin with tus-js-client', { timeout: 90_000 }, async (t) => {
  if (!isExecutable(CHROMIUM_BIN)) {
    t.skip(`${CHROMIUM_BIN} not installed (the setup script installs the Debian chromium package)`);
    return;
  }
  const { chromium } = await import('playwright-core');
  const srv = await startServer({ t });

  // the page is served from another loopback port, so every tus request is cross-origin (CORS)
  const tusJs = fs.readFileSync(TUS_MIN_JS);
  const pageServer = http.createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    } else if (req.url === '/tus.min.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' });
      res.end(tusJs);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((r) => pageServer.listen(0, '127.0.0.1', r));
  const closePageServer = () => new Promise((r) => {
    pageServer.close(() => r());
    pageServer.closeAllConnections();
  });
  pageServer.unref();
  const pageOrigin = `http://127.0.0.1:${pageServer.address().port}`;

  const profile = trackTempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-it-chromium-')));
  t.after(() => removeTempDir(profile));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_BIN,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30_000,
  });
  let closed = false;
  const closeBrowser = async () => {
    if (closed) return;
    closed = true;
    await context.close();
    await closePageServer();
  };
  t.after(closeBrowser);
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(m.text()));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(`${pageOrigin}/`, { timeout: 15_000 });
  const size = 5 * 1024 * 1024;
  const t0 = Date.now();
  const result = await page.evaluate(([endpoint, n]) => runUpload(endpoint, n), [srv.url, size]);
  t.diagnostic(`browser upload took ${Date.now() - t0} ms`);
  await closeBrowser();
  assert.ok(result.ok, `browser upload failed: ${result.error}\nconsole:\n${consoleLines.join('\n')}`);
  assert.match(result.url, /^http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]{32}$/);
  const g = await getSha256(result.url);
  assert.equal(g.status, 200);
  assert.equal(g.length, size);
  assert.equal(g.sha256, result.sha, 'bytes downloaded differ from the Blob the page uploaded');
});
