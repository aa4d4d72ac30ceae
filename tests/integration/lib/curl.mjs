// curl helper: spawns `curl -sS -i ...` and parses the (last) response.
import { spawn } from 'node:child_process';
import { trackChild } from './procs.mjs';

/**
 * curl(args, {input, timeout}) -> {code, status, headers, headerList, headText, body: Buffer, text, stderr}
 * 1xx interim responses printed by -i are skipped. With `-I` (HEAD) the body is empty.
 */
export function curl(args, { input, timeout = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const argv = ['-sS', '-i', '--max-time', String(Math.ceil(timeout / 1000)), ...args];
    const proc = trackChild(spawn('curl', argv, { stdio: [input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'] }));
    const out = [];
    let stderr = '';
    proc.stdout.on('data', (d) => out.push(d));
    proc.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeout + 2000);
    proc.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    if (input !== undefined) proc.stdin.end(input);
    proc.once('close', (code) => {
      clearTimeout(timer);
      const buf = Buffer.concat(out);
      try {
        resolve({ code, stderr, argv, ...parseCurlOutput(buf) });
      } catch (e) {
        e.message += `\ncurl ${argv.join(' ')}\nexit ${code}, stderr: ${stderr}`;
        reject(e);
      }
    });
  });
}

function parseCurlOutput(buf) {
  let pos = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', pos, 'latin1');
    if (end < 0) {
      if (pos === 0 && buf.length === 0) return { status: 0, headers: {}, headerList: [], headText: '', body: buf, text: '' };
      throw new Error(`no complete response head in curl output: ${JSON.stringify(buf.subarray(0, 500).toString('latin1'))}`);
    }
    const headText = buf.subarray(pos, end).toString('latin1');
    const lines = headText.split('\r\n');
    const m = lines[0].match(/^HTTP\/[\d.]+ (\d{3})/);
    if (!m) throw new Error(`bad status line in curl output: ${JSON.stringify(lines[0])}`);
    const status = Number(m[1]);
    if (status >= 100 && status < 200) {
      pos = end + 4;
      continue;
    }
    const headers = {};
    const headerList = [];
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      const name = line.slice(0, i).trim().toLowerCase();
      const value = line.slice(i + 1).trim();
      headerList.push([name, value]);
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    const body = buf.subarray(end + 4);
    return { status, headers, headerList, headText, body, text: body.toString('utf8') };
  }
}
