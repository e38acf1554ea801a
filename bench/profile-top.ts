/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and lists where the time went:
 * functions by self time, by inclusive time, and self time by file or
 * package. Used by `npm run bench -- --profile`; also runs alone:
 * `npx tsx bench/profile-top.ts <file.cpuprofile>`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1] as string;
  const src = /\/(src\/.*|bench\/.*)$/.exec(path);
  return src ? (src[1] as string) : path || '(native)';
}

const keyOf = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

function top(map: Map<string, number>, total: number, count: number): string[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
}

export function summarizeProfile(path: string, count = 25): { busyMs: number; text: string } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    total += us;
    const key = keyOf(node);
    self.set(key, (self.get(key) ?? 0) + us);
    if (node.callFrame.functionName !== '(idle)') busy += us;
    const file = where(node.callFrame.url);
    files.set(file, (files.get(file) ?? 0) + us);
    // Each function counts once per sample however deep it recurses.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const k = keyOf(byId.get(at) as ProfileNode);
      if (!seen.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + us);
      seen.add(k);
    }
  });
  const text = [
    `${path}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s not idle`,
    'self time:',
    ...top(self, total, count),
    'inclusive time:',
    ...top(inclusive, total, count),
    'self time by file or package:',
    ...top(files, total, 15),
  ].join('\n');
  return { busyMs: busy / 1000, text };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const file of process.argv.slice(2)) process.stdout.write(`${summarizeProfile(file).text}\n\n`);
}
