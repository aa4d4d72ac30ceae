// Workload E client of bench/run.sh: many slow uploads held open at once.
//
//   node bench/trickle.mjs --url http://127.0.0.1:PORT/files/ --mode tus|put
//        [--conns 2000] [--rate 1024] [--seconds 20] [--ready FILE]
//
// tus: creates one upload per connection (POST, 32 at a time), then opens --conns raw TCP
//      connections, each sending one PATCH whose body (rate*seconds bytes) trickles at --rate
//      bytes per second. put: the same with one PUT per connection to URL/e-N.
// Once every connection is open and has sent its first chunk, FILE is written ("ready"), so
// bench/run.sh can start the fast upload. Prints one JSON line: held (answered 2xx with the
// right Upload-Offset), failed, and why.
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';

const opt = { conns: 2000, rate: 1024, seconds: 20, mode: 'tus', url: '', ready: '' };
const av = process.argv.slice(2);
for (let i = 0; i < av.length; i += 2) {
  const k = av[i].replace(/^--/, '');
  if (!(k in opt)) { console.error(`unknown option ${av[i]}`); process.exit(2); }
  opt[k] = typeof opt[k] === 'number' ? Number(av[i + 1]) : av[i + 1];
}
if (!opt.url) { console.error('--url is required'); process.exit(2); }
const base = new URL(opt.url);
const total = opt.rate * opt.seconds;
const chunk = Buffer.alloc(opt.rate, 0x61);
const hardDeadline = Date.now() + (opt.seconds + 90) * 1000;
setTimeout(() => { finish('deadline'); }, (opt.seconds + 90) * 1000).unref();

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
function create() {
  return new Promise((resolve, reject) => {
    const req = http.request(base, {
      method: 'POST', agent,
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(total), 'Content-Length': '0' },
    }, (res) => {
      res.resume();
      const loc = res.headers.location;
      if (res.statusCode !== 201 || !loc) return reject(new Error(`POST ${res.statusCode}`));
      resolve(new URL(loc, base).pathname);
    });
    req.setTimeout(30000, () => req.destroy(new Error('POST timeout')));
    req.on('error', reject);
    req.end();
  });
}

const stats = { held: 0, failed: 0, reasons: {}, create_ms: 0, connect_ms: 0 };
let finished = false;
function fail(why) {
  stats.failed++;
  stats.reasons[why] = (stats.reasons[why] || 0) + 1;
}
function finish(why) {
  if (finished) return;
  finished = true;
  if (why) stats.reasons[why] = (stats.reasons[why] || 0) + (opt.conns - stats.held - stats.failed);
  process.stdout.write(JSON.stringify(stats) + '\n');
  process.exit(0);
}

function trickle(path, startDelay) {
  return new Promise((resolveOpen) => {
    let sent = 0, opened = false, done = false, buf = '', timer = null;
    const sock = net.connect({ host: base.hostname, port: Number(base.port) });
    sock.setNoDelay(true);
    const end = (ok, why) => {
      if (done) return;
      done = true;
      if (timer) clearInterval(timer);
      if (ok) stats.held++; else fail(why);
      sock.destroy();
      if (!opened) { opened = true; resolveOpen(); }
      if (stats.held + stats.failed === opt.conns) finish();
    };
    sock.setTimeout((opt.seconds + 60) * 1000, () => end(false, 'timeout'));
    sock.on('error', (e) => end(false, e.code || 'error'));
    sock.on('close', () => end(false, 'closed early'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const eoh = buf.indexOf('\r\n\r\n');
      if (eoh < 0) return;
      const head = buf.slice(0, eoh);
      const code = Number(head.split(' ')[1]);
      if (sent < total) return end(false, `early ${code}`);
      if (opt.mode === 'tus') {
        const m = /\r\nupload-offset:\s*(\d+)/i.exec(head);
        if (code === 204 && m && Number(m[1]) === total) return end(true);
        return end(false, `status ${code}`);
      }
      if (code === 201 || code === 204) return end(true);
      return end(false, `status ${code}`);
    });
    sock.on('connect', () => {
      const headers = opt.mode === 'tus'
        ? `PATCH ${path} HTTP/1.1\r\nHost: ${base.host}\r\nTus-Resumable: 1.0.0\r\n` +
          `Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n`
        : `PUT ${path} HTTP/1.1\r\nHost: ${base.host}\r\n`;
      sock.write(headers + `Content-Length: ${total}\r\n\r\n`);
      const tick = () => {
        if (done || sent >= total) return;
        sock.write(chunk);
        sent += chunk.length;
        if (!opened) { opened = true; resolveOpen(); }
        if (sent >= total && timer) { clearInterval(timer); timer = null; }
      };
      setTimeout(() => {
        tick();
        timer = setInterval(tick, 1000);
      }, startDelay);
    });
  });
}

const t0 = Date.now();
const paths = [];
if (opt.mode === 'tus') {
  let next = 0;
  const workers = Array.from({ length: 32 }, async () => {
    while (next < opt.conns && Date.now() < hardDeadline) {
      const i = next++;
      try { paths[i] = await create(); } catch (e) { paths[i] = null; }
    }
  });
  await Promise.all(workers);
  agent.destroy();
} else {
  const p = base.pathname.endsWith('/') ? base.pathname : base.pathname + '/';
  for (let i = 0; i < opt.conns; i++) paths[i] = `${p}e-${i}`;
}
stats.create_ms = Date.now() - t0;
const t1 = Date.now();
const opens = [];
for (let i = 0; i < opt.conns; i++) {
  if (!paths[i]) { fail('create failed'); continue; }
  // spread the first chunks over one second so the 1 KiB/s writes are not all in step
  opens.push(trickle(paths[i], Math.floor((i * 1000) / opt.conns)));
  if (i % 200 === 199) await new Promise((r) => setTimeout(r, 20));
}
await Promise.all(opens);
stats.connect_ms = Date.now() - t1;
if (opt.ready) fs.writeFileSync(opt.ready, 'ready\n');
if (stats.held + stats.failed === opt.conns) finish();
