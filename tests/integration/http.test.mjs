// HTTP/1.1 engine behaviour of ferry, over raw sockets.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { createUpload, patch, get, offsetOf, head as tusHead } from './lib/http.mjs';
import { RawConn, rawRequest, head, parseResponses } from './lib/raw.mjs';

const T = { timeout: 20_000 };

describe('raw HTTP', () => {
  let srv;
  let host;
  before(async () => {
    srv = await startServer();
    host = `127.0.0.1:${srv.port}`;
  });
  after(() => srv?.stop());

  const pathOf = (loc) => new URL(loc).pathname;

  function assertErrorResponse(res, status, what) {
    assert.ok(res, `${what}: no response at all`);
    assert.equal(res.status, status, `${what}: expected ${status}, got ${res.status} ${res.body}`);
    assert.ok(res.body.length > 0, `${what}: empty error body`);
  }

  test('keep-alive: several requests on one connection', T, async () => {
    const { location } = await createUpload(srv.url, { length: 3 });
    const c = await RawConn.connect(srv.port);
    try {
      await c.write(head(`HEAD ${pathOf(location)} HTTP/1.1`, [['Host', host], ['Tus-Resumable', '1.0.0']]));
      let rs = await c.waitForResponses(1, { methods: ['HEAD'] });
      assert.equal(rs[0].status, 200);
      await c.write(head(`PATCH ${pathOf(location)} HTTP/1.1`, [['Host', host], ['Tus-Resumable', '1.0.0'],
        ['Upload-Offset', '0'], ['Content-Type', 'application/offset+octet-stream'], ['Content-Length', '3']]) + 'abc');
      rs = await c.waitForResponses(2, { methods: ['HEAD', 'PATCH'] });
      assert.equal(rs[1].status, 204);
      assert.equal(rs[1].headers['upload-offset'], '3');
      assert.equal(c.closed, false, 'server closed a keep-alive connection');
    } finally {
      c.destroy();
    }
  });

  test('Content-Length + Transfer-Encoding -> 400, close, smuggled request not executed', T, async () => {
    const { location } = await createUpload(srv.url, { length: 5 });
    const smuggled = head(`DELETE ${pathOf(location)} HTTP/1.1`, [['Host', host], ['Tus-Resumable', '1.0.0']]);
    for (const body of ['0\r\n\r\n', `0\r\n\r\n${smuggled}`]) {
      const req = head('POST /files/ HTTP/1.1', [['Host', host], ['Tus-Resumable', '1.0.0'], ['Upload-Length', '5'],
        ['Content-Length', String(Buffer.byteLength(body))], ['Transfer-Encoding', 'chunked']]) + body + smuggled;
      const r = await rawRequest(srv.port, req);
      assert.ok(r.closed, 'connection must be closed after a CL+TE request');
      assert.equal(r.responses.length, 1, `exactly one response expected, got ${r.responses.map((x) => x.status)}`);
      assertErrorResponse(r.responses[0], 400, 'CL+TE');
    }
    assert.equal((await tusHead(location)).status, 200, 'smuggled DELETE was executed');
  });

  test('Transfer-Encoding: gzip -> 501', T, async () => {
    const r = await rawRequest(srv.port, head('POST /files/ HTTP/1.1', [['Host', host], ['Tus-Resumable', '1.0.0'],
      ['Upload-Length', '5'], ['Transfer-Encoding', 'gzip']]) + 'xxxxx');
    assertErrorResponse(r.responses[0], 501, 'TE gzip');
  });

  test('bare LF line ending -> 400', T, async () => {
    const r = await rawRequest(srv.port, `OPTIONS /files/ HTTP/1.1\r\nHost: ${host}\nX-Foo: bar\r\n\r\n`);
    assertErrorResponse(r.responses[0], 400, 'bare LF');
    const r2 = await rawRequest(srv.port, `OPTIONS /files/ HTTP/1.1\nHost: ${host}\n\n`, { timeout: 3000 });
    assertErrorResponse(r2.responses[0], 400, 'all bare LF');
  });

  test('NUL and other control bytes in a header -> 400', T, async () => {
    for (const bad of ['X-Foo: a\0b', 'X-Foo: a\x01b', 'X Foo: bar', 'X-Foo\t: bar', ': novalue', 'X-Fo(o): bar']) {
      const r = await rawRequest(srv.port, `OPTIONS /files/ HTTP/1.1\r\nHost: ${host}\r\n${bad}\r\n\r\n`);
      assertErrorResponse(r.responses[0], 400, JSON.stringify(bad));
    }
  });

  test('head larger than 16 KiB -> 431', T, async () => {
    const r = await rawRequest(srv.port, head('OPTIONS /files/ HTTP/1.1', [['Host', host], ['X-Big', 'a'.repeat(20 * 1024)]]));
    assertErrorResponse(r.responses[0], 431, '20 KiB header');
    const many = [['Host', host]];
    for (let i = 0; i < 400; i++) many.push([`X-H${i}`, 'v'.repeat(50)]);
    const r2 = await rawRequest(srv.port, head('OPTIONS /files/ HTTP/1.1', many));
    assertErrorResponse(r2.responses[0], 431, 'many headers');
  });

  test('a head just under the limit is accepted', T, async () => {
    const r = await rawRequest(srv.port, head('OPTIONS /files/ HTTP/1.1', [['Host', host], ['Connection', 'close'], ['X-Big', 'a'.repeat(15 * 1024)]]));
    assert.ok([200, 204].includes(r.responses[0]?.status), `got ${r.responses[0]?.status}`);
  });

  test('HTTP/2.0 request line -> 505', T, async () => {
    const r = await rawRequest(srv.port, `OPTIONS /files/ HTTP/2.0\r\nHost: ${host}\r\n\r\n`);
    assertErrorResponse(r.responses[0], 505, 'HTTP/2.0');
  });

  test('malformed request lines -> 400', T, async () => {
    for (const line of ['OPTIONS  /files/ HTTP/1.1', 'OPTIONS /files/', 'OPTIONS /files/ HTTP/1.1 extra', 'GET /fi les/ HTTP/1.1']) {
      const r = await rawRequest(srv.port, `${line}\r\nHost: ${host}\r\n\r\n`);
      assertErrorResponse(r.responses[0], 400, JSON.stringify(line));
    }
  });

  test('two pipelined HEADs in one write are answered in order', T, async () => {
    const a = (await createUpload(srv.url, { length: 10, body: Buffer.from('1') })).location;
    const b = (await createUpload(srv.url, { length: 10, body: Buffer.from('22') })).location;
    const req = head(`HEAD ${pathOf(a)} HTTP/1.1`, [['Host', host], ['Tus-Resumable', '1.0.0']]) +
      head(`HEAD ${pathOf(b)} HTTP/1.1`, [['Host', host], ['Tus-Resumable', '1.0.0'], ['Connection', 'close']]);
    const r = await rawRequest(srv.port, req, { methods: ['HEAD', 'HEAD'] });
    assert.equal(r.responses.length, 2, `got ${r.responses.length} responses`);
    assert.deepEqual(r.responses.map((x) => [x.status, x.headers['upload-offset']]), [[200, '1'], [200, '2']]);
  });

  test('pipelined PATCH then HEAD: the HEAD sees the PATCH', T, async () => {
    const { location } = await createUpload(srv.url, { length: 10 });
    const p = pathOf(location);
    const req = head(`PATCH ${p} HTTP/1.1`, [['Host', host], ['Tus-Resumable', '1.0.0'], ['Upload-Offset', '0'],
      ['Content-Type', 'application/offset+octet-stream'], ['Content-Length', '4']]) + 'abcd' +
      head(`HEAD ${p} HTTP/1.1`, [['Host', host], ['Tus-Resumable', '1.0.0'], ['Connection', 'close']]);
    const r = await rawRequest(srv.port, req, { methods: ['PATCH', 'HEAD'] });
    assert.deepEqual(r.responses.map((x) => [x.status, x.headers['upload-offset']]), [[204, '4'], [200, '4']]);
  });

  test('chunked PATCH with chunk extensions and trailer fields -> 204 and correct offset', T, async () => {
    const { location } = await createUpload(srv.url, { length: 26 });
    const body = '5\r\nabcde\r\n' + '10;ext=1\r\nfghijklmnopqrstu\r\n' + '5\r\nvwxyz\r\n' + '0\r\nX-Trailer: 1\r\nX-Other: two\r\n\r\n';
    const r = await rawRequest(srv.port, head(`PATCH ${pathOf(location)} HTTP/1.1`, [['Host', host], ['Tus-Resumable', '1.0.0'],
      ['Upload-Offset', '0'], ['Content-Type', 'application/offset+octet-stream'], ['Transfer-Encoding', 'chunked'],
      ['Connection', 'close']]) + body);
    assert.equal(r.responses[0]?.status, 204, r.data.toString('latin1'));
    assert.equal(r.responses[0].headers['upload-offset'], '26');
    assert.equal((await get(location)).text, 'abcdefghijklmnopqrstuvwxyz');
  });

  test('malformed chunked body -> 400', T, async () => {
    const { location } = await createUpload(srv.url, { length: 26 });
    const r = await rawRequest(srv.port, head(`PATCH ${pathOf(location)} HTTP/1.1`, [['Host', host], ['Tus-Resumable', '1.0.0'],
      ['Upload-Offset', '0'], ['Content-Type', 'application/offset+octet-stream'], ['Transfer-Encoding', 'chunked']]) + 'zz\r\nabc\r\n0\r\n\r\n');
    assertErrorResponse(r.responses[0], 400, 'bad chunk size');
    assert.ok(r.closed);
  });

  test('Expect: 100-continue gets "100 Continue" before the body is sent', T, async () => {
    const { location } = await createUpload(srv.url, { length: 8 });
    const c = await RawConn.connect(srv.port);
    try {
      await c.write(head(`PATCH ${pathOf(location)} HTTP/1.1`, [['Host', host], ['Tus-Resumable', '1.0.0'],
        ['Upload-Offset', '0'], ['Content-Type', 'application/offset+octet-stream'], ['Content-Length', '8'],
        ['Expect', '100-continue']]));
      const rs = await c.waitForResponses(1, { methods: ['PATCH'], timeout: 3000 });
      assert.equal(rs[0].status, 100, `first response should be 100 Continue, got ${rs[0].status}`);
      assert.match(c.data.toString('latin1'), /^HTTP\/1\.1 100 Continue\r\n/);
      await c.write('12345678');
      const all = await c.waitForResponses(2, { methods: ['PATCH'] });
      assert.equal(all[1].status, 204);
      assert.equal(all[1].headers['upload-offset'], '8');
    } finally {
      c.destroy();
    }
    assert.equal((await get(location)).text, '12345678');
  });

  test('Expect: 100-continue on a request with a wrong offset -> 409', T, async () => {
    const { location } = await createUpload(srv.url, { length: 8 });
    const c = await RawConn.connect(srv.port);
    try {
      await c.write(head(`PATCH ${pathOf(location)} HTTP/1.1`, [['Host', host], ['Tus-Resumable', '1.0.0'],
        ['Upload-Offset', '5'], ['Content-Type', 'application/offset+octet-stream'], ['Content-Length', '3'],
        ['Expect', '100-continue']]));
      let rs = await c.waitForResponses(1, { methods: ['PATCH'], timeout: 3000 });
      if (rs[0].status === 100) {
        // validating before "100 Continue" is preferred, but answering after the body is allowed
        await c.write('abc');
        rs = (await c.waitForResponses(2, { methods: ['PATCH'], timeout: 3000 })).slice(1);
      }
      assert.equal(rs[0].status, 409);
    } finally {
      c.destroy();
    }
  });

  test('garbage after a valid request -> the request is answered, then 400 and close', T, async () => {
    const { location } = await createUpload(srv.url, { length: 1 });
    const req = head(`HEAD ${pathOf(location)} HTTP/1.1`, [['Host', host], ['Tus-Resumable', '1.0.0']]) +
      '\x16\x03\x01\x02\x00garbage\xff\xfe\r\n\r\n';
    const r = await rawRequest(srv.port, Buffer.from(req, 'latin1'), { methods: ['HEAD', 'X'] });
    assert.equal(r.responses[0]?.status, 200);
    assertErrorResponse(r.responses[1], 400, 'garbage');
    assert.ok(r.closed, 'connection should be closed after garbage');
  });

  test('Connection: close is honoured', T, async () => {
    const r = await rawRequest(srv.port, head('OPTIONS /files/ HTTP/1.1', [['Host', host], ['Connection', 'close']]), { timeout: 3000 });
    assert.ok([200, 204].includes(r.responses[0]?.status));
    assert.ok(r.closed, 'server kept the connection open despite Connection: close');
  });

  test('a request body is fully read even when answered with an error (connection stays usable)', T, async () => {
    const { location } = await createUpload(srv.url, { length: 100 });
    await patch(location, 0, Buffer.from('x'));
    const c = await RawConn.connect(srv.port);
    try {
      // wrong offset (409) with a 10-byte body, then a valid HEAD on the same connection
      await c.write(head(`PATCH ${pathOf(location)} HTTP/1.1`, [['Host', host], ['Tus-Resumable', '1.0.0'],
        ['Upload-Offset', '0'], ['Content-Type', 'application/offset+octet-stream'], ['Content-Length', '10']]) + '0123456789' +
        head(`HEAD ${pathOf(location)} HTTP/1.1`, [['Host', host], ['Tus-Resumable', '1.0.0']]));
      const methods = ['PATCH', 'HEAD'];
      await c.waitUntil((d, closed) => closed || parseResponses(d, { methods }).responses.length >= 2, 5000, 'two responses or close');
      const rs = parseResponses(c.data, { methods, closed: c.closed }).responses;
      assert.equal(rs[0]?.status, 409);
      // closing after an error is allowed, but a second response must be in sync with the stream
      if (rs.length > 1) {
        assert.equal(rs[1].status, 200);
        assert.equal(rs[1].headers['upload-offset'], '1');
      }
    } finally {
      c.destroy();
    }
    assert.equal(await offsetOf(location), 1);
  });
});
