#!/usr/bin/env bash
# Creates (once) the Python virtual environment used only by the ground-truth checks in tests/python/, and prints its
# python's path on the last line. The environment lives in $RERANK_LAB_PYENV (default: .pyenv/ in the checkout,
# ignored by git). Packages: tests/python/requirements.txt. Re-run after editing that file: it installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
env_dir=${RERANK_LAB_PYENV:-$PWD/.pyenv}
req=tests/python/requirements.txt
stamp="$env_dir/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x "$env_dir/bin/python" ]; then
  echo "Creating the Python environment for the checks in $env_dir …" >&2
  python3 -m venv "$env_dir"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing tests/python/requirements.txt into $env_dir (first time: several minutes, ~5 GB with torch) …" >&2
  "$env_dir/bin/pip" install --quiet --disable-pip-version-check --progress-bar off -r "$req" >&2
  echo "$want" > "$stamp"
fi
echo "$env_dir/bin/python"
