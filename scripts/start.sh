#!/usr/bin/env bash
# `npm start`: installs the Node packages if needed and serves the app on http://127.0.0.1:5173/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec npx vite --host 127.0.0.1 "$@"
