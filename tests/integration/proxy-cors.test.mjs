// Upload URLs behind a reverse proxy (--behind-proxy) and the CORS origin allow-list.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { checkedServers } from './lib/checked.mjs';
import { TUS, request, patch, head, get } from './lib/http.mjs';
import { RawConn, parseResponses, head as rawHead } from './lib/raw.mjs';

// Every server this file starts is checked for sanitizer reports when the file is done.
const startServer = checkedServers();

const T = { timeout: 20_000 };
const ID = '[0-9a-f]{32}';

const post = (srv, headers = {}) => request(srv.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': '3', ...headers } });

describe('--behind-proxy', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--behind-proxy'] });
  });
  after(() => srv?.stop());

  test('X-Forwarded-Proto/Host/Prefix build the Location', T, async () => {
    const r = await post(srv, { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'example.org', 'X-Forwarded-Prefix': '/api' });
    assert.equal(r.status, 201, r.text);
    assert.match(r.headers.location, new RegExp(`^https://example\\.org/api/files/${ID}$`));
    // the upload itself is reachable under the server's own path
    const local = `${srv.origin}${new URL(r.headers.location).pathname.replace(/^\/api/, '')}`;
    assert.equal((await patch(local, 0, Buffer.from('abc'))).status, 204);
    assert.equal((await get(local)).text, 'abc');
  });

  test('Forwarded: proto=https;host=example.org builds the Location', T, async () => {
    for (const fwd of ['proto=https;host=example.org', 'for=192.0.2.1;proto=https;host="example.org", for=10.0.0.1;proto=http;host=inner']) {
      const r = await post(srv, { Forwarded: fwd });
      assert.equal(r.status, 201, r.text);
      assert.match(r.headers.location, new RegExp(`^https://example\\.org/files/${ID}$`), `Forwarded: ${fwd}`);
    }
    const withPort = await post(srv, { Forwarded: 'proto=https;host="example.org:8443"' });
    assert.match(withPort.headers.location, new RegExp(`^https://example\\.org:8443/files/${ID}$`));
  });

  test('only the Host header is used when no forwarding header is present', T, async () => {
    const r = await post(srv);
    assert.match(r.headers.location, new RegExp(`^http://127\\.0\\.0\\.1:${srv.port}/files/${ID}$`));
  });

  test('implausible forwarded values never end up in the Location', T, async () => {
    const r1 = await post(srv, { 'X-Forwarded-Proto': 'javascript', 'X-Forwarded-Host': 'example.org' });
    assert.match(r1.headers.location, new RegExp(`^http://example\\.org/files/${ID}$`));
    const r2 = await post(srv, { 'X-Forwarded-Host': 'evil.example/x?y', 'X-Forwarded-Prefix': '//evil"' });
    assert.equal(r2.status, 201);
    assert.ok(!r2.headers.location.includes('evil'), `Location: ${r2.headers.location}`);
  });

  test('concatenation behind the proxy: forwarded partial URLs are accepted and echoed', T, async () => {
    const fwd = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'example.org', 'X-Forwarded-Prefix': '/api' };
    const parts = [];
    for (const s of ['ab', 'cde']) {
      const r = await request(srv.url, { method: 'POST', headers: { ...TUS, ...fwd, 'Upload-Length': String(s.length), 'Upload-Concat': 'partial' } });
      assert.equal(r.status, 201);
      const local = `${srv.origin}${new URL(r.headers.location).pathname.replace(/^\/api/, '')}`;
      assert.equal((await patch(local, 0, Buffer.from(s))).status, 204);
      parts.push(r.headers.location);
    }
    const f = await request(srv.url, { method: 'POST', headers: { ...TUS, ...fwd, 'Upload-Concat': `final;${parts.join(' ')}` } });
    assert.equal(f.status, 201, f.text);
    const local = `${srv.origin}${new URL(f.headers.location).pathname.replace(/^\/api/, '')}`;
    const h = await head(local, fwd);
    assert.equal(h.headers['upload-concat'], `final;${parts.join(' ')}`);
    assert.equal((await get(local)).text, 'abcde');
  });

  test('the IETF 104 and 201 carry the forwarded Location', T, async () => {
    const c = await RawConn.connect(srv.port);
    try {
      await c.write(rawHead('POST /files/ HTTP/1.1', [
        ['Host', 'internal:1080'], ['X-Forwarded-Proto', 'https'], ['X-Forwarded-Host', 'example.org'],
        ['Upload-Draft-Interop-Version', '8'], ['Upload-Complete', '?0'], ['Content-Length', '0'],
      ]));
      await c.waitUntil((d) => parseResponses(d).responses.some((r) => r.status >= 200), 5000, 'final response');
      const rs = parseResponses(c.data).responses;
      assert.deepEqual(rs.map((r) => r.status), [104, 201]);
      for (const r of rs) assert.match(r.headers.location, new RegExp(`^https://example\\.org/files/${ID}$`));
    } finally {
      c.destroy();
    }
  });
});

