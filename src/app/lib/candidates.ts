// The "try it" box's candidates. A chunk may hold line breaks, so pre-filled candidates are separated by a line
// holding only "---"; typed candidates without such a line are one per line.

export const CANDIDATE_SEPARATOR = '\n---\n';

export function joinCandidates(docs: readonly string[]): string {
  return docs.join(CANDIDATE_SEPARATOR);
}

export function splitCandidates(text: string): string[] {
  const blocks = /^\s*-{3,}\s*$/m.test(text) ? text.split(/^\s*-{3,}\s*$/m) : text.split('\n');
  return blocks.map((d) => d.trim()).filter(Boolean);
}
