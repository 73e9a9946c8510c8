// node window.mjs <cpuprofile> <anchorFn> <windowMs> <topN> [which-occurrence: all]
import { readFileSync } from 'node:fs';
const [file, anchor, winMs = '200', topN = '30'] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
const stackOf = (id) => { const s = []; for (let x = id; x !== undefined; x = parent.get(x)) s.push(x); return s; };
let t = p.startTime; const times = [];
for (const d of p.timeDeltas) { t += d; times.push(t); }
// windows: start at first sample whose stack has anchor, after previous window ended
const windows = [];
let until = -Infinity;
for (let i = 0; i < p.samples.length; i++) {
  if (times[i] < until) continue;
  const st = stackOf(p.samples[i]);
  if (st.some((id) => byId.get(id).callFrame.functionName === anchor)) { windows.push(times[i]); until = times[i] + winMs * 1000; }
}
console.log('windows', windows.length);
const self = new Map(), incl = new Map();
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  const w = windows.find((s) => times[i] >= s && times[i] < s + winMs * 1000);
  if (w === undefined) continue;
  const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
  total += dt;
  const st = stackOf(p.samples[i]);
  const k = name(byId.get(st[0]));
  self.set(k, (self.get(k) ?? 0) + dt);
  const seen = new Set();
  for (const id of st) { const kk = name(byId.get(id)); if (seen.has(kk)) continue; seen.add(kk); incl.set(kk, (incl.get(kk) ?? 0) + dt); }
}
console.log('total ms in windows', total.toFixed(1), 'per window', (total / windows.length).toFixed(1));
const show = (m, label) => { console.log('--', label); [...m].sort((a, b) => b[1] - a[1]).slice(0, +topN).forEach(([k, v]) => console.log((v / windows.length).toFixed(2).padStart(8), k)); };
show(self, 'self per window');
show(incl, 'inclusive per window');
