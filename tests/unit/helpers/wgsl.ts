// A small static reading of a WGSL module: its resource declarations and which of them each entry point uses,
// directly or through the functions it calls. That is what a pipeline with layout 'auto' binds, so tests can check
// binding conventions without a GPU. Not a parser: it relies on our shaders' style (no shadowing of module-scope
// resource names by locals, one declaration per line).

export interface WgslResource {
  name: string;
  binding: number;
  /** 'uniform' or 'storage' */
  space: string;
}

export interface WgslModule {
  resources: Map<string, WgslResource>;
  entryPoints: string[];
  /** The resources an entry point uses, in binding order. */
  used(entry: string): WgslResource[];
}

function withoutComments(src: string): string {
  return src.replace(/\/\/[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
}

/** The body of every function, by name (brace matching from the first `{` after `fn name(`). */
function functionBodies(code: string): Map<string, string> {
  const bodies = new Map<string, string>();
  for (const m of code.matchAll(/\bfn\s+(\w+)\s*\(/g)) {
    const open = code.indexOf('{', m.index);
    let depth = 0;
    let end = open;
    for (; end < code.length; end++) {
      if (code[end] === '{') depth++;
      else if (code[end] === '}' && --depth === 0) break;
    }
    bodies.set(m[1], code.slice(m.index, end + 1));
  }
  return bodies;
}

export function readWgsl(src: string): WgslModule {
  const code = withoutComments(src);
  const resources = new Map<string, WgslResource>();
  for (const m of code.matchAll(/@group\(0\)\s*@binding\((\d+)\)\s*var<(\w+)[^>]*>\s*(\w+)\s*:/g)) {
    resources.set(m[3], { name: m[3], binding: Number(m[1]), space: m[2] });
  }
  const entryPoints = [...code.matchAll(/@compute[^{;]*?\bfn\s+(\w+)\s*\(/g)].map((m) => m[1]);
  const bodies = functionBodies(code);
  // Identifiers not preceded by '.' (a member access such as wid.x is not the variable x).
  const names = (text: string) => new Set([...text.matchAll(/(?<![\w.])[A-Za-z_]\w*/g)].map((m) => m[0]));

  function used(entry: string): WgslResource[] {
    const seen = new Set<string>();
    const found = new Set<WgslResource>();
    const visit = (fn: string) => {
      if (seen.has(fn)) return;
      seen.add(fn);
      for (const n of names(bodies.get(fn) ?? '')) {
        const r = resources.get(n);
        if (r) found.add(r);
        else if (n !== fn && bodies.has(n)) visit(n);
      }
    };
    if (!bodies.has(entry)) throw new Error(`no function '${entry}'`);
    visit(entry);
    return [...found].sort((a, b) => a.binding - b.binding);
  }
  return { resources, entryPoints, used };
}
