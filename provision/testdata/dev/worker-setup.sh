#!/usr/bin/env bash
# camphub worker setup (dev): the NFS mounts (Docker waits for them at every boot), and
# the swarm (join token on standard input, never echoed). Safe to run again.
set -euo pipefail
umask 022
IFS= read -r join_token
if [ -z "$join_token" ]; then
  echo "camphub: no swarm join token on standard input" >&2
  exit 1
fi

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


# install_firewall: the container firewall (camphub-firewall), run by docker.service before the
# engine starts (a drop-in: the engine does not start if it fails), and applied now.
install_firewall() {
  local tmp changed=0
  tmp=$(mktemp)
  cat >"$tmp" <<'CAMPHUB_FIREWALL'
#!/usr/bin/env bash
# camphub-firewall (worker): keep this node's containers off the cluster. Installed by camphub
# as /usr/local/sbin/camphub-firewall and run by docker.service before the engine starts, at
# boot and at every restart (ExecStartPre): if it fails, Docker does not start and no container
# runs unfiltered. Safe to run again: it rebuilds its own chains only.
#   Packets from containers (chain CAMPHUB-CONTAINERS of the mangle table, jumped to first
#   thing in PREROUTING from Docker's bridges, before any routing or filter rule; Docker never
#   touches that chain, unlike FORWARD, where it puts its own rules ahead of DOCKER-USER while it
#   starts): DNS to the VPC resolver is allowed; the metadata service and every other link-local
#   address, and the whole VPC (10.42.0.0/16: NFS, swarm, SSH, Docker API of every node) are
#   dropped; the internet is allowed. Notebooks reach the hub over the overlay network, whose
#   packets the host itself sends (VXLAN, IPsec), so these rules leave it alone.
#   Traffic from containers to this node itself (chain CAMPHUB-NODE, from INPUT): dropped.
#   IPv6: containers have no IPv6 network; whatever they send over it (link-local too) is
#   dropped the same way.
set -euo pipefail
# first COMMAND TABLE CHAIN RULE...: make RULE (a jump) the first rule of TABLE's CHAIN, once.
first() {
  local cmd=$1 table=$2 chain=$3
  shift 3
  "$cmd" -w 10 -t "$table" -C "$chain" "$@" 2>/dev/null || "$cmd" -w 10 -t "$table" -I "$chain" 1 "$@"
}

# camphub's chains, replaced in one commit (declaring a chain empties it): never a moment with
# half a rule set.
iptables-restore -w 10 --noflush <<'RULES'
*mangle
:CAMPHUB-CONTAINERS - [0:0]
-A CAMPHUB-CONTAINERS -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
-A CAMPHUB-CONTAINERS -d 10.42.0.2/32 -p udp -m udp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 10.42.0.2/32 -p tcp -m tcp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 169.254.169.253/32 -p udp -m udp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 169.254.169.253/32 -p tcp -m tcp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 169.254.0.0/16 -j DROP
-A CAMPHUB-CONTAINERS -d 10.42.0.0/16 -j DROP
COMMIT
*filter
:CAMPHUB-NODE - [0:0]
-A CAMPHUB-NODE -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
-A CAMPHUB-NODE -j DROP
COMMIT
RULES
for bridge in docker0 docker_gwbridge br-+; do
  first iptables mangle PREROUTING -i "$bridge" -j CAMPHUB-CONTAINERS
  first iptables filter INPUT -i "$bridge" -j CAMPHUB-NODE
  if [ -e /proc/net/if_inet6 ]; then
    first ip6tables mangle PREROUTING -i "$bridge" -j DROP
  fi
done
CAMPHUB_FIREWALL
  if ! cmp -s "$tmp" /usr/local/sbin/camphub-firewall; then
    install -m 0755 "$tmp" /usr/local/sbin/camphub-firewall
  fi
  cat >"$tmp" <<'CAMPHUB_FIREWALL_DROPIN'
[Service]
# camphub: no engine, and so no container, without the container firewall.
ExecStartPre=/usr/local/sbin/camphub-firewall
# camphub: when a worker runs out of memory, the kernel kills a student's process, not the engine.
OOMScoreAdjust=-500
CAMPHUB_FIREWALL_DROPIN
  install -d -m 0755 /etc/systemd/system/docker.service.d
  if ! cmp -s "$tmp" /etc/systemd/system/docker.service.d/camphub-firewall.conf; then
    install -m 0644 "$tmp" /etc/systemd/system/docker.service.d/camphub-firewall.conf
    changed=1
  fi
  rm -f "$tmp"
  if [ "$changed" = 1 ]; then
    systemctl daemon-reload
  fi
  /usr/local/sbin/camphub-firewall
}


# docker_waits_for_nfs: at every boot, Docker (and so every notebook task) starts only once the
# NFS mounts are up; until then the node is down in the swarm and gets no task. The wait retries
# the mounts itself, so a file server that comes back later is picked up without a hand.
docker_waits_for_nfs() {
  local tmp changed=0
  tmp=$(mktemp)
  cat >"$tmp" <<'CAMPHUB_WAIT'
#!/usr/bin/env bash
# camphub-wait-nfs: wait until the NFS mounts are up, mounting them from fstab until they are
# (run by docker.service before it starts, so no task starts without its home folders).
set -euo pipefail
for mp in /mnt/camphub/home /mnt/camphub/course; do
  until mountpoint -q "$mp"; do
    mount "$mp" 2>/dev/null || sleep 5
  done
done
CAMPHUB_WAIT
  if ! cmp -s "$tmp" /usr/local/sbin/camphub-wait-nfs; then
    install -m 0755 "$tmp" /usr/local/sbin/camphub-wait-nfs
    changed=1
  fi
  printf '%s\n' '[Unit]' 'After=remote-fs.target' '[Service]' \
    'ExecStartPre=/usr/local/sbin/camphub-wait-nfs' 'TimeoutStartSec=infinity' >"$tmp"
  install -d -m 0755 /etc/systemd/system/docker.service.d
  if ! cmp -s "$tmp" /etc/systemd/system/docker.service.d/camphub-nfs.conf; then
    install -m 0644 "$tmp" /etc/systemd/system/docker.service.d/camphub-nfs.conf
    changed=1
  fi
  rm -f "$tmp"
  if [ "$changed" = 1 ]; then
    systemctl daemon-reload
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

ensure_packages docker nfs-utils iptables-nft
systemctl enable --now docker
usermod -aG docker ec2-user
mount_nfs 10.42.0.11
install_firewall
docker_waits_for_nfs
swarm_join 10.42.0.10 "$join_token"
unset join_token
echo "camphub: $(hostname) is in the swarm with its NFS mounts" >&2
