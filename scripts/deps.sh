#!/usr/bin/env bash
# Installs the Debian packages pushbind needs to build, test and run (and, with
# `bench`, to benchmark), when any is missing. Quiet and quick when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libh2o-evloop-dev libhiredis-dev liblmdb-dev libssl-dev libyajl-dev
  libcmocka-dev python3 curl openssl
  redis-server redis-tools wrk
  clang libclang-rt-14-dev llvm  # make fuzz / fuzz-smoke: libFuzzer runtime and symbolizer
)
# `scripts/deps.sh bench` (make bench) adds nginx, the HTTP ceiling pushbind
# is measured against (wrk and Redis are needed by the tests already).
if [[ "${1:-}" == "bench" ]]; then
  packages+=(nginx-light nghttp2-client)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "pushbind: installing ${missing[*]}" >&2
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