test('without --behind-proxy forwarding headers are ignored', T, async (t) => {
  const srv = await startServer({ t });
  const r = await post(srv, {
    'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'example.org', 'X-Forwarded-Prefix': '/api',
    Forwarded: 'proto=https;host=example.org',
  });
  assert.equal(r.status, 201);
  assert.match(r.headers.location, new RegExp(`^http://127\\.0\\.0\\.1:${srv.port}/files/${ID}$`));
});

describe('--cors-origins allow-list', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--cors-origins', 'http://a.example,http://b.example'] });
  });
  after(() => srv?.stop());

  test('an allowed Origin is echoed with Vary: Origin on preflight, creation and errors', T, async () => {
    const pre = await request(srv.url, {
      method: 'OPTIONS',
      headers: { Origin: 'http://a.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'tus-resumable, upload-length' },
    });
    assert.ok([200, 204].includes(pre.status));
    assert.equal(pre.headers['access-control-allow-origin'], 'http://a.example');
    assert.match(pre.headers.vary || '', /\bOrigin\b/i);
    assert.match(pre.headers['access-control-allow-methods'] || '', /\bPATCH\b/);
    const p = await post(srv, { Origin: 'http://b.example' });
    assert.equal(p.status, 201);
    assert.equal(p.headers['access-control-allow-origin'], 'http://b.example');
    assert.match(p.headers.vary || '', /\bOrigin\b/i);
    const exposed = (p.headers['access-control-expose-headers'] || '').toLowerCase();
    for (const h of ['location', 'upload-offset', 'upload-length']) assert.ok(exposed.includes(h), `not exposed: ${h}`);
    const e = await request(`${srv.url}${'0'.repeat(32)}`, { method: 'HEAD', headers: { ...TUS, Origin: 'http://a.example' } });
    assert.equal(e.status, 404);
    assert.equal(e.headers['access-control-allow-origin'], 'http://a.example', 'errors need CORS headers too');
  });

  test('other origins get no Access-Control-Allow-Origin', T, async () => {
    for (const origin of ['http://evil.example', 'http://a.example.evil', 'https://a.example', 'null']) {
      const pre = await request(srv.url, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST' } });
      assert.equal(pre.headers['access-control-allow-origin'], undefined, `preflight from ${origin}`);
      const p = await post(srv, { Origin: origin });
      assert.equal(p.headers['access-control-allow-origin'], undefined, `POST from ${origin}`);
      assert.equal(p.headers['access-control-expose-headers'], undefined);
    }
  });

  test('the default (*) allows any origin', T, async (t) => {
    const s2 = await startServer({ t });
    const p = await post(s2, { Origin: 'http://evil.example' });
    assert.equal(p.headers['access-control-allow-origin'], '*');
  });
});
