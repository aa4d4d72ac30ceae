// Hostile traffic against a --auth jwt server: a table of malformed and malicious requests
// (smuggling, CL/TE conflicts, overflowing numbers, traversal ids, NUL bytes, oversized heads and
// metadata, method-override abuse, forged/expired/foreign tokens, odd request forms, pipelined
// garbage), 8 at a time, each on a fresh raw connection, each answered with the documented status;
// all of it while a legitimate 32 MiB tus upload runs and completes intact.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkedServers } from './lib/checked.mjs';
import { TUS, request, createUpload, head as tusHead, patch, sha256 } from './lib/http.mjs';
import { RawConn, parseResponses } from './lib/raw.mjs';
import { trackTempDir, removeTempDir } from './lib/procs.mjs';
import { MiB, KiB } from './lib/env.mjs';

// Every server this file starts is checked for sanitizer reports when the file is done.
const startServer = checkedServers();

const SANITIZED = process.env.FERRY_TEST_SANITIZED === '1';
const REPORT = process.env.FERRY_HOSTILE_REPORT === '1'; // print every case's outcome
const CONCURRENCY = 8;
const LEGIT_SIZE = 32 * MiB;
const MAX_HEADER = 8 * KiB;
const MAX_METADATA = 1 * KiB;

// --- tokens (HS256 minted here with node:crypto) ---
const keyDir = trackTempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-it-hostile-')));
after(() => removeTempDir(keyDir));
const SECRET = crypto.randomBytes(32).toString('hex');
const secretFile = path.join(keyDir, 'jwt.secret');
fs.writeFileSync(secretFile, SECRET);
const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
function mint(payload, { secret = SECRET, header = { alg: 'HS256', typ: 'JWT' } } = {}) {
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}
const ALICE = mint({ sub: 'alice', exp: now() + 3600 });
const BOB = mint({ sub: 'bob', exp: now() + 3600 });
const EXPIRED = mint({ sub: 'alice', exp: now() - 3600 });
const FORGED = mint({ sub: 'alice', exp: now() + 3600 }, { secret: crypto.randomBytes(32).toString('hex') });
const NONE = `${b64u({ alg: 'none', typ: 'JWT' })}.${b64u({ sub: 'alice', exp: now() + 3600 })}.`;

// --- the case table ---
//
// Each case builds the exact bytes of one connection from a context
//   {host, auth (header line), up (a fresh unfinished upload of 100 bytes), done (a fresh finished one)}
// and names the status it must get: a number, or a list when the documents allow either (e.g. a
// transfer coding that is both malformed and unsupported). `seq` lists statuses of pipelined
// responses; `close` demands the connection is closed after the response (framing errors);
// `check(ctx)` runs afterwards (e.g. the smuggled DELETE was not executed).

const CRLF = '\r\n';
const HEX = '0123456789abcdef';
const b64 = (s) => Buffer.from(s).toString('base64');
/** A request head (+ body) with Host and a valid token unless told otherwise. */
function req(method, target, headers = [], body = '', { host = true, auth = true, version = 'HTTP/1.1' } = {}) {
  return (ctx) => {
    const lines = [`${method} ${typeof target === 'function' ? target(ctx) : target} ${version}`];
    if (host) lines.push(`Host: ${ctx.host}`);
    if (auth) lines.push(`Authorization: Bearer ${ALICE}`);
    for (const h of typeof headers === 'function' ? headers(ctx) : headers) lines.push(Array.isArray(h) ? `${h[0]}: ${h[1]}` : h);
    return Buffer.concat([Buffer.from(lines.join(CRLF) + CRLF + CRLF, 'latin1'), Buffer.from(typeof body === 'function' ? body(ctx) : body, 'latin1')]);
  };
}
const TR = 'Tus-Resumable: 1.0.0';
const OCT = 'Content-Type: application/offset+octet-stream';
const up = (ctx) => `/files/${ctx.up}`;
const done = (ctx) => `/files/${ctx.done}`;
const smuggled = (ctx) => `DELETE /files/${ctx.up} HTTP/1.1${CRLF}Host: ${ctx.host}${CRLF}Authorization: Bearer ${ALICE}${CRLF}${TR}${CRLF}${CRLF}`;
/** After a smuggling attempt: the upload the smuggled DELETE named still exists, untouched. */
async function notSmuggled(ctx) {
  const h = await tusHead(`${ctx.base}${ctx.up}`, { Authorization: `Bearer ${ALICE}` });
  assert.equal(h.status, 200, 'the smuggled DELETE was executed');
}
async function untouched(ctx) {
  const h = await tusHead(`${ctx.base}${ctx.up}`, { Authorization: `Bearer ${ALICE}` });
  assert.equal(h.status, 200, 'the upload is gone');
  assert.equal(h.headers['upload-offset'], '0', 'bytes were stored by a refused request');
}
async function doneIntact(ctx) {
  const g = await request(`${ctx.base}${ctx.done}`, { headers: { Authorization: `Bearer ${ALICE}` } });
  assert.equal(g.status, 200, 'the finished upload is gone');
  assert.equal(g.body.length, 100);
}

