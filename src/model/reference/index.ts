// Float64 CPU reference of the cross-encoder: per-layer functions and the whole model.
export * from './layers.ts';
export * from './model.ts';
