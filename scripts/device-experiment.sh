#!/usr/bin/env bash
# Runs on the lent GPU machine after scripts/device-experiment-prepare.sh here: issue 15's runs 1–4 at real scale and
# the report (scripts/experiment/run.ts), everything small it writes copied to $OUT as it goes and when it stops.
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
dawn=.devkit/webgpu/dist/linux-x64/dawn.node
[ -f "$dawn" ] || xz -dc "$dawn.xz" > "$dawn"
. .devkit/gpu-env.sh
work=/tmp/experiment; rm -rf "$work"; mkdir -p "$work/run"
save() {  # every small result (reports, scores, logs, timings); never the model folders
  (cd "$work/run" && find . -path ./runs/ours/model -prune -o -path ./runs/st/model -prune -o -path ./runs/st/trainer -prune -o \
    -type f \( -name '*.json' -o -name '*.log' -o -name '*.scores.jsonl' -o -name 'rerank_lab_train.json' \) -print |
    grep -v '^./data/.*\.json$' | xargs -r cp --parents -t "$out") 2>/dev/null
  cp "$work/run/report.json" "$work/run/data/prepare.json" "$work/run/data/settings.json" "$out/" 2>/dev/null
  cp "$work/run/runs/ours/model/rerank_lab_train.json" "$out/ours-train-log.json" 2>/dev/null
  true
}
trap save EXIT
python3 -c 'import sys, torch, transformers, sentence_transformers as st; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available(), "transformers", transformers.__version__, "sentence-transformers", st.__version__)' 2>&1 | tee "$out/python.txt"
python3 -c 'import datasets' 2>/dev/null || echo "no datasets package: sentence-transformers trains through its plain PyTorch loop (st_run.py train_plain)" | tee -a "$out/python.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
tar -C "$work/run" -xJf out/devexp/data.tar.xz
python3 tests/python/experiment/models.py unpack out/devexp/model.tar.xz --out "$work/model" 2>&1 | tee "$out/unpack.txt"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "the model could not be unpacked (see unpack.txt)"; exit 1; }
timeout "${EXPERIMENT_TIMEOUT:-540}" node .devbuild/experiment.mjs run --dir "$work/run" --model "$work/model" \
  --cli "node .devbuild/rerank-lab.mjs" --python python3 2>&1 | tee "$out/experiment.log"
rc=${PIPESTATUS[0]}
echo "experiment exit code $rc" | tee -a "$out/experiment.log"
exit "$rc"
