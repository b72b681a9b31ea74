// The command line's one argument parser: each command declares its options once, as a table, and both the parsing
// (node:util parseArgs, then each value checked and converted by its kind) and its `--help` text come from that
// table, so the help cannot forget an option or state a default the code does not use.
//
//   export const command = defineCommand({ name: 'score', usage: '--model DIR --pairs FILE [options]', options: {
//     model: { value: 'DIR|ID', help: 'a cross-encoder folder' },
//     batch: { kind: 'positive', default: 16, help: 'pairs per forward pass' },
//   } });
//   const args = parseCommand(command, argv);   // typed values, or the exit code after printing why
//   if (typeof args === 'number') return args;

import { parseArgs } from 'node:util';

/** How a value is read: text, a switch, an integer, an integer ≥ 1, or a finite number. */
export type Kind = 'string' | 'flag' | 'int' | 'positive' | 'number';

export interface OptionSpec {
  /** Default 'string'. */
  kind?: Kind;
  /** The value's name in the help (default N for integers, X for numbers, VALUE for text; none for a flag). */
  value?: string;
  /** What the option does (may span lines with \n); "(default …)" is appended from `default` / `defaultText`. */
  help: string;
  default?: string | number;
  /** The default in words, where it is not a constant (e.g. "the model's hidden_dropout_prob"). */
  defaultText?: string;
  /** The only values allowed (compared without case; the value comes back as spelled here). */
  choices?: readonly string[];
  /** Repeatable: the values come as a list. */
  multiple?: boolean;
  /** A heading printed above this option in the help (sections of a command with several modes). */
  section?: string;
}

export interface CommandSpec<O extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  name: string;
  /** What follows `rerank-lab <name>` on the usage line(s); one string per form. */
  usage: string | readonly string[];
  /** Prose between the usage line and the options. */
  about?: string;
  options: O;
  /** Words that are not options (a folder, sizes): allowed when true. */
  positionals?: boolean;
  /** Prose after the options. */
  footer?: string;
}

type ValueOf<S extends OptionSpec> = S['kind'] extends 'flag' ? boolean : S['kind'] extends 'int' | 'positive' | 'number' ? number : string;

/** The parsed values: flags are booleans, repeatable options lists, options with a default always set. */
export type Values<O extends Record<string, OptionSpec>> = {
  [K in keyof O]: O[K] extends { multiple: true }
    ? ValueOf<O[K]>[]
    : O[K] extends { kind: 'flag' }
      ? boolean
      : O[K] extends { default: string | number }
        ? ValueOf<O[K]>
        : ValueOf<O[K]> | undefined;
};

export interface Parsed<O extends Record<string, OptionSpec>> {
  values: Values<O>;
  positionals: string[];
}

/** Keeps the option table's literal types (so `values` is typed per option). */
export function defineCommand<const O extends Record<string, OptionSpec>>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}

/** A value the user gave that its option cannot take; the message says what it must be. */
export class ArgumentError extends Error {
  override name = 'ArgumentError';
}

/** Help lines are kept within this many columns where the text allows. */
const HELP_COLUMNS = 120;

const DEFAULT_VALUE_NAME: Record<Kind, string> = { string: 'VALUE', flag: '', int: 'N', positive: 'N', number: 'X' };

/** Converts and checks one value by its kind; the error names the option and what to give instead. */
export function convert(name: string, o: OptionSpec, raw: string): string | number {
  const kind = o.kind ?? 'string';
  if (o.choices) {
    const hit = o.choices.find((c) => c.toLowerCase() === raw.toLowerCase());
    if (hit !== undefined) return hit;
    const allowed = o.choices.length === 2 ? o.choices.join(' or ') : `one of ${o.choices.join(', ')}`;
    throw new ArgumentError(`--${name} must be ${allowed}, got '${raw}'`);
  }
  if (kind === 'string' || kind === 'flag') return raw;
  const n = Number(raw);
  const ok = raw.trim() !== '' && Number.isFinite(n) && (kind === 'number' || Number.isInteger(n)) && (kind !== 'positive' || n >= 1);
  if (!ok) throw new ArgumentError(`--${name} must be ${kind === 'int' ? 'an integer' : kind === 'positive' ? 'a positive integer' : 'a number'}, got '${raw}'`);
  return n;
}

