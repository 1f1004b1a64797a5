#!/usr/bin/env bash
# `make image`: the container image localhost/pushbind:latest, from Debian 12
# packages alone and the binary of this build (build/pushbind, or PUSHBIND_BIN).
#
#   1. a Debian 12 base: mmdebstrap --variant=minbase from this machine's
#      Debian sources, without docs, man pages and translations; cached in
#      build-image/ and in podman as localhost/pushbind-base:KEY, KEY naming
#      the day and the sources, so a second run the same day skips it;
#   2. packaging/container/Containerfile on it (podman build --pull=never):
#      the binary's runtime libraries as dpkg-shlibdeps derives them from the
#      binary (what the .deb's shlibs:Depends says), the user, the entry point.
#
# Rootful podman (scripts/deps.sh image installs it and its settings).
set -euo pipefail
cd "$(dirname "$0")/.."

out=build-image
binary=${PUSHBIND_BIN:-build/pushbind}
image=localhost/pushbind:latest
suite=bookworm

# This machine's Debian 12 sources of main (the release, its updates and its
# security updates), as apt resolved them: those whose Release file says
# o=Debian. Other repositories, backports among them, stay out of the image.
debian_sources() {
  LC_ALL=C apt-cache policy | awk -v suite="$suite" '
    $1 ~ /^[0-9]+$/ && $5 == "Packages" { uri = $2; split($3, dist, "/"); next }
    /release / && /o=Debian,/ && uri != "" && dist[2] == "main" &&
    (dist[1] == suite || dist[1] == suite "-updates" || dist[1] == suite "-security") {
      print "deb " uri " " dist[1] " main" }
    { uri = "" }' | sort -u
}

# Package names from a Depends field: versions and alternatives dropped.
depends_packages() {
  tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g' | grep -v '^$' | sort -u
}

[[ $(id -u) -eq 0 ]] || { echo "pushbind image: podman and mmdebstrap run as root here: sudo make image" >&2; exit 1; }
[[ -x "$binary" ]] || { echo "pushbind image: no $binary (make build)" >&2; exit 1; }
mkdir -p "$out"

if ! shlibs=$(dpkg-shlibdeps -O "$binary" 2>"$out/shlibdeps.log"); then
  cat "$out/shlibdeps.log" >&2
  exit 1
fi
packages=$(sed -n 's/^shlibs:Depends=//p' <<<"$shlibs" | depends_packages | tr '\n' ' ')
packages+="curl"

sources=$(debian_sources)
[[ -n "$sources" ]] || { echo "pushbind image: no Debian $suite source in apt-cache policy" >&2; exit 1; }
mmdebstrap_args=(
  --variant=minbase --mode=root --format=tar
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr  # else usrmerge, and with it perl, comes in
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*'
)
key=$(printf '%s\n' "$(date -u +%F)" "$sources" "${mmdebstrap_args[@]}" | sha256sum | cut -c1-12)
base=localhost/pushbind-base:$key
tarball=$out/base-$key.tar

if ! podman image exists "$base"; then
  if [[ ! -s "$tarball" ]]; then
    echo "pushbind image: building the Debian $suite base ($tarball)" >&2
    rm -f "$out"/base-*.tar
    if ! mmdebstrap "${mmdebstrap_args[@]}" "$suite" "$tarball.part" - <<<"$sources" >"$out/mmdebstrap.log" 2>&1; then
      tail -n 30 "$out/mmdebstrap.log" >&2
      exit 1
    fi
    mv "$tarball.part" "$tarball"
  fi
  podman import --quiet "$tarball" "$base" >/dev/null
fi
# The base's name, for images built on the same base (scripts/fleet.sh).
printf '%s\n' "$base" >"$out/base-image"

context=$out/context
rm -rf "$context"
mkdir -p "$context"
objcopy --strip-debug "$binary" "$context/pushbind"
cp packaging/container/pushbind-entrypoint packaging/container/pushbind-healthcheck "$context/"
version=$("$binary" --version | awk '{ print $2 }')

previous=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
echo "pushbind image: $image on $base with $packages" >&2
podman build --quiet --pull=never --format docker \
  --build-arg BASE="$base" --build-arg PACKAGES="$packages" --build-arg VERSION="$version" \
  --tag "$image" --file packaging/container/Containerfile "$context" >/dev/null

# What this replaced: the previous image when nothing uses it any more, and
# older bases (podman refuses while an image or container still uses them).
current=$(podman image inspect --format '{{.Id}}' "$image")
if [[ -n "$previous" && "$previous" != "$current" ]]; then
  podman rmi "$previous" >/dev/null 2>&1 || true
fi
podman images --format '{{.Repository}}:{{.Tag}}' localhost/pushbind-base | grep -vx "$base" |
  xargs -r podman rmi >/dev/null 2>&1 || true
podman images "$image"
