// Tests of the fault-injecting proxy itself (tests/tools/faultproxy.c) against
// small Node TCP servers, so that the other suites can rely on its semantics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import { startProxy } from './lib/proxy.mjs';
import { RawConn } from './lib/raw.mjs';

/** A TCP server that records every connection's received bytes; `mode` decides what it answers. */
async function startSink(t, { mode = 'count' } = {}) {
  const conns = [];
  const waiters = [];
  const server = net.createServer((sock) => {
    const rec = { bytes: 0, chunks: [], ended: false, closed: false, error: null, sock };
    conns.push(rec);
    sock.on('data', (d) => {
      rec.bytes += d.length;
      if (mode === 'echo') sock.write(d);
      else if (mode === 'keep') rec.chunks.push(d);
      notify();
    });
    sock.on('end', () => {
      rec.ended = true;
      if (mode === 'count') sock.end(`got ${rec.bytes}\n`);
      if (mode === 'keep') sock.end(crypto.createHash('sha256').update(Buffer.concat(rec.chunks)).digest('hex'));
      notify();
    });
    sock.on('error', (e) => {
      rec.error = e.code;
      notify();
    });
    sock.on('close', () => {
      rec.closed = true;
      notify();
    });
  });
  function notify() {
    for (const w of waiters.splice(0)) if (!w()) waiters.push(w);
  }
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => {
    for (const c of conns) c.sock.destroy();
    server.close(r);
  }));
  return {
    port: server.address().port,
    conns,
    waitFor(pred, ms = 5000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('sink condition timed out')), ms);
        const w = () => {
          if (pred()) {
            clearTimeout(timer);
            resolve();
            return true;
          }
          return false;
        };
        if (!w()) waiters.push(w);
      });
    },
  };
}

test('passes bytes through unchanged in both directions and propagates half-close', { timeout: 20_000 }, async (t) => {
  const sink = await startSink(t, { mode: 'keep' });
  const proxy = await startProxy({ target: sink.port, t });
  const c = await RawConn.connect(proxy.port);
  const payload = crypto.randomBytes(3 * 1024 * 1024 + 123);
  await c.write(payload);
  c.end(); // FIN must reach the sink, which then answers with the sha256
  await c.waitUntil((_d, closed) => closed, 10_000, 'close after the sink answered');
  assert.equal(c.data.toString(), crypto.createHash('sha256').update(payload).digest('hex'));
  assert.equal(sink.conns[0].bytes, payload.length);
  assert.equal(proxy.cuts(), 0);
});

test('--cut-after N forwards exactly N bytes upstream, then resets both sides', { timeout: 20_000 }, async (t) => {
  const sink = await startSink(t);
  const proxy = await startProxy({ target: sink.port, cutAfter: 100_000, t });
  const c = await RawConn.connect(proxy.port);
  await c.write(Buffer.alloc(300_000, 0x61));
  const r = await c.waitForClose(5000);
  assert.ok(r.closed, 'client side was not closed');
  assert.equal(c.error?.code, 'ECONNRESET', `client should see a reset, saw ${c.error?.code}`);
  await sink.waitFor(() => sink.conns[0]?.closed);
  assert.equal(sink.conns[0].bytes, 100_000);
  assert.equal(sink.conns[0].error, 'ECONNRESET', 'server side should see a reset');
  assert.equal(proxy.cuts(), 1);
  assert.match(proxy.stderrText(), /conn=1 cut up=100000 /);
});

test('--cut-random picks a per-connection cut point within [MIN, MAX]', { timeout: 20_000 }, async (t) => {
  const sink = await startSink(t);
  const proxy = await startProxy({ target: sink.port, cutRandom: [1000, 50_000], seed: 42, t });
  for (let i = 0; i < 5; i++) {
    const c = await RawConn.connect(proxy.port);
    await c.write(Buffer.alloc(100_000, 0x62));
    assert.ok((await c.waitForClose(5000)).closed);
  }
  await sink.waitFor(() => sink.conns.length === 5 && sink.conns.every((x) => x.closed));
  const counts = sink.conns.map((x) => x.bytes);
  for (const n of counts) assert.ok(n >= 1000 && n <= 50_000, `cut at ${n}`);
  assert.ok(new Set(counts).size > 1, `cut points should vary: ${counts}`);
  assert.equal(proxy.cuts(), 5);
});

