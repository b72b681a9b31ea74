#!/usr/bin/env bash
# Runs on the lent GPU machine (after scripts/device-prepare.sh here): the adapter, parity on both fixtures, the matmul
# benchmark, and the training benchmark beside PyTorch on the same shapes, each figure written to $OUT as it comes.
set -uo pipefail
. .devkit/gpu-env.sh
out=${OUT:-/tmp/out}; mkdir -p "$out"
cli() { timeout "$1" node .devbuild/rerank-lab.mjs "${@:2}"; }
cli 30 adapter | tee "$out/adapter.json"
cli 120 bench --matmul | tee "$out/matmul.txt"
for f in bert-tiny xlmr-tiny; do cli 60 parity tests/fixtures/hf-parity/$f | tee "$out/parity-$f.json"; done
cli 120 bench --arch bert-base --batch 32 --length 512 --steps 4 | tee "$out/bench-bert-base.jsonl"
timeout 150 python3 .devbuild/torch_reference.py --arch bert-base --batch 32 --length 512 | tee "$out/torch-bert-base.jsonl"
cli 150 bench --arch bge-large --batch 16 --length 512 --steps 3 | tee "$out/bench-bge-large.jsonl"
timeout 150 python3 .devbuild/torch_reference.py --arch bge-large --batch 16 --length 512 | tee "$out/torch-bge-large.jsonl"
cli 120 bench --arch bert-base --batch 32 --length 512 --steps 1 --profile | tee "$out/profile-bert-base.txt"