const patchHead = (extra = []) => [TR, OCT, 'Upload-Offset: 0', ...extra];
const CASES = [
  // --- request smuggling: CL.TE / TE.CL / obfuscated TE ---
  ['CL.TE: Content-Length then chunked', req('POST', '/files/', [TR, 'Upload-Length: 5', 'Content-Length: 5', 'Transfer-Encoding: chunked'], (c) => `0${CRLF}${CRLF}${smuggled(c)}`), 400, { close: true, check: notSmuggled }],
  ['TE.CL: chunked then Content-Length', req('POST', '/files/', [TR, 'Upload-Length: 5', 'Transfer-Encoding: chunked', 'Content-Length: 3'], (c) => `8${CRLF}SMUGGLED${CRLF}0${CRLF}${CRLF}${smuggled(c)}`), 400, { close: true, check: notSmuggled }],
  ['TE "chunked, identity" + CL', req('PATCH', up, patchHead(['Content-Length: 5', 'Transfer-Encoding: chunked, identity']), (c) => `0${CRLF}${CRLF}${smuggled(c)}`), 400, { close: true, check: notSmuggled }],
  ['TE "chunked, identity" alone', req('PATCH', up, patchHead(['Transfer-Encoding: chunked, identity']), (c) => `0${CRLF}${CRLF}${smuggled(c)}`), [400, 501], { close: true, check: notSmuggled }],
  ['TE "identity, chunked"', req('PATCH', up, patchHead(['Transfer-Encoding: identity, chunked']), (c) => `0${CRLF}${CRLF}${smuggled(c)}`), [400, 501], { close: true, check: notSmuggled }],
  ['TE with extra leading space + CL', req('PATCH', up, patchHead(['Content-Length: 5', 'Transfer-Encoding:   chunked']), (c) => `0${CRLF}${CRLF}${smuggled(c)}`), 400, { close: true, check: notSmuggled }],
  ['TE "chunked\\x0b"', req('PATCH', up, patchHead(['Content-Length: 5', 'Transfer-Encoding: chunked\x0b']), (c) => `0${CRLF}${CRLF}${smuggled(c)}`), 400, { close: true, check: notSmuggled }],
  ['TE "chunked\\x0b" without CL', req('PATCH', up, patchHead(['Transfer-Encoding: chunked\x0b']), (c) => `0${CRLF}${CRLF}${smuggled(c)}`), [400, 501], { close: true, check: notSmuggled }],
  ['TE "\\tchunked" + CL', req('PATCH', up, patchHead(['Content-Length: 5', 'Transfer-Encoding:\tchunked']), (c) => `0${CRLF}${CRLF}${smuggled(c)}`), 400, { close: true, check: notSmuggled }],
  ['duplicate TE chunked/chunked', req('PATCH', up, patchHead(['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked']), (c) => `0${CRLF}${CRLF}${smuggled(c)}`), [400, 501], { close: true, check: notSmuggled }],
  ['duplicate TE chunked + CL', req('PATCH', up, patchHead(['Transfer-Encoding: chunked', 'Content-Length: 5', 'Transfer-Encoding: chunked']), (c) => `0${CRLF}${CRLF}${smuggled(c)}`), 400, { close: true, check: notSmuggled }],
  ['TE "Chunked" (case) + CL', req('PATCH', up, patchHead(['Content-Length: 5', 'Transfer-Encoding: Chunked']), (c) => `0${CRLF}${CRLF}${smuggled(c)}`), 400, { close: true, check: notSmuggled }],
  ['TE header name with space before colon', req('PATCH', up, patchHead(['Content-Length: 5', 'Transfer-Encoding : chunked']), (c) => `0${CRLF}${CRLF}${smuggled(c)}`), 400, { close: true, check: notSmuggled }],
  ['TE via obs-fold', req('PATCH', up, patchHead(['Content-Length: 5', 'Transfer-Encoding: identity', ' chunked']), (c) => `0${CRLF}${CRLF}${smuggled(c)}`), 400, { close: true, check: notSmuggled }],
  ['TE "xchunked"', req('PATCH', up, patchHead(['Transfer-Encoding: xchunked']), '0\r\n\r\n'), 501, { close: true, check: untouched }],
  ['TE "chunked;q=1"', req('PATCH', up, patchHead(['Transfer-Encoding: chunked;q=1']), '0\r\n\r\n'), [400, 501], { close: true, check: untouched }],
  ['TE "gzip, chunked"', req('PATCH', up, patchHead(['Transfer-Encoding: gzip, chunked']), '0\r\n\r\n'), 501, { close: true, check: untouched }],
  ['TE chunked on HTTP/1.0', req('PATCH', up, patchHead(['Transfer-Encoding: chunked']), (c) => `0${CRLF}${CRLF}${smuggled(c)}`, { version: 'HTTP/1.0' }), [400, 501, 505], { close: true, check: notSmuggled }],
  ['CL "+5"', req('PATCH', up, patchHead(['Content-Length: +5']), 'hello'), 400, { close: true, check: untouched }],
  ['CL "1,2"', req('PATCH', up, patchHead(['Content-Length: 1,2']), 'hel'), 400, { close: true, check: untouched }],
  ['CL "5, 6"', req('PATCH', up, patchHead(['Content-Length: 5, 6']), 'hello!'), 400, { close: true, check: untouched }],
  ['two different CL headers', req('PATCH', up, patchHead(['Content-Length: 5', 'Content-Length: 6']), 'hello!'), 400, { close: true, check: untouched }],
  ['CL "-1"', req('PATCH', up, patchHead(['Content-Length: -1']), 'x'), 400, { close: true, check: untouched }],
  ['CL "0x05"', req('PATCH', up, patchHead(['Content-Length: 0x05']), 'hello'), 400, { close: true, check: untouched }],
  ['CL "1e3"', req('PATCH', up, patchHead(['Content-Length: 1e3']), 'hello'), 400, { close: true, check: untouched }],
  ['CL empty', req('PATCH', up, patchHead(['Content-Length: ']), 'hello'), 400, { close: true, check: untouched }],
  ['CL "5 5"', req('PATCH', up, patchHead(['Content-Length: 5 5']), 'hello'), 400, { close: true, check: untouched }],
  ['CL 2^64 (overflow)', req('PATCH', up, patchHead(['Content-Length: 18446744073709551616']), 'hello'), [400, 413], { close: true, check: untouched }],
  ['CL 30 digits', req('PATCH', up, patchHead([`Content-Length: ${'9'.repeat(30)}`]), 'hello'), [400, 413], { close: true, check: untouched }],
  ['CL 2^63 on POST', req('POST', '/files/', [TR, 'Upload-Length: 5', OCT, 'Content-Length: 9223372036854775808'], 'hello'), [400, 413], { close: true }],
  // --- numbers in tus headers ---
  ['Upload-Length -1', req('POST', '/files/', [TR, 'Upload-Length: -1']), 400],
  ['Upload-Length 2^63', req('POST', '/files/', [TR, 'Upload-Length: 9223372036854775808']), [400, 413]],
  ['Upload-Length 2^63-1 (over --max-size)', req('POST', '/files/', [TR, 'Upload-Length: 9223372036854775807']), 413],
  ['Upload-Length 2^64+1', req('POST', '/files/', [TR, 'Upload-Length: 18446744073709551617']), [400, 413]],
  ['Upload-Length 40 digits', req('POST', '/files/', [TR, `Upload-Length: ${'9'.repeat(40)}`]), [400, 413]],
  ['Upload-Length "+10"', req('POST', '/files/', [TR, 'Upload-Length: +10']), 400],
  ['Upload-Length "1.5"', req('POST', '/files/', [TR, 'Upload-Length: 1.5']), 400],
  ['Upload-Length "0x10"', req('POST', '/files/', [TR, 'Upload-Length: 0x10']), 400],
  ['Upload-Length empty', req('POST', '/files/', [TR, 'Upload-Length: ']), 400],
  ['Upload-Length "10, 10"', req('POST', '/files/', [TR, 'Upload-Length: 10, 10']), 400],
  ['Upload-Length and Upload-Defer-Length', req('POST', '/files/', [TR, 'Upload-Length: 10', 'Upload-Defer-Length: 1']), 400],
  ['Upload-Defer-Length 2', req('POST', '/files/', [TR, 'Upload-Defer-Length: 2']), 400],
  ['neither Upload-Length nor Defer', req('POST', '/files/', [TR]), 400],
  ['Upload-Offset -1', req('PATCH', up, [TR, OCT, 'Upload-Offset: -1', 'Content-Length: 1'], 'x'), 400, { check: untouched }],
  ['Upload-Offset 2^64', req('PATCH', up, [TR, OCT, 'Upload-Offset: 18446744073709551616', 'Content-Length: 1'], 'x'), [400, 409], { check: untouched }],
  ['Upload-Offset "+0"', req('PATCH', up, [TR, OCT, 'Upload-Offset: +0', 'Content-Length: 1'], 'x'), 400, { check: untouched }],
  ['Upload-Offset missing', req('PATCH', up, [TR, OCT, 'Content-Length: 1'], 'x'), 400, { check: untouched }],
  ['Upload-Offset mismatch', req('PATCH', up, [TR, OCT, 'Upload-Offset: 7', 'Content-Length: 1'], 'x'), 409, { check: untouched }],
  ['body past Upload-Length', req('PATCH', up, patchHead(['Content-Length: 200']), 'x'.repeat(200)), 413],
  ['chunk size 18 hex digits', req('PATCH', up, patchHead(['Transfer-Encoding: chunked']), `ffffffffffffffffff${CRLF}x${CRLF}0${CRLF}${CRLF}`), [400, 413], { close: true, check: untouched }],
  ['chunk size 2^64', req('PATCH', up, patchHead(['Transfer-Encoding: chunked']), `10000000000000000${CRLF}x${CRLF}0${CRLF}${CRLF}`), [400, 413], { close: true, check: untouched }],
  ['chunk size "-1"', req('PATCH', up, patchHead(['Transfer-Encoding: chunked']), `-1${CRLF}x${CRLF}0${CRLF}${CRLF}`), 400, { close: true, check: untouched }],
  ['chunk size "0x5"', req('PATCH', up, patchHead(['Transfer-Encoding: chunked']), `0x5${CRLF}hello${CRLF}0${CRLF}${CRLF}`), 400, { close: true, check: untouched }],
  ['chunk size "+5"', req('PATCH', up, patchHead(['Transfer-Encoding: chunked']), `+5${CRLF}hello${CRLF}0${CRLF}${CRLF}`), 400, { close: true, check: untouched }],
  ['chunk size empty', req('PATCH', up, patchHead(['Transfer-Encoding: chunked']), `${CRLF}hello${CRLF}0${CRLF}${CRLF}`), 400, { close: true, check: untouched }],
  ['chunk data longer than its size', req('PATCH', up, patchHead(['Transfer-Encoding: chunked']), `3${CRLF}hello${CRLF}0${CRLF}${CRLF}`), 400, { close: true }],
  ['chunk extension of 10 KB', req('PATCH', up, patchHead(['Transfer-Encoding: chunked']), `5;ext=${'e'.repeat(10_000)}${CRLF}hello${CRLF}0${CRLF}${CRLF}`), [400, 413, 431], { close: true }],
  ['trailer of 10 KB', req('PATCH', up, patchHead(['Transfer-Encoding: chunked']), `5${CRLF}hello${CRLF}0${CRLF}X-Trailer: ${'t'.repeat(10_000)}${CRLF}${CRLF}`), [400, 413, 431], { close: true }],
  ['chunked body past Upload-Length', req('PATCH', up, patchHead(['Transfer-Encoding: chunked']), `c8${CRLF}${'x'.repeat(200)}${CRLF}0${CRLF}${CRLF}`), 413],
  // --- ids and paths ---
  ['id "../etc/passwd"', req('HEAD', '/files/../etc/passwd', [TR]), [400, 404]],
  ['id "..%2f..%2fetc%2fpasswd"', req('HEAD', '/files/..%2f..%2fetc%2fpasswd', [TR]), [400, 404]],
  ['id "%2e%2e/%2e%2e/etc/passwd"', req('HEAD', '/files/%2e%2e/%2e%2e/etc/passwd', [TR]), [400, 404]],
  ['id "%2e%2e%2f<id>.info"', req('GET', (c) => `/files/%2e%2e%2f${c.done}.info`), [400, 404]],
  ['target "/../../etc/passwd"', req('GET', '/../../etc/passwd'), [400, 404]],
  ['id "..\\\\..\\\\boot.ini"', req('GET', '/files/..\\..\\boot.ini'), [400, 404]],
  ['31-char id', req('HEAD', (c) => `/files/${c.up.slice(0, 31)}`, [TR]), 404],
  ['33-char id', req('HEAD', (c) => `/files/${c.up}0`, [TR]), 404],
  ['uppercase hex id', req('HEAD', (c) => `/files/${c.up.toUpperCase()}`, [TR]), 404, { check: untouched }],
  ['id with a non-hex char', req('HEAD', (c) => `/files/${c.up.slice(0, 31)}g`, [TR]), 404],
  ['id + ".info"', req('GET', (c) => `/files/${c.done}.info`), 404],
  ['id + trailing slash', req('HEAD', (c) => `/files/${c.up}/`, [TR]), 404],
  ['id + "%00"', req('HEAD', (c) => `/files/${c.up}%00`, [TR]), [400, 404]],
  ['id + "%2f"', req('HEAD', (c) => `/files/${c.up}%2f`, [TR]), [400, 404]],
  ['id percent-encoded', req('HEAD', (c) => `/files/${[...c.up].map((ch) => `%${ch.charCodeAt(0).toString(16)}`).join('')}`, [TR]), [400, 404]],
  ['"/files//<id>"', req('HEAD', (c) => `/files//${c.up}`, [TR]), [400, 404]],
  ['"/files/<id>/../<id>"', req('DELETE', (c) => `/files/${c.up}/../${c.up}`, [TR]), [400, 404], { check: untouched }],
  ['"/files/x/../<id>" DELETE', req('DELETE', (c) => `/files/x/../${c.up}`, [TR]), [400, 404], { check: untouched }],
  ['"/files/./<id>" DELETE', req('DELETE', (c) => `/files/./${c.up}`, [TR]), [400, 404], { check: untouched }],
  // --- NUL and control bytes, bad header names ---
  ['NUL in the request target', req('HEAD', (c) => `/files/${c.up}\0`, [TR]), 400, { close: true }],
  ['NUL in the method', req('HE\0AD', up, [TR]), 400, { close: true }],
  ['NUL in the version', req('HEAD', up, [TR], '', { version: 'HTTP/1.1\0' }), 400, { close: true }],
  ['NUL in a header value', req('HEAD', up, [TR, 'X-Foo: a\0b']), 400, { close: true }],
  ['NUL in a header name', req('HEAD', up, [TR, 'X-F\0oo: ab']), 400, { close: true }],
  ['NUL in the token', req('HEAD', up, [TR, `Authorization: Bearer ${ALICE.slice(0, 20)}\0${ALICE.slice(20)}`], '', { auth: false }), 400, { close: true }],
  ['header name with a space', req('POST', '/files/', [TR, 'Upload Length: 5']), 400, { close: true }],
  ['header name with a trailing tab', req('POST', '/files/', [TR, 'Upload-Length\t: 5']), 400, { close: true }],
  ['header line without a colon', req('HEAD', up, [TR, 'NoColonHere']), 400, { close: true }],
  ['empty header name', req('HEAD', up, [TR, ': value']), 400, { close: true }],
  ['obs-fold right after the request line', req('HEAD', up, [' folded: x', TR]), 400, { close: true }],
  ['bare CR in a header value', req('HEAD', up, [TR, 'X-Foo: a\rb']), 400, { close: true }],
  ['DEL in a header value', req('HEAD', up, [TR, 'X-Foo: a\x7fb']), 400, { close: true }],
  ['bare LF line ending', (c) => Buffer.from(`HEAD /files/${c.up} HTTP/1.1\r\nHost: ${c.host}\nAuthorization: Bearer ${ALICE}\r\n${TR}\r\n\r\n`), 400, { close: true }],
  // --- sizes ---
  [`Upload-Metadata over --max-metadata-size (${MAX_METADATA})`, req('POST', '/files/', [TR, 'Upload-Length: 5', `Upload-Metadata: filename ${b64('x'.repeat(2000))}`]), 431],
  [`head over --max-header-size (${MAX_HEADER})`, req('POST', '/files/', [TR, 'Upload-Length: 5', `X-Big: ${'a'.repeat(MAX_HEADER + 100)}`]), 431, { close: true }],
  ['request target of 10 KB', req('HEAD', `/files/${'a'.repeat(10_000)}`, [TR]), [414, 431], { close: true }],
  ['1000 small headers', req('HEAD', up, [TR, ...Array.from({ length: 1000 }, (_, i) => `X-H${i}: v`)]), 431, { close: true }],
  // at most 64 header fields (FY_HTTP_MAX_HEADERS), whatever their size
  ['200 small headers (within the size limit)', req('HEAD', up, [TR, ...Array.from({ length: 200 }, (_, i) => `X-H${i}: v`)]), 431],
  ['60 small headers', req('HEAD', up, [TR, ...Array.from({ length: 57 }, (_, i) => `X-H${i}: v`)]), 200],
  ['metadata: bad base64', req('POST', '/files/', [TR, 'Upload-Length: 5', 'Upload-Metadata: filename !!!!']), 400],
  ['metadata: non-canonical base64', req('POST', '/files/', [TR, 'Upload-Length: 5', 'Upload-Metadata: filename eA']), 400],
  ['metadata: duplicate keys', req('POST', '/files/', [TR, 'Upload-Length: 5', `Upload-Metadata: a ${b64('1')},a ${b64('2')}`]), 400],
  ['metadata: key with a non-printable byte', req('POST', '/files/', [TR, 'Upload-Length: 5', `Upload-Metadata: fi\x80le ${b64('1')}`]), 400],
  ['metadata: three fields in a pair', req('POST', '/files/', [TR, 'Upload-Length: 5', `Upload-Metadata: a ${b64('1')} ${b64('2')}`]), 400],
  ['metadata: 65 keys', req('POST', '/files/', [TR, 'Upload-Length: 5', `Upload-Metadata: ${Array.from({ length: 65 }, (_, i) => `k${i}`).join(',')}`]), 400],
  ['metadata: empty key', req('POST', '/files/', [TR, 'Upload-Length: 5', `Upload-Metadata: ,a ${b64('1')}`]), 400],
  // --- X-HTTP-Method-Override abuse ---
  ['GET + override DELETE (unfinished)', req('GET', up, ['X-HTTP-Method-Override: DELETE']), 409, { check: untouched }],
  ['GET + override DELETE (finished)', req('GET', done, ['X-HTTP-Method-Override: DELETE']), 200, { check: doneIntact }],
  ['HEAD + override DELETE', req('HEAD', up, [TR, 'X-HTTP-Method-Override: DELETE']), 200, { check: untouched }],
  ['PATCH + override DELETE', req('PATCH', up, patchHead(['X-HTTP-Method-Override: DELETE', 'Content-Length: 0'])), 204, { check: untouched }],
  ['POST + override PUT', req('POST', up, [TR, 'X-HTTP-Method-Override: PUT']), 400, { check: untouched }],
  ['POST + override "delete" (case)', req('POST', up, [TR, 'X-HTTP-Method-Override: delete']), 400, { check: untouched }],
  ['POST + override OPTIONS', req('POST', up, [TR, 'X-HTTP-Method-Override: OPTIONS']), 400, { check: untouched }],
  ['POST + override empty', req('POST', up, [TR, 'X-HTTP-Method-Override: ']), 400, { check: untouched }],
  ['POST + override DELETE without a token', req('POST', up, [TR, 'X-HTTP-Method-Override: DELETE'], '', { auth: false }), 401, { check: untouched }],
  ['POST + override DELETE with an expired token', req('POST', up, [TR, 'X-HTTP-Method-Override: DELETE', `Authorization: Bearer ${EXPIRED}`], '', { auth: false }), 401, { check: untouched }],
  ['POST + override DELETE with another owner\'s token', req('POST', up, [TR, 'X-HTTP-Method-Override: DELETE', `Authorization: Bearer ${BOB}`], '', { auth: false }), 404, { check: untouched }],
  ['POST + override DELETE on the collection', req('POST', '/files/', [TR, 'X-HTTP-Method-Override: DELETE']), 405],
  ['POST + override PATCH, wrong Content-Type', req('POST', up, [TR, 'X-HTTP-Method-Override: PATCH', 'Upload-Offset: 0', 'Content-Type: text/plain', 'Content-Length: 1'], 'x'), 415, { check: untouched }],
  // --- tokens ---
  ['forged token (other secret)', req('POST', '/files/', [TR, 'Upload-Length: 5', `Authorization: Bearer ${FORGED}`], '', { auth: false }), 401],
  ['expired token', req('HEAD', up, [TR, `Authorization: Bearer ${EXPIRED}`], '', { auth: false }), 401],
  ['alg none token', req('DELETE', up, [TR, `Authorization: Bearer ${NONE}`], '', { auth: false }), 401, { check: untouched }],
  ['no token', req('DELETE', up, [TR], '', { auth: false }), 401, { check: untouched }],
  ['Basic credentials', req('DELETE', up, [TR, 'Authorization: Basic YWxpY2U6YWxpY2U='], '', { auth: false }), 401, { check: untouched }],
  ['two tokens in one header', req('HEAD', up, [TR, `Authorization: Bearer ${ALICE} ${ALICE}`], '', { auth: false }), 401],
  ['token of 9 KB', req('HEAD', up, [TR, `Authorization: Bearer ${mint({ sub: 'alice', exp: now() + 3600, pad: 'p'.repeat(6600) })}`], '', { auth: false }), [401, 431]],
  ['token with a trailing dot', req('HEAD', up, [TR, `Authorization: Bearer ${ALICE}.`], '', { auth: false }), 401],
  ['another owner: HEAD', req('HEAD', up, [TR, `Authorization: Bearer ${BOB}`], '', { auth: false }), 404],
  ['another owner: PATCH', req('PATCH', up, [...patchHead(['Content-Length: 5']), `Authorization: Bearer ${BOB}`], 'hello', { auth: false }), 404, { check: untouched }],
  ['another owner: DELETE', req('DELETE', up, [TR, `Authorization: Bearer ${BOB}`], '', { auth: false }), 404, { check: untouched }],
  ['another owner: GET', req('GET', done, [`Authorization: Bearer ${BOB}`], '', { auth: false }), 404, { check: doneIntact }],
  ['another owner: concatenation partial', req('POST', '/files/', (c) => [TR, `Upload-Concat: final;/files/${c.done}`, `Authorization: Bearer ${BOB}`], '', { auth: false }), 404],
  // --- request forms and versions ---
  ['HTTP/0.9 "GET /"', () => Buffer.from('GET /\r\n'), 400, { close: true }],
  ['HTTP/0.9 "GET /files/<id>"', (c) => Buffer.from(`GET /files/${c.done}\r\n\r\n`), 400, { close: true }],
  // RFC 9112 3.2.2: the authority of an absolute-form target replaces Host; ferry serves one
  // origin, so it is an ordinary (authorised) request.
  ['absolute-form naming another host', req('HEAD', (c) => `http://evil.example/files/${c.up}`, [TR]), 200],
  ['OPTIONS *', req('OPTIONS', '*', [], '', { auth: false }), [200, 204, 400, 404]],
  ['HTTP/2.0', req('HEAD', up, [TR], '', { version: 'HTTP/2.0' }), 505, { close: true }],
  ['HTTP/3.0', req('HEAD', up, [TR], '', { version: 'HTTP/3.0' }), 505, { close: true }],
  ['HTTP/1.10', req('HEAD', up, [TR], '', { version: 'HTTP/1.10' }), [400, 505], { close: true }],
  ['"HTTP/1.1 " (trailing space)', req('HEAD', up, [TR], '', { version: 'HTTP/1.1 ' }), 400, { close: true }],
  ['"http/1.1" lower case', req('HEAD', up, [TR], '', { version: 'http/1.1' }), 400, { close: true }],
  ['HTTP/2 prior-knowledge preface', () => Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), [400, 505], { close: true }],
  ['TLS ClientHello bytes', () => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), crypto.randomBytes(64), Buffer.from('\r\n\r\n')]), 400, { close: true }],
  ['two spaces in the request line', req('HEAD', (c) => ` /files/${c.up}`, [TR]), 400, { close: true }],
  ['tab-separated request line', (c) => Buffer.from(`HEAD\t/files/${c.up}\tHTTP/1.1\r\nHost: ${c.host}\r\n\r\n`), 400, { close: true }],
  ['lower-case method', req('head', up, [TR]), [400, 405, 501]],
  ['unknown method BREW', req('BREW', '/files/', [TR]), [405, 501]],
  ['TRACE', req('TRACE', up, [TR]), [405, 501]],
  ['CONNECT authority-form', req('CONNECT', (c) => c.host, [TR]), [400, 405, 501]],
  ['PUT on an upload (tus)', req('PUT', up, [TR, 'Content-Length: 1'], 'x'), 405, { check: untouched }],
  ['no Host on HTTP/1.1', req('HEAD', up, [TR], '', { host: false }), 400],
  ['two Host headers', req('HEAD', up, [TR, 'Host: evil.example']), 400],
  // RFC 9110 10.1.1: a server MAY answer an unknown expectation with 417 (or ignore it)
  ['Expect: chocolate', req('POST', '/files/', [TR, 'Upload-Length: 5', 'Expect: chocolate']), [201, 417]],
  // --- protocol-level misuse ---
  ['Tus-Resumable 0.2.2', req('POST', '/files/', ['Tus-Resumable: 0.2.2', 'Upload-Length: 5']), 412],
  ['Tus-Resumable missing on PATCH', req('PATCH', up, [OCT, 'Upload-Offset: 0', 'Content-Length: 1'], 'x'), 412, { check: untouched }],
  ['PATCH with text/plain', req('PATCH', up, [TR, 'Content-Type: text/plain', 'Upload-Offset: 0', 'Content-Length: 1'], 'x'), 415, { check: untouched }],
  ['PATCH on the collection', req('PATCH', '/files/', patchHead(['Content-Length: 1']), 'x'), 405],
  ['DELETE on the collection', req('DELETE', '/files/', [TR]), 405],
  ['GET outside the base path', req('GET', '/etc/passwd'), 404],
  ['Upload-Concat final over a traversal URL', req('POST', '/files/', [TR, 'Upload-Concat: final;/files/../../etc/passwd']), [400, 404]],
  ['Upload-Concat final over a foreign URL', req('POST', '/files/', (c) => [TR, `Upload-Concat: final;http://evil.example/files/${c.done}`]), [400, 404]],
  ['Upload-Concat "final;" (empty list)', req('POST', '/files/', [TR, 'Upload-Concat: final;']), 400],
  ['Upload-Checksum bad base64', req('PATCH', up, patchHead(['Upload-Checksum: sha1 !!!', 'Content-Length: 1']), 'x'), 400, { check: untouched }],
  ['Upload-Checksum unknown algorithm', req('PATCH', up, patchHead(['Upload-Checksum: md4 AAAA', 'Content-Length: 1']), 'x'), 400, { check: untouched }],
  ['IETF interop 99', req('POST', '/files/', ['Upload-Draft-Interop-Version: 99', 'Upload-Complete: ?0', 'Content-Length: 0']), 400],
  ['IETF Upload-Complete "maybe"', req('POST', '/files/', ['Upload-Draft-Interop-Version: 6', 'Upload-Complete: maybe', 'Content-Length: 0']), 400],
  ['IETF append to another owner\'s upload', req('PATCH', up, ['Upload-Draft-Interop-Version: 6', 'Upload-Complete: ?0', 'Upload-Offset: 0', 'Content-Type: application/partial-upload', 'Content-Length: 1', `Authorization: Bearer ${BOB}`], 'x', { auth: false }), 404, { check: untouched }],
  ['Range with a 30-digit start', req('GET', done, [`Range: bytes=${'9'.repeat(30)}-`]), [200, 416], { check: doneIntact }],
  ['Range "bytes=-0"', req('GET', done, ['Range: bytes=-0']), [200, 416]],
  // --- pipelining ---
  ['pipelined: HEAD then garbage', (c) => Buffer.concat([req('HEAD', up, [TR])(c), Buffer.from('\x16\x03\x01 garbage \x00\xff\r\n\r\n', 'latin1')]), null, { seq: [200, 400], methods: ['HEAD'], close: true }],
  ['pipelined: HEAD, PATCH with a bad CL, smuggled DELETE', (c) => Buffer.concat([req('HEAD', up, [TR])(c), req('PATCH', up, patchHead(['Content-Length: 1,2']), 'x')(c), Buffer.from(smuggled(c))]), null, { seq: [200, 400], methods: ['HEAD', 'PATCH'], close: true, check: notSmuggled }],
  ['pipelined: 50 HEADs', (c) => Buffer.concat(Array.from({ length: 50 }, () => req('HEAD', up, [TR])(c))), null, { seq: Array(50).fill(200), methods: Array(50).fill('HEAD') }],
];

