#!/usr/bin/env bash
# camphub-swarm: the swarm steps of the hub and worker scripts on their own, for operators and
# for the rehearsal that runs them against real Docker engines. Each is safe to run again.
#   camphub-swarm init ADDR          make this node the manager, advertised on ADDR
#   camphub-swarm network [NAME]     the attachable overlay network (default jupyterhub-net)
#   camphub-swarm join MANAGER       join MANAGER's swarm; the join token is read from stdin
#   camphub-swarm label ADDR...      wait for the workers at ADDR... and label them camphub.notebooks
set -euo pipefail

# swarm_init ADDR: make this node the swarm's manager, advertised on ADDR, once.
swarm_init() {
  local addr=$1 state
  state=$(docker info --format '{{.Swarm.LocalNodeState}}')
  # A manager restored from its state volume (a replaced hub) may take a moment to take office.
  for _ in $(seq 1 30); do
    [ "$state" = pending ] || break
    sleep 2
    state=$(docker info --format '{{.Swarm.LocalNodeState}}')
  done
  if [ "$state" = active ]; then
    if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
      echo "camphub: this node is in a swarm but is not a manager; refusing to continue" >&2
      return 1
    fi
    return 0
  fi
  if [ "$state" = error ]; then
    # The restored state names this node, but the cluster cannot form (its address changed):
    # make a one-manager cluster from it, keeping its services and the workers' memberships.
    docker swarm init --force-new-cluster --advertise-addr "$addr" --listen-addr "$addr:2377" >/dev/null
    echo "camphub: swarm state restored on $addr (force-new-cluster)" >&2
    return 0
  fi
  docker swarm init --advertise-addr "$addr" --listen-addr "$addr:2377" >/dev/null
  echo "camphub: swarm initialised on $addr" >&2
}

# overlay_network NAME: the attachable overlay network the hub and notebooks share, once. Its
# data path is encrypted (IPsec ESP between nodes): VXLAN must never carry forgeable frames.
overlay_network() {
  local name=$1
  if ! docker network inspect "$name" >/dev/null 2>&1; then
    docker network create --driver overlay --attachable --opt encrypted "$name" >/dev/null
    echo "camphub: overlay network $name created (encrypted)" >&2
  elif [ "$(docker network inspect --format '{{index .Options "encrypted"}}' "$name")" = "<no value>" ]; then
    echo "camphub: overlay network $name exists unencrypted; remove it (docker network rm $name, with no notebook running) and run pulumi up again" >&2
    return 1
  fi
}


# swarm_join MANAGER TOKEN: join MANAGER's swarm as a worker, unless already in it; a node left
# in another swarm (a replaced hub) leaves it first. The token is never echoed.
swarm_join() {
  local manager=$1 token=$2 state managers
  state=$(docker info --format '{{.Swarm.LocalNodeState}}')
  managers=" $(docker info --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}') "
  if [ "$state" = active ] && [[ $managers == *" $manager:2377 "* ]]; then
    return 0
  fi
  if [ "$state" != inactive ]; then
    echo "camphub: leaving a swarm whose manager is not $manager" >&2
    docker swarm leave --force >/dev/null
  fi
  docker swarm join --token "$token" "$manager:2377" >/dev/null
  echo "camphub: joined the swarm of $manager" >&2
}


# label_workers LABEL ADDR...: wait until a worker node with each address is Ready, then label it.
label_workers() {
  local label=$1 addr id found
  shift
  for addr in "$@"; do
    found=""
    for _ in $(seq 1 60); do
      for id in $(docker node ls --filter role=worker -q); do
        if [ "$(docker node inspect --format '{{.Status.Addr}} {{.Status.State}}' "$id")" = "$addr ready" ]; then
          found=$id
          break 2
        fi
      done
      sleep 5
    done
    if [ -z "$found" ]; then
      echo "camphub: no ready swarm worker at $addr after 5 minutes" >&2
      return 1
    fi
    docker node update --label-add "$label=true" "$found" >/dev/null
  done
}

usage() {
  echo "usage: $0 init ADDR | network [NAME] | join MANAGER (token on stdin) | label ADDR..." >&2
  exit 2
}
case "${1:-}" in
  init)
    [ "$#" -eq 2 ] || usage
    swarm_init "$2"
    ;;
  network)
    overlay_network "${2:-jupyterhub-net}"
    ;;
  join)
    [ "$#" -eq 2 ] || usage
    IFS= read -r token
    swarm_join "$2" "$token"
    ;;
  label)
    [ "$#" -ge 2 ] || usage
    shift
    label_workers camphub.notebooks "$@"
    ;;
  *)
    usage
    ;;
esac
