#!/usr/bin/env bash
# Runs on the lent GPU machine (after scripts/device-prepare.sh here), each figure written to $OUT as it comes:
#   1. the adapter; parity on both fixtures (the kernels' first run on real hardware: correctness before speed)
#   2. kernel table (`bench --matmul`): squares, the twelve bert-base layer matmuls at B·L = 16,384 (autotuned tile,
#      split-K, spot-checked against float64), attention at L 128/256/512; cuBLAS on the same shapes beside it
#   3. training throughput beside PyTorch (bert-base B32 L512, bge-large B16 L512), then a --profile of bert-base
#   4. riskiest last: each matmul tile forced on the squares (a tile that stalls the driver only costs this step)
# The autotune's picks land in $OUT/cache/matmul-tune.json (kept between steps, so training reuses them).
set -uo pipefail
. .devkit/gpu-env.sh
out=${OUT:-/tmp/out}; mkdir -p "$out"
export RERANK_LAB_CACHE="$out/cache"
cli() { timeout "$1" node .devbuild/rerank-lab.mjs "${@:2}"; }
cli 30 adapter | tee "$out/adapter.json"
for f in bert-tiny xlmr-tiny; do cli 90 parity tests/fixtures/hf-parity/$f | tee "$out/parity-$f.json"; done
cli 240 bench --matmul | tee "$out/kernels.txt"
timeout 90 python3 .devbuild/bench_torch_matmul.py | tee "$out/torch-matmul.jsonl"
cli 150 bench --arch bert-base --batch 32 --length 512 --steps 4 | tee "$out/bench-bert-base.jsonl"
timeout 150 python3 .devbuild/torch_reference.py --arch bert-base --batch 32 --length 512 | tee "$out/torch-bert-base.jsonl"
cli 180 bench --arch bge-large --batch 16 --length 512 --steps 3 | tee "$out/bench-bge-large.jsonl"
timeout 150 python3 .devbuild/torch_reference.py --arch bge-large --batch 16 --length 512 | tee "$out/torch-bge-large.jsonl"
cli 120 bench --arch bert-base --batch 32 --length 512 --steps 1 --profile | tee "$out/profile-bert-base.txt"
for t in 64x64k16 128x128k8 128x128k16; do
  cli 60 bench --matmul --squares-only --tile "$t" 4096 | tee "$out/matmul-$t.txt"
done