/** Runs one case on a fresh connection; returns {responses, closed, raw}. */
async function runCase(port, bytes, { seq, methods, close }) {
  methods ??= [bytes.toString('latin1').split(' ')[0]];
  const c = await RawConn.connect(port);
  try {
    await c.write(bytes);
    const want = seq ? seq.length : 1;
    const parsed = () => parseResponses(c.data, { methods, closed: c.closed }).responses.filter((r) => r.status >= 200);
    try {
      await c.waitUntil((d, closed) => closed || parsed().length >= want, 8000, 'the response');
    } catch {
      /* timed out: judged below */
    }
    // framing errors must close: give the close a moment after the response
    if (close && !c.closed) await c.waitForClose(1000);
    let responses;
    try {
      responses = parsed();
    } catch (e) {
      responses = [{ status: -1, reason: `unparsable response: ${e.message}`, headers: {}, body: c.data }];
    }
    return { responses, closed: c.closed, raw: c.data };
  } finally {
    c.destroy();
  }
}

async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  }));
  return results;
}

test(`${CASES.length} hostile requests get the documented status while a 32 MiB upload completes intact`, { timeout: 120_000 }, async (t) => {
  assert.ok(CASES.length >= 100, `only ${CASES.length} cases`);
  const srv = await startServer({
    args: ['--auth', 'jwt', '--jwt-secret-file', secretFile, '--max-size', '64M', '--max-header-size', String(MAX_HEADER),
      '--max-metadata-size', String(MAX_METADATA), '--max-uploads-per-owner', '0'],
  });
  const A = { Authorization: `Bearer ${ALICE}` };
  const host = `127.0.0.1:${srv.port}`;

  // The legitimate upload: 1 MiB PATCHes, paced by the hostile cases (PATCH i starts once
  // i/32 of the table is done) so that the hostile traffic spans the whole upload.
  let casesDone = 0;
  const progress = [];
  const caseFinished = () => {
    casesDone++;
    for (const w of progress.splice(0)) w();
  };
  const waitCases = async (n) => {
    while (casesDone < n) await new Promise((r) => progress.push(r));
  };
  const source = crypto.randomBytes(LEGIT_SIZE);
  const nPatches = LEGIT_SIZE / MiB;
  let legitDone = false;
  const legit = (async () => {
    const { location } = await createUpload(srv.url, { length: LEGIT_SIZE, headers: A, metadata: { filename: 'legit.bin' } });
    let patches = 0;
    for (let off = 0, i = 0; off < LEGIT_SIZE; off += MiB, i++) {
      await waitCases(Math.floor((i * CASES.length) / nPatches));
      const r = await patch(location, off, source.subarray(off, off + MiB), A);
      assert.equal(r.status, 204, `legit PATCH at ${off} -> ${r.status} ${r.text}`);
      assert.equal(r.headers['upload-offset'], String(Math.min(off + MiB, LEGIT_SIZE)));
      patches++;
    }
    return { location, patches };
  })().finally(() => (legitDone = true));
  legit.catch(() => {}); // awaited below

  const ctxBase = { host, base: srv.url, port: srv.port };
  async function freshCtx() {
    const u = await createUpload(srv.url, { length: 100, headers: A });
    const d = await createUpload(srv.url, { length: 100, headers: A, body: crypto.randomBytes(100) });
    return { ...ctxBase, up: new URL(u.location).pathname.split('/').pop(), done: new URL(d.location).pathname.split('/').pop() };
  }

  const failures = [];
  let during = 0;
  await mapLimit(CASES, CONCURRENCY, async ([name, build, expect, opts = {}]) => {
    try {
      const ctx = await freshCtx();
      const bytes = build(ctx);
      const r = await runCase(srv.port, bytes, opts);
      if (!legitDone) during++;
      const statuses = r.responses.map((x) => x.status);
      const problems = [];
      if (opts.seq) {
        if (JSON.stringify(statuses.slice(0, opts.seq.length)) !== JSON.stringify(opts.seq)) problems.push(`statuses ${JSON.stringify(statuses)}, expected ${JSON.stringify(opts.seq)}`);
      } else {
        const ok = Array.isArray(expect) ? expect : [expect];
        if (statuses.length === 0) problems.push(`no response (closed=${r.closed})`);
        else if (!ok.includes(statuses[0])) problems.push(`status ${statuses[0]}, expected ${ok.join(' or ')}`);
        if (statuses.length > 1) problems.push(`${statuses.length} responses (${statuses.join(',')}): something after the request was executed`);
      }
      const first = r.responses[0];
      const method = bytes.toString('latin1').split(' ')[0];
      if (first && first.status >= 400 && method !== 'HEAD' && first.body.length === 0) problems.push(`error ${first.status} with an empty body`);
      if (opts.close && !r.closed) problems.push('connection left open after a framing error');
      if (opts.check) {
        try {
          await opts.check(ctx);
        } catch (e) {
          problems.push(`after-check: ${e.message.split('\n')[0]}`);
        }
      }
      if (REPORT) t.diagnostic(`${name}: ${JSON.stringify(statuses)} closed=${r.closed}${first ? ` ${JSON.stringify(first.body.toString('latin1').slice(0, 100))}` : ''}`);
      if (problems.length) failures.push(`${name}: ${problems.join('; ')}\n    response: ${JSON.stringify(r.raw.toString('latin1').slice(0, 300))}`);
    } finally {
      caseFinished();
    }
  });
  // still up: a fresh connection is served
  const o = await request(srv.url, { method: 'OPTIONS', headers: TUS });
  assert.ok(o.status === 200 || o.status === 204, `server stopped answering: OPTIONS -> ${o.status}`);

  const { location, patches } = await legit;
  assert.equal(patches, LEGIT_SIZE / MiB);
  t.diagnostic(`${CASES.length} hostile requests, ${during} of them finished while the upload was running`);
  assert.ok(during >= CASES.length / 2, `only ${during} hostile requests overlapped the legitimate upload`);
  assert.deepEqual(failures, [], `${failures.length} hostile case(s) got the wrong treatment:\n${failures.join('\n')}`);

  const h = await tusHead(location, A);
  assert.equal(h.headers['upload-offset'], String(LEGIT_SIZE));
  const g = await request(location, { headers: A, timeout: 60_000 });
  assert.equal(g.status, 200);
  assert.equal(g.body.length, LEGIT_SIZE);
  assert.equal(sha256(g.body), sha256(source), 'the legitimate upload was corrupted');
  assert.equal(srv.proc.exitCode, null, 'ferry exited');
  assert.equal(srv.proc.signalCode, null, 'ferry was killed by a signal');
});

