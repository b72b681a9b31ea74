// The page's handle on the training worker.
import * as Comlink from 'comlink';
import type { TrainWorkerApi } from './protocol.ts';

let worker: Comlink.Remote<TrainWorkerApi> | undefined;

export function trainWorker(): Comlink.Remote<TrainWorkerApi> {
  if (!worker) {
    const w = new Worker(new URL('./train.worker.ts', import.meta.url), { type: 'module', name: 'train' });
    worker = Comlink.wrap<TrainWorkerApi>(w);
  }
  return worker;
}
