// The tus flow as a person would do it by hand with curl.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer } from './lib/server.mjs';
import { curl } from './lib/curl.mjs';
import { makeRandomFile } from './lib/files.mjs';
import { sha256, b64, decodeMetadata, tokens } from './lib/http.mjs';
import { MiB } from './lib/env.mjs';

const T = { timeout: 30_000 };
const TR = ['-H', 'Tus-Resumable: 1.0.0'];
const OCTET = ['-H', 'Content-Type: application/offset+octet-stream'];

describe('curl', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--max-size', String(16 * MiB)] });
  });
  after(() => srv?.stop());

  async function post(headers = [], extra = []) {
    const r = await curl(['-X', 'POST', ...TR, ...headers.flatMap((h) => ['-H', h]), ...extra, srv.url]);
    assert.equal(r.status, 201, `POST -> ${r.status} ${r.text}`);
    assert.equal(r.headers['tus-resumable'], '1.0.0');
    assert.match(r.headers.location, /^http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]{32}$/);
    return r;
  }

  function assertCurlError(r, status, what) {
    assert.equal(r.status, status, `${what}: expected ${status}, got ${r.status}: ${r.text}`);
    assert.equal(r.headers['tus-resumable'], '1.0.0', `${what}: no Tus-Resumable`);
    assert.ok(r.body.length > 0, `${what}: empty error body`);
  }

  test('full manual upload flow: POST, two PATCHes, HEAD, GET', T, async (t) => {
    const f = makeRandomFile(3 * MiB + 17, { t });
    const data = fs.readFileSync(f.path);
    const dir = path.dirname(f.path);
    const half = 2 * MiB; // > 1 MiB, so curl also sends Expect: 100-continue
    fs.writeFileSync(path.join(dir, 'p1'), data.subarray(0, half));
    fs.writeFileSync(path.join(dir, 'p2'), data.subarray(half));
    const c = await post([`Upload-Length: ${data.length}`, `Upload-Metadata: filename ${b64('manual.bin')}`]);
    const loc = c.headers.location;
    const p1 = await curl(['-X', 'PATCH', ...TR, ...OCTET, '-H', 'Upload-Offset: 0', '--data-binary', `@${path.join(dir, 'p1')}`, loc]);
    assert.equal(p1.status, 204, p1.text);
    assert.equal(p1.headers['upload-offset'], String(half));
    const h1 = await curl(['-I', ...TR, loc]);
    assert.equal(h1.status, 200);
    assert.equal(h1.headers['upload-offset'], String(half));
    assert.equal(h1.headers['upload-length'], String(data.length));
    const p2 = await curl(['-X', 'PATCH', ...TR, ...OCTET, '-H', `Upload-Offset: ${half}`, '--data-binary', `@${path.join(dir, 'p2')}`, loc]);
    assert.equal(p2.status, 204, p2.text);
    assert.equal(p2.headers['upload-offset'], String(data.length));
    const g = await curl([loc]);
    assert.equal(g.status, 200);
    assert.equal(g.body.length, data.length);
    assert.equal(sha256(g.body), f.sha256);
    assert.match(g.headers['content-disposition'] || '', /^attachment.*manual\.bin/);
  });

  test('creation-with-upload', T, async () => {
    const c = await post(['Upload-Length: 11', 'Content-Type: application/offset+octet-stream'], ['--data-binary', 'hello world']);
    assert.equal(c.headers['upload-offset'], '11');
    const g = await curl([c.headers.location]);
    assert.equal(g.status, 200);
    assert.equal(g.text, 'hello world');
  });

  test('deferred length finished by a 0-byte PATCH carrying Upload-Length', T, async () => {
    const c = await post(['Upload-Defer-Length: 1']);
    const loc = c.headers.location;
    const h = await curl(['-I', ...TR, loc]);
    assert.equal(h.headers['upload-defer-length'], '1');
    const p = await curl(['-X', 'PATCH', ...TR, ...OCTET, '-H', 'Upload-Offset: 0', '--data-binary', 'deferred!', loc]);
    assert.equal(p.status, 204, p.text);
    const fin = await curl(['-X', 'PATCH', ...TR, ...OCTET, '-H', 'Upload-Offset: 9', '-H', 'Upload-Length: 9', '-H', 'Content-Length: 0', loc]);
    assert.equal(fin.status, 204, fin.text);
    assert.equal(fin.headers['upload-offset'], '9');
    const h2 = await curl(['-I', ...TR, loc]);
    assert.equal(h2.headers['upload-length'], '9');
    assert.equal((await curl([loc])).text, 'deferred!');
  });

  test('zero-length upload: complete at creation, GET returns 0 bytes', T, async () => {
    const c = await post(['Upload-Length: 0']);
    const g = await curl([c.headers.location]);
    assert.equal(g.status, 200);
    assert.equal(g.body.length, 0);
    assert.equal(g.headers['content-length'], '0');
  });

  test('termination', T, async () => {
    const c = await post(['Upload-Length: 5']);
    const d = await curl(['-X', 'DELETE', ...TR, c.headers.location]);
    assert.equal(d.status, 204);
    assert.equal(d.headers['tus-resumable'], '1.0.0');
    const h = await curl(['-I', ...TR, c.headers.location]);
    assert.ok([404, 410].includes(h.status), `HEAD after DELETE -> ${h.status}`);
  });

  test('metadata echo', T, async () => {
    const md = `filename ${b64('report.pdf')},filetype ${b64('application/pdf')},empty`;
    const c = await post(['Upload-Length: 1', `Upload-Metadata: ${md}`]);
    const h = await curl(['-I', ...TR, c.headers.location]);
    assert.deepEqual(decodeMetadata(h.headers['upload-metadata']), { filename: 'report.pdf', filetype: 'application/pdf', empty: null });
  });

  test('409 offset mismatch mentions Upload-Offset and reports the current offset', T, async () => {
    const c = await post(['Upload-Length: 10']);
    const r = await curl(['-X', 'PATCH', ...TR, ...OCTET, '-H', 'Upload-Offset: 4', '--data-binary', 'abc', c.headers.location]);
    assertCurlError(r, 409, '409');
    assert.equal(r.headers['upload-offset'], '0');
    assert.match(r.text, /upload-offset/i);
  });

  test('412 wrong Tus-Resumable and 412 missing Tus-Resumable', T, async () => {
    const r = await curl(['-X', 'POST', '-H', 'Tus-Resumable: 0.2.2', '-H', 'Upload-Length: 1', srv.url]);
    assertCurlError(r, 412, '412 wrong');
    assert.ok(tokens(r.headers['tus-version']).includes('1.0.0'));
    const r2 = await curl(['-X', 'POST', '-H', 'Upload-Length: 1', srv.url]);
    assertCurlError(r2, 412, '412 missing');
  });

  test('413 over --max-size and 413 past Upload-Length', T, async () => {
    const r = await curl(['-X', 'POST', ...TR, '-H', `Upload-Length: ${16 * MiB + 1}`, srv.url]);
    assertCurlError(r, 413, '413 max-size');
    const c = await post(['Upload-Length: 3']);
    const p = await curl(['-X', 'PATCH', ...TR, ...OCTET, '-H', 'Upload-Offset: 0', '--data-binary', 'abcdef', c.headers.location]);
    assertCurlError(p, 413, '413 past length');
  });

  test('415 PATCH with a form content type', T, async () => {
    const c = await post(['Upload-Length: 3']);
    const p = await curl(['-X', 'PATCH', ...TR, '-H', 'Upload-Offset: 0', '--data-binary', 'abc', c.headers.location]);
    assertCurlError(p, 415, '415');
  });

  test('404 unknown upload and path traversal', T, async () => {
    const r = await curl(['-I', ...TR, `${srv.url}${'f'.repeat(32)}`]);
    assert.equal(r.status, 404);
    const r2 = await curl(['--path-as-is', ...TR, `${srv.origin}/files/../../etc/passwd`]);
    assert.equal(r2.status, 404);
    assert.ok(!r2.text.includes('root:'));
  });

  test('405 unsupported method', T, async () => {
    const c = await post(['Upload-Length: 3']);
    const r = await curl(['-X', 'PUT', ...TR, '--data-binary', 'abc', c.headers.location]);
    assert.equal(r.status, 405);
    assert.ok(r.body.length > 0);
  });

  test('filetype dGV4dC9odG1s (text/html) is served as a non-HTML attachment', T, async () => {
    const c = await post(['Upload-Length: 20', 'Upload-Metadata: filetype dGV4dC9odG1s', 'Content-Type: application/offset+octet-stream'],
      ['--data-binary', '<h1>x</h1><script>1;']);
    assert.equal(c.headers['upload-offset'], '20');
    const g = await curl([c.headers.location]);
    assert.equal(g.status, 200);
    assert.doesNotMatch(g.headers['content-type'] || '', /text\/html/i);
    assert.match(g.headers['content-disposition'] || '', /^attachment/i);
    assert.equal(g.headers['x-content-type-options'], 'nosniff');
  });

  test('Content-Disposition never contains CR/LF from the filename metadata', T, async () => {
    const evil = b64('evil\r\nX-Injected: yes\r\n.txt');
    const c = await post(['Upload-Length: 2', `Upload-Metadata: filename ${evil},filetype ${b64('text/plain')}`,
      'Content-Type: application/offset+octet-stream'], ['--data-binary', 'ok']);
    const g = await curl([c.headers.location]);
    assert.equal(g.status, 200);
    assert.equal(g.headers['x-injected'], undefined, 'header injected through filename');
    const lines = g.headText.split('\r\n');
    const cd = lines.filter((l) => /^content-disposition:/i.test(l));
    assert.equal(cd.length, 1);
    assert.ok(!lines.some((l) => /^X-Injected/i.test(l)));
    assert.equal(g.text, 'ok');
  });
});
