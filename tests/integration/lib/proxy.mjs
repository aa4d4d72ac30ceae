// Starts build/faultproxy in front of a server.
import { spawn } from 'node:child_process';
import { FAULTPROXY_BIN, isExecutable } from './env.mjs';
import { TextCollector, exitOf, trackChild, withTimeout } from './procs.mjs';

/**
 * startProxy({target, cutAfter, cutRandom: [min, max], cutDirection, stallAfter, rate,
 *             refuseFor, seed, t})
 * `target` is a port number or "host:port". Returns {port, origin, proc, stderrText(),
 * events(kind), cuts(), connections(), stop()}.
 */
export async function startProxy(opts = {}) {
  if (!isExecutable(FAULTPROXY_BIN)) {
    throw new Error(`faultproxy not found at ${FAULTPROXY_BIN} (build it, or set FAULTPROXY_BIN)`);
  }
  const target = typeof opts.target === 'number' ? `127.0.0.1:${opts.target}` : opts.target;
  if (!target) throw new Error('startProxy: target is required');
  const argv = ['--listen', `127.0.0.1:${opts.port ?? 0}`, '--target', target, '--die-with-parent'];
  if (opts.cutAfter != null) argv.push('--cut-after', String(opts.cutAfter));
  if (opts.cutRandom) argv.push('--cut-random', `${opts.cutRandom[0]}:${opts.cutRandom[1]}`);
  if (opts.cutDirection) argv.push('--cut-direction', opts.cutDirection);
  if (opts.stallAfter != null) argv.push('--stall-after', String(opts.stallAfter));
  if (opts.rate != null) argv.push('--rate', String(opts.rate));
  if (opts.refuseFor != null) argv.push('--refuse-for', String(opts.refuseFor));
  if (opts.seed != null) argv.push('--seed', String(opts.seed));
  const proc = trackChild(spawn(FAULTPROXY_BIN, argv, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const stdout = new TextCollector(proc.stdout);
  const stderr = new TextCollector(proc.stderr);
  let m;
  try {
    m = await withTimeout(
      Promise.race([
        stdout.waitFor(/^listening on 127\.0\.0\.1:(\d+)$/m, 5000, 'faultproxy readiness'),
        new Promise((_, reject) => proc.once('error', reject)),
      ]),
      5500,
      'faultproxy readiness',
    );
  } catch (e) {
    proc.kill('SIGKILL');
    e.message += `\nstderr:\n${stderr.text}`;
    throw e;
  }
  const port = Number(m[1]);
  const events = (kind) =>
    stderr.text
      .split('\n')
      .map((l) => l.match(/^faultproxy conn=(\d+) (\S+)(.*)$/))
      .filter((x) => x && (!kind || x[2] === kind))
      .map((x) => ({ conn: Number(x[1]), kind: x[2], rest: x[3].trim() }));
  const handle = {
    port,
    origin: `http://127.0.0.1:${port}`,
    proc,
    stderrText: () => stderr.text,
    events,
    cuts: () => events('cut').length,
    connections: () => events('accepted').length + events('refused').length,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exitOf(proc);
        clearTimeout(timer);
      }
    },
  };
  if (opts.t) opts.t.after(() => handle.stop());
  return handle;
}
