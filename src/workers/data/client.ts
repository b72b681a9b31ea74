// Page side: starts the data worker and returns its comlink proxy. Wrap progress callbacks in Comlink.proxy:
//   const dw = createDataWorker();
//   const r = await dw.api.mine('job1', chunks, queries, { negatives: 15 }, Comlink.proxy((p) => …));
//   if (!r.ok) showError(r.error.message);   // cancel: await dw.api.cancel('job1')

import * as Comlink from 'comlink';
import type { DataWorkerApi } from './api.ts';

export interface DataWorker {
  api: Comlink.Remote<DataWorkerApi>;
  terminate(): void;
}

export function createDataWorker(): DataWorker {
  const worker = new Worker(new URL('./data.worker.ts', import.meta.url), { type: 'module', name: 'rerank-lab-data' });
  const api = Comlink.wrap<DataWorkerApi>(worker);
  return {
    api,
    terminate: () => {
      api[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}

export { proxy } from 'comlink';
