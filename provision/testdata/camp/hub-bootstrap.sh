#!/usr/bin/env bash
# camphub hub bootstrap (camp): the hub's state volume, Docker, the NFS mounts, the swarm
# and its overlay network. Safe to run again. Standard output carries only the swarm's worker
# join token (a secret).
# The hub's state lives on its own EBS volume, not on the machine's root disk: the JupyterHub
# directory (/srv/jupyterhub: database, cookie secret, proxy token) and the swarm's state
# (/var/lib/docker/swarm). A replaced hub (same private address) mounts them again and comes
# back as the same swarm manager, with the same users and the same running notebooks.
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


# prepare_disk DEVICE MOUNT_POINT [prjquota]: make DEVICE the ext4 filesystem mounted at
# MOUNT_POINT (by UUID, through fstab). A blank disk is formatted; a disk that already holds ext4
# is only mounted (and grown to the volume's size); a disk holding anything else stops the
# script untouched. 1 % of the blocks stay reserved for root: when students fill the disk, the
# hub (which writes as root, not squashed) can still make a new student's folder, and the
# operator can act.
# With prjquota (the NFS server's data disk), the file system has the quota and project features
# (a new one is made with them; an older one gets them, data kept, which needs it unmounted for
# a moment: the NFS server is stopped meanwhile) and is mounted with prjquota, without which
# ext4 counts project use but enforces no limit (docs/upstream.md Q1).
prepare_disk() {
  local device=$1 mount_point=$2 quota=${3:-} fstab=${CAMPHUB_FSTAB:-/etc/fstab} fs_type uuid options
  if [ ! -b "$device" ]; then
    echo "camphub: $device is not a block device" >&2
    return 1
  fi
  fs_type=$(blkid -p -o value -s TYPE "$device" 2>/dev/null || true)
  if [ -z "$fs_type" ]; then
    if [ -n "$(wipefs --noheadings "$device" 2>/dev/null)" ] || [ -n "$(blkid -p -o value -s PTTYPE "$device" 2>/dev/null || true)" ]; then
      echo "camphub: $device has a partition table or signature but no filesystem; refusing to format it" >&2
      return 1
    fi
    echo "camphub: $device is blank; creating an ext4 filesystem" >&2
    mkfs.ext4 -q -L camphub-data -m 1 ${quota:+-O quota,project -E quotatype=prjquota} "$device"
  elif [ "$fs_type" != ext4 ]; then
    echo "camphub: $device holds a $fs_type filesystem, not ext4; refusing to touch it (check the volume attached as the data disk)" >&2
    return 1
  else
    echo "camphub: $device already holds ext4; keeping its data" >&2
  fi
  uuid=$(blkid -p -o value -s UUID "$device")
  mkdir -p "$mount_point"
  options="defaults,nofail,noatime${quota:+,$quota}"
  if ! grep -qxF "UUID=$uuid $mount_point ext4 $options 0 2" "$fstab"; then
    # This disk's line, with today's options (an older one without prjquota is replaced).
    grep -v "^UUID=$uuid " "$fstab" >"$fstab.camphub" || true
    echo "UUID=$uuid $mount_point ext4 $options 0 2" >>"$fstab.camphub"
    cat "$fstab.camphub" >"$fstab"
    rm -f "$fstab.camphub"
  fi
  if [ -n "$quota" ] && mountpoint -q "$mount_point" && { ! has_quota_features "$device" || ! findmnt -n -o OPTIONS "$mount_point" | tr , '\n' | grep -qx "$quota"; }; then
    echo "camphub: remounting $mount_point with project quotas (the NFS server stops for a moment)" >&2
    if systemctl is-active -q nfs-server 2>/dev/null; then
      systemctl stop nfs-server
    fi
    if ! umount "$mount_point"; then
      echo "camphub: $mount_point is busy, so project quotas cannot be turned on; stop what uses it (fuser -vm $mount_point) and run pulumi up again" >&2
      return 1
    fi
  fi
  if [ -n "$quota" ] && ! has_quota_features "$device"; then
    echo "camphub: turning on project quotas on $device (its data stays)" >&2
    check_fs "$device"
    tune2fs -O project -Q prjquota "$device" >/dev/null
  fi
  tune2fs -m 1 "$device" >/dev/null
  # A grown volume: the file system grows to fill it, before mounting when it is not mounted yet
  # (checked first, as resize2fs requires), else online.
  if ! mountpoint -q "$mount_point" && fs_smaller_than_device "$device"; then
    echo "camphub: growing the file system on $device to the volume's size" >&2
    check_fs "$device"
    resize2fs "$device" >/dev/null 2>&1
  fi
  if ! mountpoint -q "$mount_point"; then
    mount -t ext4 -o "noatime${quota:+,$quota}" "UUID=$uuid" "$mount_point"
  fi
  if fs_smaller_than_device "$device"; then
    echo "camphub: growing the mounted file system on $device to the volume's size" >&2
    if ! out=$(resize2fs "$device" 2>&1); then
      echo "camphub: growing the file system on $device failed: $(printf '%s' "$out" | tail -n 1)" >&2
      return 1
    fi
  fi
}

