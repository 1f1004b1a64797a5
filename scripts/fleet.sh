#!/usr/bin/env bash
# `make fleet` (scripts/fleet.sh up) and `make fleet-down` (scripts/fleet.sh
# down): pushbind's fleet under rootful podman, from
# packaging/fleet/pushbind-fleet.yaml: PostgreSQL with a synchronous standby,
# two pushbind replicas on it, HAProxy in front of them on one published
# port; the demo app created; a working curl printed.
#
#   FLEET_NAME  the pod's name, prefix of its containers and volumes (pushbind-fleet)
#   FLEET_PORT  the published port on 127.0.0.1 (8090)
#   ACCESS_ID   the demo app (1500001048)
#   SECRET_KEY  its secret key (default random); kept in
#               build-fleet/FLEET_NAME-secret-key while the fleet lives
#
# up on a running fleet prints its curl again; down removes the pod, its
# containers and volumes, whatever state up left them in.
set -euo pipefail
cd "$(dirname "$0")/.."

name=${FLEET_NAME:-pushbind-fleet}
port=${FLEET_PORT:-8090}
access_id=${ACCESS_ID:-1500001048}
out=build-fleet
fleet_image=localhost/pushbind-fleet:latest
pushbind_image=localhost/pushbind:latest
secret_file=$out/$name-secret-key
ready_timeout=120

[[ $(id -u) -eq 0 ]] || { echo "pushbind fleet: podman runs as root here: sudo make ${1:-fleet}" >&2; exit 1; }

down() {
  podman pod rm --force --time 15 "$name" >/dev/null 2>&1 || true
  podman rm --force "$name-app-add" >/dev/null 2>&1 || true
  podman volume rm --force "$name-primary" "$name-standby" >/dev/null 2>&1 || true
  rm -f "$out/$name.yaml" "$out/$name-play.log" "$secret_file"
  echo "pushbind fleet: $name removed (pod, containers, volumes)" >&2
}

# The store URL the replicas use, as the pod file says it.
store_url() {
  sed -n 's/^ *value: \(postgresql:.*\)$/\1/p' "$out/$name.yaml" | head -n 1
}

# The pod's address on podman's network, where each replica answers on its own port.
pod_address() {
  local infra
  infra=$(podman pod inspect --format '{{.InfraContainerID}}' "$name")
  podman inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$infra"
}

# Whether four /healthz through the balancer (round robin) were answered by both replicas.
both_in_rotation() {
  local i
  for i in 1 2 3 4; do
    curl -fsS -o /dev/null -D - --max-time 2 "http://127.0.0.1:$1/healthz"
  done | tr -d '\r' | sed -n 's/^x-pushbind-replica: *//Ip' | sort -u | wc -l | grep -qx 2
}

# Runs "$@" every half second until it succeeds; fails after ready_timeout.
wait_for() {
  local what=$1 deadline=$((SECONDS + ready_timeout))
  shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      echo "pushbind fleet: $what not ready after ${ready_timeout} s; podman logs $name-<container>," \
        "podman pod ps; make fleet-down removes it" >&2
      return 1
    fi
    sleep 0.5
  done
}

standby_synchronous() {
  [[ $(podman exec "$name-postgres-primary" psql -h 127.0.0.1 -p 5432 -U postgres -Atc \
    "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'") == sync ]]
}

print_front_door() {
  local secret base address
  secret=$(cat "$secret_file")
  base="http://127.0.0.1:$port/v3/device/account"
  address=$(pod_address)
  cat <<EOT
pushbind fleet $name: demo app $access_id (secret key in $secret_file)

$(printf '  %-28s %s\n' "http://127.0.0.1:$port/" "the balancer (HAProxy), round robin over the replicas" \
    "http://$address:8081/" "replica-1, directly" "http://$address:8082/" "replica-2, directly")
  store: $(store_url)
         PostgreSQL primary 127.0.0.1:5432 and synchronous standby :5433 inside the pod

Bind account "alice" to device token "token-1", then ask which devices alice has:

  curl -s -u $access_id:$secret $base/batchoperate -d '{"operator_type":1,"token_accounts":[{"token":"token-1","account_list":[{"account":"alice"}]}]}'
  curl -s -u $access_id:$secret $base/query -d '{"operator_type":1,"account_list":[{"account":"alice"}]}'

Logs: podman logs -f $name-replica-1 (also -replica-2, -balancer, -postgres-primary, -postgres-standby)
Stop and remove everything: make fleet-down

EOT
}

up() {
  mkdir -p "$out"
  if podman pod exists "$name" && [[ -s "$secret_file" ]]; then
    echo "pushbind fleet: $name is running already" >&2
    print_front_door
    return
  fi
  local base
  base=$(cat build-image/base-image 2>/dev/null) || { echo "pushbind fleet: no base image (make image)" >&2; exit 1; }
  echo "pushbind fleet: $fleet_image (PostgreSQL 15, HAProxy) on $base" >&2
  local previous
  previous=$(podman image inspect --format '{{.Id}}' "$fleet_image" 2>/dev/null || true)
  podman build --quiet --pull=never --build-arg BASE="$base" --tag "$fleet_image" \
    --file packaging/fleet/Containerfile packaging/fleet >/dev/null
  # The image this replaced, unless a container still uses it.
  if [[ -n "$previous" && "$previous" != $(podman image inspect --format '{{.Id}}' "$fleet_image") ]]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
  fi
  for image in "$pushbind_image" "$fleet_image"; do
    podman images --format "{{.Repository}}:{{.Tag}} {{.Size}}" "$image" >&2
  done

  # The pod file with this fleet's name and port.
  sed -e "s/^\(  name: \|    app: \|        claimName: \)pushbind-fleet/\1$name/" \
    -e "s/hostPort: 8090/hostPort: $port/" \
    packaging/fleet/pushbind-fleet.yaml >"$out/$name.yaml"
  # Podman cannot schedule the pushbind image's HEALTHCHECK where systemd is
  # not PID 1 and says so on stderr: kept in a log, shown when play fails.
  if ! podman kube play "$out/$name.yaml" >"$out/$name-play.log" 2>&1; then
    cat "$out/$name-play.log" >&2
    echo "pushbind fleet: podman kube play failed; make fleet-down removes what it made" >&2
    exit 1
  fi

  wait_for "the synchronous standby" standby_synchronous
  if [[ -n "${SECRET_KEY:-}" ]]; then
    (umask 077; printf '%s\n' "$SECRET_KEY" >"$secret_file")
  else
    (umask 077; openssl rand -hex 16 >"$secret_file")
  fi
  podman run --rm --no-healthcheck --name "$name-app-add" --pod "$name" --entrypoint pushbind "$pushbind_image" \
    app add --store "$(store_url)" --access-id "$access_id" --secret-key "$(cat "$secret_file")" >/dev/null
  local address
  address=$(pod_address)
  wait_for "replica-1" curl -fsS -o /dev/null --max-time 2 "http://$address:8081/healthz"
  wait_for "replica-2" curl -fsS -o /dev/null --max-time 2 "http://$address:8082/healthz"
  wait_for "the balancer" curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/healthz"
  # a replica that failed its first checks while the database started is back in the rotation a check later
  wait_for "both replicas behind the balancer" both_in_rotation "$port"
  print_front_door
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: scripts/fleet.sh [up|down]" >&2; exit 2 ;;
esac
