// Typed GPU errors. Every error a kernel or allocation can raise ends up as one of these, so callers
// (trainer, batch-size probe, page) can decide: retry smaller (out-of-memory), recreate (lost), or report.

export class GpuError extends Error {
  override name = 'GpuError';
}

/** No WebGPU adapter at all. The message says how to get one. */
export class GpuUnavailableError extends GpuError {
  override name = 'GpuUnavailableError';
}

/** A shader, pipeline, bind group or dispatch was rejected by validation. `kernel` names the launcher. */
export class GpuValidationError extends GpuError {
  override name = 'GpuValidationError';
  constructor(message: string, readonly kernel?: string) {
    super(kernel ? `[${kernel}] ${message}` : message);
  }
}

/** An allocation did not fit. `bytes` is what was asked for, `label` which buffer. */
export class GpuOutOfMemoryError extends GpuError {
  override name = 'GpuOutOfMemoryError';
  constructor(message: string, readonly bytes = 0, readonly label = '') {
    super(message);
  }
}

/** The device was lost (driver reset, watchdog, destroy). The runtime can recreate it. */
export class GpuDeviceLostError extends GpuError {
  override name = 'GpuDeviceLostError';
  constructor(message: string, readonly reason: string = 'unknown') {
    super(message);
  }
}

/** A launcher was called with shapes that do not fit the kernel; raised before anything is dispatched. */
export class KernelShapeError extends GpuError {
  override name = 'KernelShapeError';
  constructor(readonly kernel: string, message: string) {
    super(`[${kernel}] ${message}`);
  }
}

/** A buffer larger than the adapter allows. */
export class GpuLimitError extends GpuError {
  override name = 'GpuLimitError';
  constructor(message: string, readonly limit: string, readonly value: number) {
    super(message);
  }
}

/** Turns a GPUError popped from an error scope into our typed error. */
export function fromGpuError(err: GPUError, what: string, bytes = 0): GpuError {
  const msg = `${what}: ${err.message}`;
  if (typeof GPUOutOfMemoryError !== 'undefined' && err instanceof GPUOutOfMemoryError) {
    return new GpuOutOfMemoryError(msg, bytes, what);
  }
  if (err.constructor?.name === 'GPUOutOfMemoryError') return new GpuOutOfMemoryError(msg, bytes, what);
  return new GpuValidationError(msg);
}

export const HOW_TO_GET_AN_ADAPTER =
  'No WebGPU adapter was found. In the browser use a recent Chrome or Edge (chrome://gpu should list WebGPU as ' +
  'hardware accelerated; on Linux start Chrome with --enable-unsafe-webgpu --enable-features=Vulkan). In Node ' +
  "the 'webgpu' package (Dawn) needs a Vulkan driver: install your GPU's Vulkan driver, or for a CPU-only " +
  'machine install Debian\'s chromium and libvulkan1 and set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json ' +
  '(SwiftShader, slow but complete).';