# check_fs DEVICE: e2fsck -f -p of an unmounted ext4, which needs the device to itself: right
# after a volume grows, udev opens it to probe it, and e2fsck then stops with "... is in use.
# Cannot continue"; so it waits for udev and tries again for up to 30 s. Errors e2fsck corrected
# (exit 1) are fine; anything worse stops the step with e2fsck's words.
check_fs() {
  local device=$1 tries=0 rc out
  udevadm settle 2>/dev/null || true
  while :; do
    rc=0
    out=$(e2fsck -f -p "$device" 2>&1) || rc=$?
    if [ "$rc" -le 1 ]; then
      return 0
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 15 ] || ! printf '%s' "$out" | grep -Eq 'in use|Cannot continue'; then
      echo "camphub: checking the file system on $device failed (e2fsck exit $rc): $(printf '%s' "$out" | tail -n 3)" >&2
      return 1
    fi
    sleep 2
  done
}

# has_quota_features DEVICE: the ext4 file system on DEVICE has a project quota inode (features
# quota and project, quota type prjquota).
has_quota_features() {
  dumpe2fs -h "$1" 2>/dev/null | grep -q '^Project quota inode:'
}

# fs_smaller_than_device DEVICE: the ext4 file system leaves more than 16 MiB of DEVICE unused.
fs_smaller_than_device() {
  local device=$1 fs_bytes dev_bytes
  fs_bytes=$(dumpe2fs -h "$device" 2>/dev/null | awk -F: '/^Block count/ {c = $2} /^Block size/ {s = $2} END {printf "%d", c * s}')
  dev_bytes=$(blockdev --getsize64 "$device")
  [ $((dev_bytes - fs_bytes)) -gt $((16 * 1024 * 1024)) ]
}


# find_volume VOLUME_ID DEVICE_NAME: print the device of an attached EBS volume: an NVMe device
# named after its volume id (Nitro instances), or its attachment name on older types. Waits up
# to 5 minutes for the attachment to show up.
find_volume() {
  local volume_id=$1 name=$2 candidate
  for _ in $(seq 1 60); do
    for candidate in "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volume_id//-/}" "$name"; do
      if [ -e "$candidate" ]; then
        readlink -f "$candidate"
        return 0
      fi
    done
    sleep 5
  done
  echo "camphub: volume $volume_id is not attached after 5 minutes" >&2
  return 1
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
# camphub-firewall (hub): keep this node's containers off the cluster. Installed by camphub
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

ensure_packages docker nfs-utils iptables-nft

# state_mounts DEVICE: the state volume at /srv/camphub-state, its two directories bind-mounted in
# place (through fstab, so every boot has them), and Docker started only after them.
state_mounts() {
  local device=$1 tmp
  prepare_disk "$device" /srv/camphub-state
  install -d -m 0700 /srv/camphub-state/jupyterhub /srv/camphub-state/swarm
  tmp=$(mktemp)
  grep -v ' # camphub-state$' /etc/fstab >"$tmp" || true
  printf '%s %s none bind,x-systemd.requires-mounts-for=%s 0 0 # camphub-state\n' \
    /srv/camphub-state/jupyterhub /srv/jupyterhub /srv/camphub-state \
    /srv/camphub-state/swarm /var/lib/docker/swarm /srv/camphub-state >>"$tmp"
  if ! cmp -s "$tmp" /etc/fstab; then
    cat "$tmp" >/etc/fstab
    systemctl daemon-reload
  fi
  printf '%s\n' '[Unit]' 'RequiresMountsFor=/var/lib/docker/swarm /srv/jupyterhub' >"$tmp"
  install -d -m 0755 /etc/systemd/system/docker.service.d
  if ! cmp -s "$tmp" /etc/systemd/system/docker.service.d/camphub-state.conf; then
    install -m 0644 "$tmp" /etc/systemd/system/docker.service.d/camphub-state.conf
    systemctl daemon-reload
  fi
  rm -f "$tmp"
  if ! mountpoint -q /srv/jupyterhub || ! mountpoint -q /var/lib/docker/swarm; then
    # Docker must not hold the swarm's state while it moves under it.
    systemctl stop docker.socket docker.service 2>/dev/null || true
    mkdir -p /srv/jupyterhub /var/lib/docker/swarm
    mountpoint -q /srv/jupyterhub || mount /srv/jupyterhub
    mountpoint -q /var/lib/docker/swarm || mount /var/lib/docker/swarm
  fi
  chmod 0700 /srv/jupyterhub
}

state_device=$(find_volume vol-0fedcba9876543210 /dev/sdg)
state_mounts "$state_device"
systemctl enable --now docker
usermod -aG docker ec2-user
mount_nfs 10.42.0.11
install_firewall
install -d -m 0700 -o root -g root /srv/jupyterhub/ssl
swarm_init 10.42.0.10
overlay_network jupyterhub-net
docker swarm join-token -q worker >&3
