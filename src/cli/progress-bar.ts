// A terminal progress bar for Progress events (src/util/progress.ts): one bar per stage with counts and ETA.
// A new stage closes the previous bar. On a terminal that is not a TTY (CI logs) it prints one line per stage
// instead of redrawing. Stages whose name says 'ingest' count bytes and show them in MB.

import cliProgress from 'cli-progress';
import type { OnProgress, Progress } from '../util/progress.ts';

export interface ProgressBar {
  onProgress: OnProgress;
  /** Closes the current bar (call before printing a summary). */
  stop(): void;
}

export interface ProgressBarOptions {
  stream?: NodeJS.WriteStream;
  /** Unit shown after counts, per stage (default 'items'; ingest: 'MB'). */
  units?: Record<string, string>;
}

const isBytes = (stage: string) => stage === 'ingest' || stage === 'download';
const mb = (n: number) => (n / (1024 * 1024)).toFixed(1);

export function createProgressBar(opts: ProgressBarOptions = {}): ProgressBar {
  const stream = opts.stream ?? process.stderr;
  const tty = !!stream.isTTY;
  let bar: cliProgress.SingleBar | undefined;
  let stage: string | undefined;
  let last: Progress | undefined;
  let started = 0;

  const close = () => {
    if (!stage) return;
    if (bar) {
      bar.stop();
      bar = undefined;
    } else if (last) {
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      const count = isBytes(stage) ? `${mb(last.done)}/${mb(last.total)} MB` : `${last.done}/${last.total}`;
      stream.write(`${stage}: ${count} in ${secs} s\n`);
    }
    stage = undefined;
  };

  const onProgress: OnProgress = (p) => {
    if (p.stage !== stage) {
      close();
      stage = p.stage;
      started = Date.now();
      if (tty) {
        const unit = opts.units?.[p.stage] ?? (isBytes(p.stage) ? 'MB' : 'items');
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: `${p.stage.padEnd(16)} [{bar}] {percentage}% | {shown} ${unit} | ETA {eta_formatted} | {detail}`,
            barsize: 24,
            hideCursor: true,
            etaBuffer: 50,
            fps: 10,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.max(p.total, 1), 0, { detail: '', shown: '' });
      }
    }
    last = p;
    if (bar) {
      bar.setTotal(Math.max(p.total, 1));
      const shown = isBytes(p.stage) ? `${mb(p.done)}/${mb(p.total)}` : `${p.done}/${p.total}`;
      bar.update(p.done, { detail: (p.detail ?? '').slice(0, 40), shown });
    }
  };
  return { onProgress, stop: close };
}

/** An AbortController that fires on Ctrl-C, so long commands stop cleanly and say so. */
export function abortOnSigint(): AbortController {
  const ac = new AbortController();
  process.once('SIGINT', () => {
    process.stderr.write('\nCancelling…\n');
    ac.abort(new DOMException('Cancelled by Ctrl-C', 'AbortError'));
  });
  return ac;
}
