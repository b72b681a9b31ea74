// Text that is not content: Markdown marks, and lines that every page of a site repeats (menus, footers, copyright
// lines) or that every page of a PDF repeats (running headers). Left in, they end up in chunks, become "questions"
// and hard negatives that match everything (issue 8, item 10). HTML's <nav>/<footer>/<aside> go in htmlToText.

/** Markdown → plain text: headings, emphasis, code marks, links, images, lists, quotes, tables and rules lose their marks. */
export function markdownToText(md: string): string {
  const out: string[] = [];
  let fenced = false;
  for (const raw of md.split('\n')) {
    let line = raw;
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced; // the fence line goes, the code inside stays as text
      continue;
    }
    if (!fenced) {
      if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) continue; // --- *** ___
      if (/^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/.test(line)) continue; // | --- | --- |
      if (/^\s*(=+|-+)\s*$/.test(line) && out.length) continue; // setext underline
      line = line
        .replace(/^\s{0,3}#{1,6}\s+/, '') // # heading
        .replace(/\s+#+\s*$/, '')
        .replace(/^\s{0,3}>\s?/, '') // > quote
        .replace(/^(\s*)([-*+]|\d+[.)])\s+(\[[ xX]\]\s+)?/, '$1') // list bullets and task boxes
        .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1') // ![alt](src)
        .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1') // [text](url)
        .replace(/\[([^\]]+)\]\[[^\]]*\]/g, '$1') // [text][ref]
        .replace(/^\s*\[[^\]]+\]:\s*\S+.*$/, '') // [ref]: url
        .replace(/<\/?[A-Za-z][^>]*>/g, '') // inline HTML tags
        .replace(/(\*\*|__)(?=\S)([\s\S]*?\S)\1/g, '$2') // **bold**
        .replace(/(^|[^*\w])[*_](?=\S)([^*_\n]*?\S)[*_](?=[^*\w]|$)/g, '$1$2') // *em* _em_
        .replace(/~~(?=\S)([\s\S]*?\S)~~/g, '$1') // ~~strike~~
        .replace(/`+([^`]+)`+/g, '$1'); // `code`
      if (/^\s*\|.*\|\s*$/.test(line)) line = line.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim()).join('\t');
    }
    out.push(line);
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n').trim();
}

export interface RepeatedLinesOptions {
  /** A line is boilerplate when at least this many documents hold it (default 3)… */
  minDocs?: number;
  /** …and at least this share of the documents considered (default 0.3). */
  minShare?: number;
  /** Lines longer than this are content, even when repeated (default 120 characters). */
  maxLength?: number;
}

const key = (line: string) => line.trim().replace(/\s+/g, ' ');

/**
 * Removes lines that recur across documents (site menus, footers, "版权所有 © …"), in place. Returns how many lines
 * each document lost. Only documents of the given indices are considered (web pages, not CSV records).
 */
export function dropRepeatedLines(texts: string[], opts: RepeatedLinesOptions = {}): number[] {
  const minDocs = opts.minDocs ?? 3;
  const share = opts.minShare ?? 0.3;
  const maxLen = opts.maxLength ?? 120;
  const removed = texts.map(() => 0);
  if (texts.length < minDocs) return removed;
  const docsWith = new Map<string, number>();
  for (const t of texts) {
    for (const k of new Set(t.split('\n').map(key))) if (k && k.length <= maxLen) docsWith.set(k, (docsWith.get(k) ?? 0) + 1);
  }
  const need = Math.max(minDocs, Math.ceil(share * texts.length));
  const boiler = new Set([...docsWith].filter(([, n]) => n >= need).map(([k]) => k));
  if (!boiler.size) return removed;
  texts.forEach((t, i) => {
    const kept = t.split('\n').filter((l) => {
      const drop = boiler.has(key(l));
      if (drop) removed[i]++;
      return !drop;
    });
    texts[i] = kept.join('\n').replace(/\n{3,}/g, '\n\n').trim();
  });
  return removed;
}

/**
 * Running headers and footers of one document (a PDF's page header, "第 3 页"-style lines are numbered and differ):
 * short lines that recur at least `minRepeats` times. Returns the text without them and how many lines went.
 */
export function dropRunningLines(text: string, minRepeats = 3, maxLength = 60): { text: string; removed: number } {
  const counts = new Map<string, number>();
  const lines = text.split('\n');
  for (const l of lines) {
    const k = key(l);
    if (k && k.length <= maxLength) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const drop = new Set([...counts].filter(([, n]) => n >= minRepeats).map(([k]) => k));
  if (!drop.size) return { text, removed: 0 };
  let removed = 0;
  const kept = lines.filter((l) => (drop.has(key(l)) ? (removed++, false) : true));
  return { text: kept.join('\n').replace(/\n{3,}/g, '\n\n').trim(), removed };
}
