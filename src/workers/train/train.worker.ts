// Training worker: owns the page's GpuRuntime. Thin: it calls library functions and reports results as data.
import * as Comlink from 'comlink';
import { GpuRuntime } from '../../gpu/runtime.ts';
import { type TrainWorkerApi, toErrorData } from './protocol.ts';

let runtime: Promise<GpuRuntime> | undefined;
function gpu(): Promise<GpuRuntime> {
  if (!runtime) {
    runtime = GpuRuntime.create();
    runtime.catch(() => (runtime = undefined));
  }
  return runtime;
}

const api: TrainWorkerApi = {
  async adapterInfo() {
    try {
      return { ok: true, value: (await gpu()).info };
    } catch (e) {
      return { ok: false, error: toErrorData(e) };
    }
  },
};

Comlink.expose(api);
