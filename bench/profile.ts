/**
 * Summarises a V8 .cpuprofile (from `BENCH_CPU_PROF=1 npm run bench`, written to
 * bench/.prof/): self time by function, by module, and inclusive time of chosen functions.
 *
 *   node bench/profile.ts bench/.prof/CPU.*.cpuprofile [functionName ...]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, ...wanted] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/profile.ts FILE.cpuprofile [functionName ...]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node from samples and their time deltas (µs).
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const idleIds = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
const sampled = [...self.values()].reduce((s, v) => s + v, 0);
// Percentages are of busy time (samples that were not idle).
const total = [...self].filter(([id]) => !idleIds.has(id)).reduce((s, [, v]) => s + v, 0);

/** The checkout this script is in, as profiles name its files (`file:///…/`). */
const ROOT = new URL('..', import.meta.url).href;
const short = (url: string) => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith(ROOT)) return url.slice(ROOT.length);
  return url.replace(/^node:/, 'node:') || '(native)';
};
const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;

const top = (map: Map<string, number>, n: number, title: string) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) process.stdout.write(`${pct(v)}  ${k}\n`);
};

const fnSelf = new Map<string, number>();
const modSelf = new Map<string, number>();
for (const [id, us] of self) {
  if (idleIds.has(id)) continue;
  const n = byId.get(id)!;
  fnSelf.set(label(n), (fnSelf.get(label(n)) ?? 0) + us);
  const mod = n.callFrame.url ? short(n.callFrame.url) : `(${n.callFrame.functionName})`;
  modSelf.set(mod, (modSelf.get(mod) ?? 0) + us);
}
process.stdout.write(`${file}: ${(sampled / 1e6).toFixed(2)} s sampled, ${(total / 1e6).toFixed(2)} s busy (percentages are of busy time)\n`);
top(fnSelf, 30, 'self time by function');
top(modSelf, 25, 'self time by module');

// Inclusive time of the project's own functions (src/, dialogs/): each sample counts once per function on its stack.
const own = new Map<string, number>();
for (const [id, us] of self) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur)!;
    if (!n.callFrame.url.startsWith(`${ROOT}src/`) && !n.callFrame.url.startsWith(`${ROOT}dialogs/`)) continue;
    const l = label(n);
    if (seen.has(l)) continue;
    seen.add(l);
    own.set(l, (own.get(l) ?? 0) + us);
  }
}
top(own, 30, 'inclusive time of project functions (synchronous part of each call)');

// Inclusive time: a sample counts for a function when the function is on its stack.
if (wanted.length > 0) {
  const incl = new Map<string, number>();
  for (const [id, us] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      const name = n.callFrame.functionName;
      for (const w of wanted) {
        if ((name === w || label(n).startsWith(`${w} `)) && !seen.has(w)) {
          seen.add(w);
          incl.set(w, (incl.get(w) ?? 0) + us);
        }
      }
    }
  }
  top(incl, wanted.length, 'inclusive time');
}
