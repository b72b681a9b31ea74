#!/usr/bin/env bash
# Runs on the lent GPU machine (after scripts/device-prepare.sh here), each figure written to $OUT as it comes:
#   kernels   the adapter; parity on both fixtures (the kernels' first run on real hardware: correctness before
#             speed); the kernel table (`bench --matmul`: squares, the twelve bert-base layer matmuls at
#             B·L = 16,384 with the autotuned tile and split-K, spot-checked against float64, attention at
#             L 128/256/512) and cuBLAS fp32 on the same shapes beside it
#   training  pairs/s and peak memory beside PyTorch (bert-base B32 L512, bge-large B16 L512), a --profile of bert-base
#   tiles     riskiest last: each matmul tile forced on the 4096³ squares (a tile that stalls the driver costs only this)
#   memory    (not in `all`; its own device call) issue 9's workspace: held bytes over 1,000 random-length steps on the
#             tiny preset (`held_bytes_first/max/last`), and bert-base at random lengths 16–512 beside the fixed 512
#             (held bytes and process peak memory within 10 %)
# `bash scripts/device-bench.sh` runs the first three (about 6–8 minutes on an H200; every command has its own timeout);
# `bash scripts/device-bench.sh training` (or kernels, tiles, memory) runs one, e.g. to finish a run cut short.
# The autotune's picks are kept in $OUT/cache/matmul-tune.json, so training reuses what the kernel table measured.
set -uo pipefail
. .devkit/gpu-env.sh
out=${OUT:-/tmp/out}; mkdir -p "$out"
export RERANK_LAB_CACHE="$out/cache"
phase=${1:-all}
cli() { timeout "$1" node .devbuild/rerank-lab.mjs "${@:2}"; }
if [ "$phase" = all ] || [ "$phase" = kernels ]; then
  cli 30 adapter | tee "$out/adapter.json"
  for f in bert-tiny xlmr-tiny; do cli 90 parity tests/fixtures/hf-parity/$f | tee "$out/parity-$f.json"; done
  cli 200 bench --matmul | tee "$out/kernels.txt"
  timeout 90 python3 .devbuild/bench_torch_matmul.py | tee "$out/torch-matmul.jsonl"
fi
if [ "$phase" = all ] || [ "$phase" = training ]; then
  cli 120 bench --arch bert-base --batch 32 --length 512 --steps 4 | tee "$out/bench-bert-base.jsonl"
  timeout 120 python3 .devbuild/torch_reference.py --arch bert-base --batch 32 --length 512 | tee "$out/torch-bert-base.jsonl"
  cli 150 bench --arch bge-large --batch 16 --length 512 --steps 3 | tee "$out/bench-bge-large.jsonl"
  timeout 120 python3 .devbuild/torch_reference.py --arch bge-large --batch 16 --length 512 | tee "$out/torch-bge-large.jsonl"
  cli 90 bench --arch bert-base --batch 32 --length 512 --steps 1 --profile | tee "$out/profile-bert-base.txt"
fi
if [ "$phase" = all ] || [ "$phase" = tiles ]; then
  for t in 64x64k16 128x128k8 128x128k16; do
    cli 45 bench --matmul --squares-only --tile "$t" 4096 | tee "$out/matmul-$t.txt"
  done
fi
if [ "$phase" = memory ]; then
  cli 240 bench --arch tiny --batch 4 --lengths 8-128 --steps 1000 | tee "$out/memory-tiny-1000.jsonl"
  cli 150 bench --arch bert-base --batch 32 --lengths 16-512 --steps 60 | tee "$out/memory-bert-base-random.jsonl"
  cli 120 bench --arch bert-base --batch 32 --length 512 --steps 60 | tee "$out/memory-bert-base-fixed.jsonl"
fi
