// The command line's option tables (src/cli/args.ts): one table per command gives both the parsing and the --help,
// so every option a command accepts is in its help with its value name and default, and every command is listed.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ArgumentError, type CommandSpec, defineCommand, flagText, helpText, parseCommand, parseWith } from '../../../src/cli/args.ts';
import { commands, usage } from '../../../src/cli/command-list.ts';

afterEach(() => vi.restoreAllMocks());

const demo = defineCommand({
  name: 'demo',
  usage: '<dir> [options]',
  positionals: true,
  options: {
    out: { value: 'FILE', help: 'where to write' },
    size: { kind: 'positive', default: 300, help: 'characters per chunk' },
    ratio: { kind: 'number', help: 'a share', defaultText: '0.1 with --out, else 0' },
    loss: { choices: ['bce', 'listwise'], default: 'listwise', help: 'the loss' },
    seed: { kind: 'int', help: 'a seed' },
    chunks: { value: 'FILE', multiple: true, help: 'repeatable' },
    quick: { kind: 'flag', help: 'small shapes' },
  },
  footer: 'Ctrl-C stops.',
});

describe('parseWith', () => {
  it('converts each value by its kind, applies defaults, collects repeats and positionals', () => {
    const { values, positionals } = parseWith(demo, ['d', '--out', 'o.jsonl', '--ratio', '0.25', '--loss', 'BCE', '--chunks', 'a', '--chunks', 'b', '--quick', '--seed=-3']);
    expect(positionals).toEqual(['d']);
    expect(values).toEqual({ out: 'o.jsonl', size: 300, ratio: 0.25, loss: 'bce', seed: -3, chunks: ['a', 'b'], quick: true });
    expect(parseWith(demo, []).values).toEqual({ out: undefined, size: 300, ratio: undefined, loss: 'listwise', seed: undefined, chunks: [], quick: false });
  });

  it.each([
    [['--size', '0'], "--size must be a positive integer, got '0'"],
    [['--size', '2.5'], "--size must be a positive integer, got '2.5'"],
    [['--seed', 'x'], "--seed must be an integer, got 'x'"],
    [['--ratio', ''], "--ratio must be a number, got ''"],
    [['--loss', 'hinge'], "--loss must be bce or listwise, got 'hinge'"],
    [['--nope'], /Unknown option '--nope'/],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseWith(demo, argv)).toThrow(ArgumentError);
    expect(() => parseWith(demo, argv)).toThrow(message);
  });

  it('parseCommand prints the help on --help (exit 0) and why on a bad value (exit 2)', () => {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((s: string) => void out.push(s));
    vi.spyOn(console, 'error').mockImplementation((s: string) => void err.push(s));
    expect(parseCommand(demo, ['--help'])).toBe(0);
    expect(out[0]).toBe(helpText(demo));
    expect(parseCommand(demo, ['--size', 'many'])).toBe(2);
    expect(err.pop()).toBe("--size must be a positive integer, got 'many' (rerank-lab demo --help lists the options)");
    expect(parseCommand(demo, ['--bogus'])).toBe(2);
    expect(err.pop()).toMatch(/^Unknown option '--bogus'[\s\S]*rerank-lab demo <dir> \[options\]/);
  });
});

describe('helpText', () => {
  it('has the usage, one aligned row per option with its value name and default, and the footer', () => {
    expect(helpText(demo)).toBe(
      [
        'rerank-lab demo <dir> [options]',
        '  --out FILE           where to write',
        '  --size N             characters per chunk (default 300)',
        '  --ratio X            a share (default: 0.1 with --out, else 0)',
        '  --loss bce|listwise  the loss (default listwise)',
        '  --seed N             a seed',
        '  --chunks FILE        repeatable',
        '  --quick              small shapes',
        'Ctrl-C stops.',
      ].join('\n'),
    );
  });
});

describe('every command', () => {
  const loaded: [string, CommandSpec][] = [];
  it('is listed with its summary in the top-level help', () => {
    const text = usage();
    for (const [name, c] of Object.entries(commands)) expect(text).toContain(`  ${name.padEnd(7)}  ${c.summary}`);
  });

  it.each(Object.keys(commands))('%s: its --help shows every option of its table, with its default', async (name) => {
    const { command } = await commands[name].load();
    loaded.push([name, command]);
    expect(command.name).toBe(name);
    const text = helpText(command);
    expect(text.startsWith(`rerank-lab ${name}`)).toBe(true);
    for (const [opt, o] of Object.entries(command.options)) {
      expect(text, `--${opt}`).toContain(`  ${flagText(opt, o)} `.trimEnd());
      if (o.default !== undefined) expect(text, `--${opt} default`).toContain(`(default ${o.default})`);
      if (o.defaultText !== undefined) expect(text, `--${opt} default`).toContain(`(default: ${o.defaultText.split('\n')[0]}`);
    }
    // the table is what the parser accepts: every option parses, nothing else does
    for (const [opt, o] of Object.entries(command.options)) {
      const sample = o.kind === 'flag' ? [] : [o.choices?.[0] ?? (o.kind && o.kind !== 'string' ? '1' : 'v')];
      expect(() => parseWith(command, [`--${opt}`, ...sample])).not.toThrow();
    }
    expect(() => parseWith(command, ['--no-such-option'])).toThrow(/Unknown option/);
  });
});
