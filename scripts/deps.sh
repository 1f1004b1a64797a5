#!/usr/bin/env bash
# Installs the Debian packages pushbind needs to build, test and run (and, with
# `bench`, to benchmark; with `deb`, to build the Debian package; with `image`,
# to build and run the container image), when any is missing. Quiet and quick
# when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libh2o-evloop-dev libhiredis-dev liblmdb-dev libssl-dev libyajl-dev libpq-dev
  libcmocka-dev libcurl4-openssl-dev python3 curl openssl
  python3-yaml python3-jsonschema  # the black-box tests check every answer against docs/openapi.yaml
  redis-server redis-tools wrk
  postgresql-15 postgresql-client-15 patroni python3-etcd etcd-server etcd-client  # the suite on PostgreSQL, Patroni + etcd (test/blackbox/pbpostgres.py)
  clang libclang-rt-14-dev llvm  # make fuzz / fuzz-smoke: libFuzzer runtime and symbolizer
  chromium chromium-driver python3-selenium  # the console's browser tests (test/browser)
)
# `scripts/deps.sh bench` (make bench) adds nginx, the HTTP ceiling pushbind
# is measured against (wrk and Redis are needed by the tests already), and
# what scripts/bench-import-redis.sh uses to time and divide.
if [[ "${1:-}" == "bench" ]]; then
  packages+=(nginx-light nghttp2-client bc time)
fi
# `scripts/deps.sh deb` (make deb) adds the tools that build and check the
# Debian package; the build dependencies themselves are in the list above.
if [[ "${1:-}" == "deb" ]]; then
  packages+=(debhelper dpkg-dev fakeroot lintian)
fi
# `scripts/deps.sh image` (make image) adds rootful podman with runc and CNI
# networking, and mmdebstrap, which builds the image's Debian base; then the
# containers.conf settings podman needs on this machine (see below).
if [[ "${1:-}" == "image" ]]; then
  packages+=(podman runc containernetworking-plugins iptables mmdebstrap debian-archive-keyring)
fi
# `scripts/deps.sh fleet` (make fleet) adds catatonit, the init of the pause
# image podman builds for a pod's infra container (podman kube play); the rest
# of the fleet comes as images built from Debian's packages.
if [[ "${1:-}" == "fleet" ]]; then
  packages+=(catatonit)
fi
# `scripts/deps.sh partition` (make test-partition) adds iptables, which cuts
# the links between the test's servers.
if [[ "${1:-}" == "partition" ]]; then
  packages+=(iptables)
fi
# The OpenAPI linter (tools/openapi, test openapi_lint) is an npm package; a
# machine with a Node.js of its own keeps it, another gets Debian's npm.
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -ne 0 ]]; then
  echo "pushbind: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The pinned linter, from tools/openapi/package-lock.json.
tools=$(dirname "$0")/../tools/openapi
if [[ ! -x "$tools/node_modules/.bin/redocly" ]]; then
  echo "pushbind: installing tools/openapi (npm ci)" >&2
  npm ci --prefix "$tools" --no-audit --no-fund --loglevel=error >/dev/null
fi
# axe-core, pinned in tools/axe/package-lock.json: the console's browser tests
# run it on the page and fail on what it finds.
axe=$(dirname "$0")/../tools/axe
if [[ ! -f "$axe/node_modules/axe-core/axe.min.js" ]]; then
  echo "pushbind: installing tools/axe (npm ci)" >&2
  npm ci --prefix "$axe" --no-audit --no-fund --loglevel=error >/dev/null
fi

if [[ "${1:-}" == "image" ]]; then
  "$(dirname "$0")/podman-conf.sh"
fi
