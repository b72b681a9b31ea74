export * from './errors.ts';
export * from './runtime.ts';
export * from './buffers.ts';
export * from './launch.ts';
export type { PipelineKey } from './pipelines.ts';
