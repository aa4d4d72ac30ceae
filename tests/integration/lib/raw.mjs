// Raw TCP helpers: send exact bytes, read exact bytes, parse HTTP/1.1 responses.
import net from 'node:net';

/**
 * A raw client connection that buffers everything it receives and lets the
 * caller await conditions on the received bytes or the close.
 */
export class RawConn {
  static connect(port, { host = '127.0.0.1', timeout = 5000 } = {}) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, timeout);
      sock.once('connect', () => {
        clearTimeout(timer);
        resolve(new RawConn(sock));
      });
      sock.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.chunks = [];
    this.length = 0;
    this.closed = false;
    this.error = null;
    this.waiters = [];
    sock.setNoDelay(true);
    sock.on('data', (d) => {
      this.chunks.push(d);
      this.length += d.length;
      this._notify();
    });
    sock.on('error', (e) => {
      this.error = e; // e.g. ECONNRESET / EPIPE; the data read so far stays available
    });
    sock.on('close', () => {
      this.closed = true;
      this.closedAt = Date.now();
      this._notify();
    });
  }

  get data() {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  _notify() {
    this.waiters = this.waiters.filter((w) => !w());
  }

  /** Writes bytes; resolves when they were handed to the kernel (false if the socket is gone). */
  write(bytes) {
    return new Promise((resolve) => {
      if (this.sock.destroyed || !this.sock.writable) return resolve(false);
      this.sock.write(bytes, (err) => resolve(!err));
    });
  }

  /** Half-close (FIN) our sending side. */
  end() {
    this.sock.end();
  }

  destroy() {
    this.sock.destroy();
  }

  /**
   * Resolves with the received data once `pred(data, closed)` is true. Rejects on
   * timeout, or when the peer closed and `pred` is still false.
   */
  waitUntil(pred, timeout = 5000, what = 'condition') {
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        if (pred(this.data, this.closed)) {
          clearTimeout(timer);
          resolve(this.data);
          return true;
        }
        if (this.closed) {
          clearTimeout(timer);
          reject(new Error(`connection closed before ${what}; received ${this.length} bytes:\n${preview(this.data)}`));
          return true;
        }
        return false;
      };
      if (check()) return;
      timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}; received ${this.length} bytes:\n${preview(this.data)}`));
      }, timeout);
      this.waiters.push(check);
    });
  }

  /** Waits for `n` complete responses (see parseResponses for `methods`). */
  async waitForResponses(n, { timeout = 5000, methods = [] } = {}) {
    await this.waitUntil(
      (data, closed) => parseResponses(data, { methods, closed }).responses.length >= n,
      timeout,
      `${n} response(s)`,
    );
    return parseResponses(this.data, { methods, closed: this.closed }).responses;
  }

  /** Resolves with {closed, elapsedMs} when the peer closes, or {closed:false} after `timeout`. */
  waitForClose(timeout = 5000) {
    const start = Date.now();
    return new Promise((resolve) => {
      let timer;
      const check = () => {
        if (this.closed) {
          clearTimeout(timer);
          resolve({ closed: true, elapsedMs: Date.now() - start });
          return true;
        }
        return false;
      };
      if (check()) return;
      timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve({ closed: false, elapsedMs: Date.now() - start });
      }, timeout);
      this.waiters.push(check);
    });
  }
}

function preview(buf) {
  const s = buf.subarray(0, 1500).toString('latin1');
  return JSON.stringify(s);
}

/**
 * Sends `bytes` on a fresh connection and collects the response bytes until the
 * server closes or `timeout` ms pass (no error on timeout).
 * Resolves with {data, closed, timedOut, error, responses}.
 * Options: timeout (ms, default 5000), halfClose (send FIN after writing),
 *          methods (request methods in order, to parse HEAD responses).
 */
export async function rawRequest(port, bytes, { timeout = 5000, halfClose = false, methods = [], until } = {}) {
  const c = await RawConn.connect(port);
  try {
    await c.write(bytes);
    if (halfClose) c.end();
    let timedOut = false;
    if (until) {
      try {
        await c.waitUntil((d, closed) => closed || until(d), timeout, 'until()');
      } catch {
        timedOut = !c.closed;
      }
    } else {
      const r = await c.waitForClose(timeout);
      timedOut = !r.closed;
    }
    const data = c.data;
    return {
      data,
      closed: c.closed,
      timedOut,
      error: c.error,
      responses: parseResponses(data, { methods, closed: c.closed }).responses,
    };
  } finally {
    c.destroy();
  }
}

/**
 * Parses as many complete HTTP/1.x responses as `buf` holds.
 * `methods[i]` is the method of the i-th request (HEAD responses have no body);
 * 1xx responses are returned too (they count as responses and do not consume a method).
 * A response without Content-Length/chunked encoding extends to the close (only
 * complete when `closed`).
 * Returns {responses: [{status, reason, version, headers, headerList, body, raw}], rest}.
 */
export function parseResponses(buf, { methods = [], closed = false } = {}) {
  const responses = [];
  let pos = 0;
  let reqIndex = 0;
  while (pos < buf.length) {
    const headEnd = buf.indexOf('\r\n\r\n', pos, 'latin1');
    if (headEnd < 0) break;
    const headText = buf.subarray(pos, headEnd).toString('latin1');
    const lines = headText.split('\r\n');
    const m = lines[0].match(/^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/);
    if (!m) throw new Error(`not an HTTP response status line: ${JSON.stringify(lines[0])}`);
    const status = Number(m[2]);
    const headerList = [];
    const headers = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i <= 0) throw new Error(`malformed response header line: ${JSON.stringify(line)}`);
      const name = line.slice(0, i).trim().toLowerCase();
      const value = line.slice(i + 1).trim();
      headerList.push([name, value]);
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    let bodyStart = headEnd + 4;
    let body;
    let end;
    const method = status >= 200 ? methods[reqIndex] : undefined;
    if (status < 200 || status === 204 || status === 304 || method === 'HEAD') {
      body = Buffer.alloc(0);
      end = bodyStart;
    } else if (/\bchunked\b/i.test(headers['transfer-encoding'] || '')) {
      const parts = [];
      let p = bodyStart;
      let complete = false;
      for (;;) {
        const le = buf.indexOf('\r\n', p, 'latin1');
        if (le < 0) break;
        const size = parseInt(buf.subarray(p, le).toString('latin1').split(';')[0], 16);
        if (Number.isNaN(size)) throw new Error('bad chunk size in response');
        if (size === 0) {
          // optional trailer fields, then an empty line
          const te = buf.indexOf('\r\n\r\n', le, 'latin1');
          if (te < 0) break;
          end = te + 4;
          complete = true;
          break;
        }
        if (le + 2 + size + 2 > buf.length) break;
        parts.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const len = Number(headers['content-length']);
      if (bodyStart + len > buf.length) break;
      body = buf.subarray(bodyStart, bodyStart + len);
      end = bodyStart + len;
    } else {
      if (!closed) break;
      body = buf.subarray(bodyStart);
      end = buf.length;
    }
    responses.push({
      version: m[1],
      status,
      reason: m[3] ?? '',
      headers,
      headerList,
      body,
      raw: buf.subarray(pos, end),
    });
    if (status >= 200) reqIndex++;
    pos = end;
  }
  return { responses, rest: buf.subarray(pos) };
}

/** Builds a request head (CRLF line endings) from a start line and header pairs. */
export function head(startLine, headers = []) {
  const lines = [startLine];
  for (const h of headers) lines.push(Array.isArray(h) ? `${h[0]}: ${h[1]}` : h);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
