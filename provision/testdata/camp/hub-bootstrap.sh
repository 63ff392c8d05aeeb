#!/usr/bin/env bash
# camphub hub bootstrap (camp): Docker, the NFS mounts, the swarm and its overlay network.
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


# install_firewall: the container firewall (camphub-firewall) as a unit that runs before Docker
# starts, at boot and at every Docker restart (PartOf), and apply it now.
install_firewall() {
  local tmp changed=0
  tmp=$(mktemp)
  cat >"$tmp" <<'CAMPHUB_FIREWALL'
#!/usr/bin/env bash
# camphub-firewall (hub): keep this node's containers off the cluster. Installed by camphub
# as /usr/local/sbin/camphub-firewall and run by camphub-firewall.service before Docker starts
# (and again whenever Docker restarts). Safe to run again: it rebuilds its own chains only.
#   Forwarded traffic from containers (chain DOCKER-USER, which Docker never flushes): DNS to
#   the VPC resolver is allowed; the metadata service and every other link-local address, and
#   the whole VPC (10.42.0.0/16: NFS, swarm, SSH, Docker API of every node) are dropped; the
#   internet is allowed. Notebooks reach the hub over the overlay network, whose packets the host
#   itself sends (VXLAN, IPsec), so these rules leave it alone.
#   Traffic from containers to this node itself (chain INPUT, from Docker's bridges): dropped.
set -euo pipefail
ipt() { iptables -w 10 "$@"; }
# jump CHAIN RULE...: make RULE (a jump) the first rule of CHAIN, once.
jump() {
  local from=$1
  shift
  ipt -C "$from" "$@" 2>/dev/null || ipt -I "$from" 1 "$@"
}

# camphub's chains, replaced in one commit (declaring a chain empties it): never a moment with
# half a rule set. DOCKER-USER is Docker's (made here if Docker has not run yet), never emptied.
ipt -N DOCKER-USER 2>/dev/null || true
iptables-restore -w 10 --noflush <<'RULES'
*filter
:CAMPHUB-CONTAINERS - [0:0]
:CAMPHUB-NODE - [0:0]
-A CAMPHUB-CONTAINERS -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
-A CAMPHUB-CONTAINERS -d 10.42.0.2/32 -p udp -m udp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 10.42.0.2/32 -p tcp -m tcp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 169.254.169.253/32 -p udp -m udp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 169.254.169.253/32 -p tcp -m tcp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 169.254.0.0/16 -j DROP
-A CAMPHUB-CONTAINERS -d 10.42.0.0/16 -j DROP
-A CAMPHUB-NODE -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
-A CAMPHUB-NODE -j DROP
COMMIT
RULES
jump DOCKER-USER -j CAMPHUB-CONTAINERS
for bridge in docker0 docker_gwbridge br-+; do
  jump INPUT -i "$bridge" -j CAMPHUB-NODE
done
CAMPHUB_FIREWALL
  if ! cmp -s "$tmp" /usr/local/sbin/camphub-firewall; then
    install -m 0755 "$tmp" /usr/local/sbin/camphub-firewall
    changed=1
  fi
  cat >"$tmp" <<'CAMPHUB_FIREWALL_UNIT'
[Unit]
Description=camphub firewall: containers reach the internet and the hub (overlay), nothing else of the cluster
Before=docker.service
PartOf=docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/camphub-firewall

[Install]
WantedBy=docker.service multi-user.target
CAMPHUB_FIREWALL_UNIT
  if ! cmp -s "$tmp" /etc/systemd/system/camphub-firewall.service; then
    install -m 0644 "$tmp" /etc/systemd/system/camphub-firewall.service
    changed=1
  fi
  rm -f "$tmp"
  if [ "$changed" = 1 ]; then
    systemctl daemon-reload
  fi
  systemctl enable -q camphub-firewall.service
  /usr/local/sbin/camphub-firewall
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

ensure_packages docker nfs-utils
systemctl enable --now docker
usermod -aG docker ec2-user
mount_nfs 10.42.0.11
install_firewall
install -d -m 0700 -o root -g root /srv/jupyterhub /srv/jupyterhub/ssl
swarm_init 10.42.0.10
overlay_network jupyterhub-net
docker swarm join-token -q worker >&3
