#!/usr/bin/env bash
# Creates (once) the Python virtual environment used only by the ground-truth checks in tests/python/, and prints its
# python's path on the last line. The environment lives in $RERANK_LAB_PYENV (default: .pyenv/ in the checkout,
# ignored by git). Packages: tests/python/requirements.txt. Re-run after editing that file: it installs what changed.
#
# `scripts/python-env.sh st4` (or any FLAVOUR with a tests/python/requirements-FLAVOUR.txt) makes a second, small
# environment in .pyenv-FLAVOUR/ for checking against older library versions (sentence-transformers v4 needs
# transformers 4): it sees the main environment's packages (torch is not downloaded twice) through a .pth file, and
# its own packages, installed from requirements-FLAVOUR.txt, come first on sys.path.
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-}
base_dir=${RERANK_LAB_PYENV:-$PWD/.pyenv}

# make_env DIR REQUIREMENTS: creates DIR once, installs REQUIREMENTS when they changed since the last install.
make_env() {
  local env_dir=$1 req=$2 stamp="$1/.requirements.sha256" want
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ ! -x "$env_dir/bin/python" ]; then
    echo "Creating the Python environment for the checks in $env_dir …" >&2
    python3 -m venv "$env_dir"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing $req into $env_dir (the main environment's first install takes several minutes, ~5 GB with torch) …" >&2
    "$env_dir/bin/pip" install --quiet --disable-pip-version-check --progress-bar off -r "$req" >&2
    echo "$want" > "$stamp"
  fi
}

make_env "$base_dir" tests/python/requirements.txt
if [ -z "$flavour" ]; then
  echo "$base_dir/bin/python"
  exit 0
fi

req=tests/python/requirements-$flavour.txt
[ -f "$req" ] || { echo "no $req: unknown environment flavour '$flavour'" >&2; exit 2; }
env_dir=$PWD/.pyenv-$flavour
if [ ! -x "$env_dir/bin/python" ]; then
  echo "Creating the $flavour environment in $env_dir (on top of $base_dir) …" >&2
  python3 -m venv "$env_dir"
fi
site() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
site "$base_dir/bin/python" > "$(site "$env_dir/bin/python")/rerank-lab-base-env.pth"
make_env "$env_dir" "$req"
echo "$env_dir/bin/python"
