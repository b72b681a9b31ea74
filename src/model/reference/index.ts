// The float64 CPU reference, the one of the project: per-layer functions (forward and backward side by side), the
// GEMM, dropout masks, the losses, AdamW, and the whole cross-encoder built from them.
export * from './layers.ts';
export * from './matmul.ts';
export * from './dropout.ts';
export * from './losses.ts';
export * from './adamw.ts';
export * from './model.ts';
