#!/usr/bin/env bash
# `npm run check:python`: every live check against the Python ground truth (transformers, sentence-transformers,
# onnxruntime, torch). Installs the environment on first use (scripts/python-env.sh), then runs each
# tests/python/check_*.py in turn; each prints its figures and exits non-zero on a failure. Exit 0 only if all pass.
set -uo pipefail
cd "$(dirname "$0")/../.."
# The checks run our engine too (Node packages; Dawn on SwiftShader needs Debian's chromium and libvulkan1).
bash scripts/ensure-deps.sh --system || { echo "could not install the Node packages / system packages" >&2; exit 1; }
py=$(bash scripts/python-env.sh | tail -n 1) || { echo "could not create the Python environment" >&2; exit 1; }
export VK_ICD_FILENAMES="${VK_ICD_FILENAMES:-/usr/lib/chromium/vk_swiftshader_icd.json}" XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
failed=()
shopt -s nullglob
checks=(tests/python/check_*.py)
[ ${#checks[@]} -gt 0 ] || { echo "no checks found in tests/python/" >&2; exit 1; }
t0=$(date +%s)
for c in "${checks[@]}"; do
  echo "== $c"
  if ! "$py" "$c"; then failed+=("$c"); fi
done
echo "== ${#checks[@]} check(s) in $(( $(date +%s) - t0 )) s"
if [ ${#failed[@]} -gt 0 ]; then echo "FAILED: ${failed[*]}"; exit 1; fi
echo "all Python checks passed"