// Singleton tus fields sent twice are silently resolved to the first value. A proxy or WAF in front
// that takes the last value (or joins them) would judge a different length/offset/type than ferry
// stores (parser differential). RFC 9110 5.3 only allows repeating list-based fields; the safe
// answer is 400, as ferry already does for Content-Length.
test('duplicate singleton tus headers are refused with 400', { timeout: 30_000 }, async () => {
  const srv = await startServer({ args: ['--auth', 'jwt', '--jwt-secret-file', secretFile, '--max-size', '1000'] });
  const A = { Authorization: `Bearer ${ALICE}` };
  const ctx = { host: `127.0.0.1:${srv.port}`, up: new URL((await createUpload(srv.url, { length: 100, headers: A })).location).pathname.split('/').pop() };
  const cases = [
    ['Upload-Length 10 then 5000 (over --max-size)', req('POST', '/files/', [TR, 'Upload-Length: 10', 'Upload-Length: 5000'])],
    ['Upload-Offset 0 then 5', req('PATCH', up, [TR, OCT, 'Upload-Offset: 0', 'Upload-Offset: 5', 'Content-Length: 1'], 'x')],
    ['Upload-Metadata twice', req('POST', '/files/', [TR, 'Upload-Length: 10', `Upload-Metadata: filename ${b64('a')}`, `Upload-Metadata: filetype ${b64('text/html')}`])],
    ['Tus-Resumable 1.0.0 then 0.2.2', req('POST', '/files/', [TR, 'Tus-Resumable: 0.2.2', 'Upload-Length: 10'])],
  ];
  const got = [];
  for (const [name, build] of cases) {
    const r = await runCase(srv.port, build(ctx), {});
    got.push(`${name}: ${r.responses[0]?.status}`);
  }
  assert.deepEqual(got, cases.map(([name]) => `${name}: 400`));
});

// RFC 9112 3.2.2: "a server MUST accept the absolute-form in requests".
// ("the request target must be an absolute path"). Safe, but a deviation some proxies trip on.
test('absolute-form request targets are accepted', { timeout: 30_000 }, async () => {
  const srv = await startServer({ args: ['--auth', 'jwt', '--jwt-secret-file', secretFile] });
  const A = { Authorization: `Bearer ${ALICE}` };
  const ctx = { host: `127.0.0.1:${srv.port}`, up: new URL((await createUpload(srv.url, { length: 100, headers: A })).location).pathname.split('/').pop() };
  const r = await runCase(srv.port, req('HEAD', (c) => `http://${c.host}/files/${c.up}`, [TR])(ctx), {});
  assert.equal(r.responses[0]?.status, 200);
});
