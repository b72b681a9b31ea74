// A full disk for tests, without a small file system to mount: with
//   vi.mock('node:fs/promises', async (orig) => (await import('./support/full-disk.ts')).fullDiskFs(await orig()));
// every file handle opened while `disk.full` is true writes its first 3 bytes, then fails with ENOSPC — what a real
// full disk does.
type Fs = typeof import('node:fs/promises');

export const disk = { full: false };

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });

export function fullDiskFs(fs: Fs): Fs {
  const open: Fs['open'] = async (...args: Parameters<Fs['open']>) => {
    const fh = await fs.open(...args);
    return new Proxy(fh, {
      get(t, k) {
        if (k === 'writeFile' || k === 'write') {
          return async (data: string | Uint8Array) => {
            if (!disk.full) return (t[k] as (d: string | Uint8Array) => Promise<unknown>).call(t, data);
            await fs.appendFile(t, typeof data === 'string' ? data.slice(0, 3) : data.subarray(0, 3));
            throw enospc();
          };
        }
        const v = t[k as keyof typeof t];
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
  };
  return { ...fs, default: { ...fs, open }, open } as Fs;
}
