#!/usr/bin/env bash
# Installs what the app and the tests need, only where missing:
#   - Node packages (npm install when node_modules is absent or older than package.json / the lockfile);
#   - with --system: Debian's chromium (the browser for end-to-end tests, and SwiftShader, the CPU WebGPU driver that
#     Dawn uses on machines without a GPU), libvulkan1 (the Vulkan loader Dawn needs) and a CJK font (so the end-to-end
#     screenshots show the page's Chinese text instead of empty boxes).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--system" ]; then
  need=()
  [ -x /usr/bin/chromium ] || need+=(chromium)
  ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' || need+=(libvulkan1)
  fc-list 2>/dev/null | grep -qi 'wqy\|noto.*cjk' || need+=(fonts-wqy-microhei)
  if [ ${#need[@]} -gt 0 ]; then
    echo "Installing Debian packages: ${need[*]}"
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo_cmd apt-get update -qq
    $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

# onnxruntime-node (pulled in by @huggingface/transformers, unused at run time) would download CUDA libraries from
# NuGet in its postinstall. npm 11 runs no dependency script that package.json's "allowScripts" does not approve (it
# denies this one); older npm runs them all, and the script honours this variable. (An .npmrc setting did the same
# but made every npm command warn "Unknown project config".)
export ONNXRUNTIME_NODE_INSTALL=skip

stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || { [ -f package-lock.json ] && [ package-lock.json -nt "$stamp" ]; }; then
  echo "Installing Node packages (npm install)…"
  npm install --no-audit --no-fund --loglevel=error
fi
