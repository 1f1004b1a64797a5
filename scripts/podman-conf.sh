#!/usr/bin/env bash
# The containers.conf settings rootful podman needs on this machine to run
# pushbind's image, written as a drop-in (podman 4.3 reads
# /etc/containers/containers.conf.d/*.conf after /etc/containers/containers.conf).
# An existing drop-in is left as it is, and a setting the operator made in
# containers.conf or another drop-in is not written again: theirs stays in force.
set -euo pipefail

dir=/etc/containers/containers.conf.d
dropin=$dir/00-pushbind.conf
[[ -e "$dropin" ]] && exit 0

operator_sets() { # KEY: does an operator's file set KEY?
  local files=(/etc/containers/containers.conf "$dir"/*.conf)
  grep -qsE "^[[:space:]]*$1[[:space:]]*=" "${files[@]}"
}

# podman asks runc for nofile=1048576 and an nproc above the machine's limits
# when no default_ulimits is set, and runc cannot raise them ("error setting
# rlimit ... operation not permitted"): give containers the hard limits of this
# shell instead (nproc at most kernel.pid_max, the most runc may set here).
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
pid_max=$(cat /proc/sys/kernel/pid_max)
if [[ "$nproc" == unlimited ]] || ((nproc > pid_max)); then
  nproc=$pid_max
fi
ulimits=()
[[ "$nofile" == unlimited ]] || ulimits+=("\"nofile=$nofile:$nofile\"")
ulimits+=("\"nproc=$nproc:$nproc\"")

conf="# Written by pushbind's scripts/deps.sh image; edit or remove it freely: it is not rewritten."
if ! operator_sets default_ulimits; then
  conf+="

[containers]
# The hard limits of the shell that wrote this file: podman's own defaults
# exceed what runc may set on this machine.
default_ulimits = [$(IFS=,; echo "${ulimits[*]}" | sed 's/,/, /g')]"
fi
if ! operator_sets runtime; then
  conf+='

[engine]
# crun fails where cgroups are in hybrid mode ("cgroups in hybrid mode not supported").
runtime = "runc"'
fi

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "pushbind: writing $dropin" >&2
$sudo mkdir -p "$dir"
printf '%s\n' "$conf" | $sudo tee "$dropin" >/dev/null
