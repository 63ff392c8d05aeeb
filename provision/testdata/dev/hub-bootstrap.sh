#!/usr/bin/env bash
# camphub hub bootstrap (dev): Docker, the NFS mounts, the swarm and its overlay network.
# Safe to run again. Standard output carries only the swarm's worker join token (a secret).
set -euo pipefail
exec 3>&1 1>&2
umask 022

# Wait for first-boot setup (packages) before touching anything.
if command -v cloud-init >/dev/null 2>&1; then
  cloud-init status --wait >/dev/null || echo "camphub: cloud-init reported a problem; continuing with this script's own installs" >&2
fi

# ensure_packages PKG...: install what is missing (cloud-init normally did already).
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    rpm -q "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    dnf install -y -q "${missing[@]}"
  fi
}


# mount_nfs SERVER: mount the NFS server's exports at the same paths on every hub and worker,
# through fstab entries marked "# camphub-nfs" (rewritten when the server's address changes).
# Both are mounted read-write; the server's exports decide who may write (a student's container
# gets the course folder read-only from the spawner).
mount_nfs() {
  local server=$1 fstab=/etc/fstab tmp mp want src
  tmp=$(mktemp)
  grep -v ' # camphub-nfs$' "$fstab" >"$tmp" || true
  printf '%s %s nfs4 %s 0 0 # camphub-nfs\n' \
    "$server:/srv/nfs/home" "/mnt/camphub/home" "rw,hard,noatime,_netdev,nofail" \
    "$server:/srv/nfs/course" "/mnt/camphub/course" "rw,hard,noatime,_netdev,nofail" >>"$tmp"
  if ! cmp -s "$tmp" "$fstab"; then
    cat "$tmp" >"$fstab"
    systemctl daemon-reload
  fi
  rm -f "$tmp"
  for mp in "/mnt/camphub/home" "/mnt/camphub/course"; do
    mkdir -p "$mp"
    want=$(awk -v mp="$mp" '$2 == mp && $3 == "nfs4" {print $1}' "$fstab")
    src=$(findmnt -rn -o SOURCE --mountpoint "$mp" || true)
    if [ -n "$src" ] && [ "$src" != "$want" ]; then
      umount "$mp"
    fi
    mountpoint -q "$mp" || mount "$mp"
  done
}


# swarm_init ADDR: make this node the swarm's manager, advertised on ADDR, once.
swarm_init() {
  local addr=$1 state
  state=$(docker info --format '{{.Swarm.LocalNodeState}}')
  if [ "$state" = active ]; then
    if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
      echo "camphub: this node is in a swarm but is not a manager; refusing to continue" >&2
      return 1
    fi
    return 0
  fi
  docker swarm init --advertise-addr "$addr" --listen-addr "$addr:2377" >/dev/null
  echo "camphub: swarm initialised on $addr" >&2
}

# overlay_network NAME: the attachable overlay network the hub and notebooks share, once.
overlay_network() {
  local name=$1
  if ! docker network inspect "$name" >/dev/null 2>&1; then
    docker network create --driver overlay --attachable "$name" >/dev/null
    echo "camphub: overlay network $name created" >&2
  fi
}

ensure_packages docker nfs-utils
systemctl enable --now docker
usermod -aG docker ec2-user
mount_nfs 10.42.0.11
install -d -m 0700 -o root -g root /srv/jupyterhub /srv/jupyterhub/ssl
swarm_init 10.42.0.10
overlay_network jupyterhub-net
docker swarm join-token -q worker >&3
