#!/usr/bin/env bash
# camphub worker labels (camp): on the hub, wait until every worker of the pool is a ready
# swarm node, then label it so notebooks are placed only there. Safe to run again.
set -euo pipefail

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

label_workers camphub.notebooks 10.42.0.12 10.42.0.13 10.42.0.14 10.42.0.15 10.42.0.16
echo "camphub: 5 worker(s) ready and labelled camphub.notebooks" >&2
