// HTTP client helpers (node:http, one connection per request unless an agent is given)
// plus small tus protocol helpers and assertions used across the suite.
import http from 'node:http';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

/**
 * request(url, {method, headers, body, agent, timeout}) -> {status, headers, body: Buffer, text}
 * `body` may be a Buffer/string; headers are sent as given (no Tus-Resumable added).
 */
export function request(url, { method = 'GET', headers = {}, body, agent = false, timeout = 20_000 } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent, timeout },
      (res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body: b, text: b.toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out after ${timeout} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

export const TUS = { 'Tus-Resumable': '1.0.0' };

export function b64(s) {
  return Buffer.from(s, 'utf8').toString('base64');
}

/** Encodes {key: value|null} as an Upload-Metadata header value. */
export function encodeMetadata(obj) {
  return Object.entries(obj)
    .map(([k, v]) => (v === null ? k : `${k} ${b64(v)}`))
    .join(',');
}

/** Decodes an Upload-Metadata header into {key: value|null}. */
export function decodeMetadata(s) {
  const out = {};
  for (const part of (s || '').split(',')) {
    const p = part.trim();
    if (!p) continue;
    const [k, v] = p.split(/\s+/);
    out[k] = v === undefined ? null : Buffer.from(v, 'base64').toString('utf8');
  }
  return out;
}

/** Asserts the response carries Tus-Resumable: 1.0.0. */
export function assertTusResumable(res, what = '') {
  assert.equal(res.headers['tus-resumable'], '1.0.0', `Tus-Resumable: 1.0.0 missing on ${what} (status ${res.status})`);
}

/** Asserts an error response: status, Tus-Resumable, non-empty text body (optionally mentioning `mention`). */
export function assertError(res, status, { mention, what = '' } = {}) {
  assert.equal(res.status, status, `${what}: expected ${status}, got ${res.status}: ${res.text}`);
  assertTusResumable(res, what);
  assert.ok(res.body.length > 0, `${what}: error response ${status} has an empty body`);
  if (res.headers['content-type'] !== undefined) {
    assert.match(res.headers['content-type'], /^text\/plain/i, `${what}: error body should be text/plain`);
  }
  if (mention) {
    assert.ok(
      res.text.toLowerCase().includes(mention.toLowerCase()),
      `${what}: error body should mention ${mention}: ${JSON.stringify(res.text)}`,
    );
  }
}

const ID_PATH_RE = /^\/files\/[0-9a-f]{32}$/;

/**
 * POST base -> asserts 201 and a well-formed absolute Location; returns {location, res}.
 * opts: length, deferred, metadata (object or raw string), body, headers, expectStatus
 */
export async function createUpload(base, { length, deferred = false, metadata, body, headers = {}, basePathRe } = {}) {
  const h = { ...TUS, ...headers };
  if (deferred) h['Upload-Defer-Length'] = '1';
  else if (length !== undefined) h['Upload-Length'] = String(length);
  if (metadata !== undefined) h['Upload-Metadata'] = typeof metadata === 'string' ? metadata : encodeMetadata(metadata);
  if (body !== undefined) {
    h['Content-Type'] = 'application/offset+octet-stream';
    h['Content-Length'] = String(body.length);
  } else {
    h['Content-Length'] = '0';
  }
  const res = await request(base, { method: 'POST', headers: h, body });
  assert.equal(res.status, 201, `POST ${base} -> ${res.status} ${res.text}`);
  assertTusResumable(res, 'POST');
  const location = res.headers.location;
  assert.ok(location, '201 without Location');
  const u = new URL(location); // throws when not absolute
  const b = new URL(base);
  assert.equal(u.protocol, 'http:');
  assert.equal(u.host, b.host, `Location host ${u.host} != request host ${b.host}`);
  assert.match(u.pathname, basePathRe ?? ID_PATH_RE, `Location ${location}`);
  return { location, res };
}

export function head(url, headers = {}) {
  return request(url, { method: 'HEAD', headers: { ...TUS, ...headers } });
}

export function patch(url, offset, body, headers = {}) {
  return request(url, {
    method: 'PATCH',
    headers: {
      ...TUS,
      'Upload-Offset': String(offset),
      'Content-Type': 'application/offset+octet-stream',
      'Content-Length': String(body.length),
      ...headers,
    },
    body,
  });
}

export function del(url, headers = {}) {
  return request(url, { method: 'DELETE', headers: { ...TUS, ...headers } });
}

export function get(url, headers = {}) {
  return request(url, { method: 'GET', headers });
}

/** HEAD and return the Upload-Offset as a number (asserts 200). */
export async function offsetOf(url) {
  const r = await head(url);
  assert.equal(r.status, 200, `HEAD ${url} -> ${r.status}`);
  const off = Number(r.headers['upload-offset']);
  assert.ok(Number.isSafeInteger(off) && off >= 0, `bad Upload-Offset ${r.headers['upload-offset']}`);
  return off;
}

export function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

/** Splits a comma-separated header value into lower-case tokens. */
export function tokens(value) {
  return (value || '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

/** Streams GET url to compute sha256 and length without buffering (for big files). */
export function getSha256(url, { timeout = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout }, (res) => {
      const h = crypto.createHash('sha256');
      let n = 0;
      res.on('data', (d) => {
        h.update(d);
        n += d.length;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, sha256: h.digest('hex'), length: n }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}
