#!/usr/bin/env bash
# Before a run on the lent GPU machine (see ../shared/device/README.md): bundles the command line into
# .devbuild/rerank-lab.mjs (shaders inlined; Dawn loaded from WEBGPU_MODULE) and lays out .devkit/ (node, the Dawn
# addon, the Vulkan loader) with ../shared/device/prepare.sh. Then call the device tool with
#   carry: [".devkit", ".devbuild"]
#   command: bash scripts/device-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
npx vite build -c vite.cli.config.ts --logLevel warn
cp ../shared/device/torch_reference.py tests/python/bench_torch_matmul.py .devbuild/
bash ../shared/device/prepare.sh
du -sh .devkit .devbuild
