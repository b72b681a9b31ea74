// A test hook, the only one: RERANK_LAB_KILL_AT=<point> (or <point>#<n> for its n-th passage) kills this process
// with SIGKILL when it reaches a named point, so tests can check what a kill at that exact moment leaves on disk.
// Points: write:<file name> (an atomic file write, temporary flushed, before its rename),
// write-folder:<folder name> (every temporary of a folder flushed, before the renames),
// checkpoint:tensors-written | checkpoint:written | checkpoint:old-moved | checkpoint:installed (the moments of a
// checkpoint swap, see train/checkpoint-node.ts).
// Does nothing unless the variable is set (and nothing in the page, which has no process).

const seen = new Map<string, number>();

export function testPoint(name: string): void {
  const want = typeof process === 'undefined' ? undefined : process.env?.RERANK_LAB_KILL_AT;
  if (!want) return;
  const n = (seen.get(name) ?? 0) + 1;
  seen.set(name, n);
  const [point, nth] = want.split('#');
  if (point === name && n === Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}
