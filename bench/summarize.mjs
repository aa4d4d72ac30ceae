// Turns the raw TSV of bench/run.sh into the Markdown report.
//   node bench/summarize.mjs results/STAMP.tsv META_FILE > results/STAMP.md
// Round 0 (warm-up) is dropped. Medians/min-max are over the rounds that succeeded (ok=1).
import fs from 'node:fs';

const [rawPath, metaPath] = process.argv.slice(2);
const lines = fs.readFileSync(rawPath, 'utf8').trim().split('\n');
const cols = lines[0].split('\t');
const rows = lines.slice(1).filter(Boolean).map((l) => {
  const f = l.split('\t');
  const r = Object.fromEntries(cols.map((c, i) => [c, f[i] ?? '']));
  for (const k of ['round', 'value', 'bytes', 'ok', 'rss_hwm_kib', 'rss_sampled_kib', 'cpu_s']) r[k] = Number(r[k]);
  r.x = {};
  for (const kv of (r.extra || '').split(',')) {
    const i = kv.indexOf('=');
    if (i > 0) r.x[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return r;
}).filter((r) => r.round > 0);
const meta = {};
if (metaPath && fs.existsSync(metaPath)) {
  for (const l of fs.readFileSync(metaPath, 'utf8').split('\n')) {
    const i = l.indexOf('=');
    if (i > 0) meta[l.slice(0, i)] = l.slice(i + 1);
  }
}

const GiB = 1024 ** 3;
const median = (a) => {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (v, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '—');
const mib = (kib) => kib / 1024;
const sel = (w, s) => rows.filter((r) => r.workload === w && r.server === s);
const okRows = (w, s) => sel(w, s).filter((r) => r.ok === 1);
const med = (w, s, f) => median(okRows(w, s).map(f));
const val = (w, s) => med(w, s, (r) => r.value);
const cpuPerGiB = (r) => (r.bytes > 0 ? r.cpu_s / (r.bytes / GiB) : NaN);
const workloads = [...new Set(rows.map((r) => r.workload))];
const serversOf = (w) => [...new Set(rows.filter((r) => r.workload === w).map((r) => r.server))];

const names = {
  A: 'A: 1 GiB, one PATCH (nginx: one PUT)',
  B: 'B: 1 GiB as 128 × 8 MiB PATCHes, one keep-alive connection',
  C: 'C: 64 concurrent uploads of 16 MiB',
  D: 'D: 64 KiB PATCHes, 4 keep-alive connections (wrk -t4 -c4)',
  E: 'E: 2,000 uploads trickling 1 KiB/s for 20 s + one fast 1 GiB upload',
  F: 'F: one huge upload streamed from a pipe (memory, not speed)',
};
const out = [];
out.push(`# ferry benchmark — ${meta.date ?? ''}`, '');
out.push(`- command: \`${meta.command ?? 'bench/run.sh'}\` (elapsed ${meta.elapsed_s ?? '?'} s)`);
out.push(`- machine: ${meta.nproc ?? '?'} CPUs (${meta.cpu ?? '?'}), ${meta.mem ?? '?'}, ${meta.kernel ?? '?'}; work dir on ${meta.workdir_fs ?? '?'}`);
out.push(`- ferry: ${meta.ferry ?? '?'}; nginx ${meta.nginx ?? '?'}; node ${meta.node ?? '?'} with @tus/server ${meta.tus_server ?? '?'} + @tus/file-store ${meta.tus_file_store ?? '?'}; curl ${meta.curl ?? '?'}; wrk ${meta.wrk ?? '?'}`);
out.push(`- rounds: ${meta.rounds ?? '?'}${meta.f_gib ? `; F size ${meta.f_gib} GiB` : ''}. Medians and min–max over the measured rounds (warm-up round dropped); "ferry/x" is ferry's median over x's median (higher is better for ferry). Peak RSS = sum of VmHWM over the server's process tree (reset before each run), median over rounds; CPU = utime+stime of the tree (threads and children included) per GiB received.`);
if (meta.quick === '1' || /quick=1/.test(meta.rounds ?? '')) out.push('- **quick smoke run: small sizes, the numbers mean nothing**');
out.push('');

for (const w of workloads.filter((w) => 'ABCD'.includes(w))) {
  out.push(`### ${names[w] ?? w}`, '');
  out.push('| server | median | min–max | ferry/x | peak RSS MiB | CPU-s/GiB | ok runs |');
  out.push('|---|---:|---:|---:|---:|---:|---:|');
  const fv = val(w, 'ferry');
  for (const s of serversOf(w)) {
    const all = sel(w, s), ok = okRows(w, s);
    const vs = ok.map((r) => r.value);
    const unit = all[0]?.unit ?? '';
    const d = unit === 'req/s' ? 0 : 1;
    const ratio = s === 'ferry' ? '—' : `${fmt(fv / median(vs), 2)}×`;
    const rss = med(w, s, (r) => mib(r.rss_hwm_kib));
    const label = s === 'dd' ? 'dd (page cache)' : s === 'dd-sync' ? 'dd conv=fdatasync' : s;
    out.push(`| ${s === 'ferry' ? '**ferry**' : label} | ${fmt(median(vs), d)} ${unit} | ${fmt(Math.min(...vs), d)}–${fmt(Math.max(...vs), d)} | ${ratio} | ${fmt(rss)}${s.startsWith('dd') ? ' (dd)' : ''} | ${fmt(med(w, s, cpuPerGiB), 2)}${s.startsWith('dd') ? ' (dd)' : ''} | ${ok.length}/${all.length} |`);
  }
  out.push('');
}

if (workloads.includes('E')) {
  out.push(`### ${names.E}`, '');
  out.push('| server | held (each round) | peak RSS MiB (max) | sampled RSS MiB (max) | fast alone MiB/s | fast during MiB/s | during/alone (median) | CPU-s/GiB |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of serversOf('E')) {
    const all = sel('E', s);
    const ratios = all.map((r) => Number(r.x.fast_ratio));
    out.push(`| ${s === 'ferry' ? '**ferry**' : s} | ${all.map((r) => r.value).join(', ')} | ${fmt(Math.max(...all.map((r) => mib(r.rss_hwm_kib))))} | ${fmt(Math.max(...all.map((r) => mib(r.rss_sampled_kib))))} | ${fmt(median(all.map((r) => Number(r.x.fast_alone))))} | ${fmt(median(all.map((r) => Number(r.x.fast_during))))} | ${fmt(median(ratios), 2)} | ${fmt(median(all.map(cpuPerGiB)), 2)} |`);
  }
  out.push('');
}

const FLAT_KIB = 2048;
if (workloads.includes('F')) {
  out.push(`### ${names.F}`, '');
  out.push(`| server | MiB/s | peak RSS MiB (HWM) | sampled RSS MiB first half / second half | flat (growth ≤ ${FLAT_KIB / 1024} MiB) | CPU-s/GiB | ok |`);
  out.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const s of serversOf('F')) {
    const all = sel('F', s);
    const a = Math.max(...all.map((r) => Number(r.x.rss_first_half_kib)));
    const b = Math.max(...all.map((r) => Number(r.x.rss_second_half_kib)));
    out.push(`| ${s === 'ferry' ? '**ferry**' : s} | ${fmt(median(all.map((r) => r.value)))} | ${fmt(Math.max(...all.map((r) => mib(r.rss_hwm_kib))))} | ${fmt(mib(a))} / ${fmt(mib(b))} | ${b - a <= FLAT_KIB ? 'yes' : 'no'} | ${fmt(median(all.map(cpuPerGiB)), 2)} | ${all.filter((r) => r.ok).length}/${all.length} |`);
  }
  out.push('');
}

// ---- targets
const T = [];
const ratioT = (w, peer, min) => {
  if (!workloads.includes(w)) return T.push([`${w}: ferry ≥ ${min}× ${peer}`, 'not run', '—']);
  const r = val(w, 'ferry') / val(w, peer);
  T.push([`${w}: ferry ≥ ${min}× ${peer}`, `${fmt(r, 2)}×`, r >= min ? 'met' : '**missed**']);
};
for (const w of ['A', 'B', 'C']) { ratioT(w, 'nginx', 1.0); ratioT(w, 'tus-node', 2.5); }
ratioT('D', 'nginx', 2); ratioT('D', 'tus-node', 8);
if (workloads.includes('E')) {
  const e = sel('E', 'ferry');
  const held = e.map((r) => r.value);
  const need = Number(meta.e_conns ?? 2000);
  T.push([`E: all ${need} trickling uploads held (every round)`, held.join(', '), held.length && held.every((h) => h >= need) ? 'met' : '**missed**']);
  const rss = Math.max(...e.map((r) => mib(r.rss_hwm_kib)));
  T.push(['E: server peak RSS < 48 MiB', `${fmt(rss)} MiB`, rss < 48 ? 'met' : '**missed**']);
  const fr = median(e.map((r) => Number(r.x.fast_ratio)));
  T.push(['E: fast upload during ≥ 0.9× alone', `${fmt(fr, 2)}×`, fr >= 0.9 ? 'met' : '**missed**']);
} else T.push(['E', 'not run', '—']);
if (workloads.includes('F')) {
  const f = sel('F', 'ferry');
  const rss = Math.max(...f.map((r) => mib(r.rss_hwm_kib)));
  const a = Math.max(...f.map((r) => Number(r.x.rss_first_half_kib)));
  const b = Math.max(...f.map((r) => Number(r.x.rss_second_half_kib)));
  const flat = b - a <= FLAT_KIB;
  T.push(['F: RSS < 32 MiB and flat', `${fmt(rss)} MiB peak; ${fmt(mib(a))} → ${fmt(mib(b))} MiB`, rss < 32 && flat && f.every((r) => r.ok) ? 'met' : '**missed**']);
} else T.push(['F', 'not run', '—']);
if (workloads.includes('A')) {
  const c = med('A', 'ferry', cpuPerGiB);
  T.push(['A: ferry CPU < 0.6 CPU-s per GiB', `${fmt(c, 2)} CPU-s/GiB`, c < 0.6 ? 'met' : '**missed**']);
}
out.push('### Targets (ferry)', '');
out.push('| target | measured | status |', '|---|---|---|');
for (const [a, b, c] of T) out.push(`| ${a} | ${b} | ${c} |`);
if (meta.died) out.push('', `**Warning:** servers found dead and restarted during the run: ${meta.died}.`);
const failed = rows.filter((r) => r.ok !== 1 && r.workload !== 'E');
if (failed.length) {
  out.push('', `Runs that failed validation (excluded from medians): ${failed.map((r) => `${r.workload}/${r.server}/round ${r.round} (${r.extra})`).join('; ')}`);
}
process.stdout.write(out.join('\n') + '\n');
