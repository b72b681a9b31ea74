// Small display helpers (no computation beyond formatting).
export const bytes = (n: number | undefined): string =>
  n === undefined || !Number.isFinite(n)
    ? '—'
    : n >= 2 ** 30
      ? `${(n / 2 ** 30).toFixed(2)} GiB`
      : n >= 2 ** 20
        ? `${(n / 2 ** 20).toFixed(1)} MiB`
        : n >= 1024
          ? `${(n / 1024).toFixed(0)} KiB`
          : `${n} B`;

export const duration = (s: number | undefined): string => {
  if (s === undefined || !Number.isFinite(s)) return '—';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
};

export const num = (x: number | undefined, d = 2): string => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));

export function download(name: string, data: string | Uint8Array, type = 'application/octet-stream'): void {
  const blob = new Blob([data as BlobPart], { type });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

const ARCH_NAMES: Record<string, string> = { bert: 'BERT', 'xlm-roberta': 'XLM-RoBERTa' };

/**
 * The architecture line under a model's name: "BERT" for a BERT model (not "bert bert"), "BERT · model_type roberta"
 * when config.json's model_type names a variant the engine runs as BERT.
 */
export function archLabel(arch: string, modelType: string): string {
  const name = ARCH_NAMES[arch] ?? arch;
  return modelType && modelType !== arch ? `${name} · model_type ${modelType}` : name;
}

/** A learning rate as people write it: 2e-5, not 0.00002. */
export const lr = (x: number): string => (x > 0 && x < 1e-3 ? x.toExponential().replace(/\.?0+e/, 'e') : String(x));
