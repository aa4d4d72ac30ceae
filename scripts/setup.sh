#!/usr/bin/env bash
# Installs what ferry needs on Debian 12: the build dependencies, and with --test also the test
# and fuzzing tools and the npm test clients. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

pkgs=(build-essential meson ninja-build pkg-config libjansson-dev libssl-dev zlib1g-dev libcurl4-openssl-dev libmagic-dev curl)
if [ "$want_tests" = 1 ]; then
    pkgs+=(libcmocka-dev clang libclang-rt-dev chromium)
    command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
    command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "$want_tests" = 1 ]; then
    (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
fi