test('--cut-direction down counts server->client bytes', { timeout: 20_000 }, async (t) => {
  const sink = await startSink(t, { mode: 'echo' });
  const proxy = await startProxy({ target: sink.port, cutAfter: 5000, cutDirection: 'down', t });
  const c = await RawConn.connect(proxy.port);
  await c.write(Buffer.alloc(20_000, 0x63));
  assert.ok((await c.waitForClose(5000)).closed);
  assert.equal(c.length, 5000);
});

test('--stall-after N holds the connection open without forwarding more', { timeout: 20_000 }, async (t) => {
  const sink = await startSink(t);
  const proxy = await startProxy({ target: sink.port, stallAfter: 10_000, t });
  const c = await RawConn.connect(proxy.port);
  await c.write(Buffer.alloc(50_000, 0x64));
  await sink.waitFor(() => sink.conns[0]?.bytes >= 10_000);
  const r = await c.waitForClose(700); // nothing may happen for a while
  assert.equal(r.closed, false, 'stalled connection must stay open');
  assert.equal(sink.conns[0].bytes, 10_000);
  assert.equal(sink.conns[0].closed, false);
  assert.equal(proxy.events('stall').length, 1);
  c.destroy(); // the proxy notices the client leaving and closes upstream
  await sink.waitFor(() => sink.conns[0].closed);
});

test('--rate throttles the upstream bandwidth', { timeout: 20_000 }, async (t) => {
  const sink = await startSink(t);
  const proxy = await startProxy({ target: sink.port, rate: 200_000, t });
  const c = await RawConn.connect(proxy.port);
  const start = Date.now();
  await c.write(Buffer.alloc(300_000, 0x65));
  c.end();
  await c.waitUntil((d) => d.toString().includes('got 300000'), 10_000, 'sink reply');
  const secs = (Date.now() - start) / 1000;
  // 300 kB at 200 kB/s with a 10 kB initial burst: ~1.45 s
  assert.ok(secs >= 1.2 && secs < 4, `took ${secs}s`);
});

test('--refuse-for S resets connections during the first S seconds only', { timeout: 20_000 }, async (t) => {
  const sink = await startSink(t, { mode: 'echo' });
  const proxy = await startProxy({ target: sink.port, refuseFor: 1, t });
  // one attempt: resolves true when "ping" came back through the proxy
  const attempt = async () => {
    let d;
    try {
      d = await RawConn.connect(proxy.port);
    } catch {
      return false; // reset during the handshake
    }
    try {
      await d.write('ping');
      await d.waitUntil((x) => x.toString() === 'ping', 1500, 'echo');
      return true;
    } catch {
      return false;
    } finally {
      d.destroy();
    }
  };
  assert.equal(await attempt(), false, 'a connection in the refusal window must not be forwarded');
  assert.equal(sink.conns.length, 0, 'refused connections must not reach the target');
  // after the refusal window a connection works (bounded retry loop)
  const deadline = Date.now() + 5000;
  let echoed = false;
  while (!echoed && Date.now() < deadline) echoed = await attempt();
  assert.ok(echoed, 'proxy never started forwarding');
  assert.ok(proxy.events('refused').length >= 1);
});

test('stops with exit code 0 on SIGTERM', { timeout: 10_000 }, async (t) => {
  const sink = await startSink(t);
  const proxy = await startProxy({ target: sink.port, t });
  const exited = new Promise((r) => proxy.proc.once('exit', (code, signal) => r({ code, signal })));
  proxy.proc.kill('SIGTERM');
  assert.deepEqual(await exited, { code: 0, signal: null });
});