/** Parses `argv` by the table; throws ArgumentError for an unknown option or a bad value. */
export function parseWith<O extends Record<string, OptionSpec>>(spec: CommandSpec<O>, argv: readonly string[]): Parsed<O> {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries(spec.options)) options[name] = { type: o.kind === 'flag' ? 'boolean' : 'string', ...(o.multiple ? { multiple: true } : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: !!spec.positionals, strict: true });
  } catch (e) {
    throw new ArgumentError((e as Error).message);
  }
  const values: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    const raw = (parsed.values as Record<string, string | boolean | string[] | undefined>)[name];
    if (o.kind === 'flag') values[name] = raw === true;
    else if (o.multiple) values[name] = ((raw as string[] | undefined) ?? []).map((v) => convert(name, o, v));
    else values[name] = raw === undefined ? o.default : convert(name, o, raw as string);
  }
  return { values: values as Values<O>, positionals: parsed.positionals };
}

/**
 * Parses for a command's run(): the values, or the exit code after printing why — 0 after `--help`, 2 after an
 * unknown option (with the help) or a bad value (with the way to the help).
 */
export function parseCommand<O extends Record<string, OptionSpec>>(spec: CommandSpec<O>, argv: readonly string[]): Parsed<O> | number {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText(spec));
    return 0;
  }
  try {
    return parseWith(spec, argv);
  } catch (e) {
    if (!(e instanceof ArgumentError)) throw e;
    const unknown = /^Unknown option|^Unexpected argument|argument missing/i.test(e.message);
    console.error(unknown ? `${e.message}\n\n${helpText(spec)}` : `${e.message} (rerank-lab ${spec.name} --help lists the options)`);
    return 2;
  }
}

/** The option's flag as the help shows it: `--name VALUE`. */
export function flagText(name: string, o: OptionSpec): string {
  const value = o.value ?? o.choices?.join('|') ?? DEFAULT_VALUE_NAME[o.kind ?? 'string'];
  return value ? `--${name} ${value}` : `--${name}`;
}

/** The help text: usage line(s), about, one row per option (help wrapped under its column), footer. */
export function helpText(spec: CommandSpec): string {
  const usages = typeof spec.usage === 'string' ? [spec.usage] : spec.usage;
  const lines = usages.map((u) => `rerank-lab ${spec.name}${u ? ` ${u}` : ''}`);
  if (spec.about) lines.push(...spec.about.split('\n').map((l) => `  ${l}`));
  const rows = Object.entries(spec.options);
  // a column two spaces right of the longest flag, at most 24 wide (a longer flag is followed by one space)
  const width = Math.min(22, Math.max(0, ...rows.map(([n, o]) => flagText(n, o).length))) + 1;
  for (const [name, o] of rows) {
    if (o.section) lines.push('', o.section);
    const text = o.help.split('\n');
    const fallback = o.defaultText ?? (o.default === undefined ? undefined : String(o.default));
    if (fallback !== undefined) {
      const [first, ...more] = `(default${o.defaultText ? ':' : ''} ${fallback})`.split('\n');
      // on the help's last line when it fits in HELP_COLUMNS, else on a line of its own
      if (width + 4 + text[text.length - 1].length + first.length <= HELP_COLUMNS) text[text.length - 1] += ` ${first}`;
      else text.push(first);
      text.push(...more);
    }
    text.forEach((l, i) => lines.push(`  ${(i ? '' : flagText(name, o)).padEnd(width)} ${l}`));
  }
  if (spec.footer) lines.push(...spec.footer.split('\n'));
  return lines.join('\n');
}
