#!/usr/bin/env bash
# camphub NFS server setup (dev): prepare the student data disk (10 GiB; the file
# system grows to fill it) and export home folders and course material to the hub and the
# workers, by address: nothing else may mount them. Safe to run again.
set -euo pipefail
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


# prepare_disk DEVICE MOUNT_POINT: make DEVICE the ext4 filesystem mounted at MOUNT_POINT (by UUID,
# through fstab). A blank disk is formatted; a disk that already holds ext4 is only mounted (and
# grown to the volume's size); a disk holding anything else stops the script untouched.
# 1 % of the blocks stay reserved for root: when students fill the disk, the hub (which writes
# as root, not squashed) can still make a new student's folder, and the operator can act.
prepare_disk() {
  local device=$1 mount_point=$2 fstab=${CAMPHUB_FSTAB:-/etc/fstab} fs_type uuid
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
    mkfs.ext4 -q -L camphub-data -m 1 "$device"
  elif [ "$fs_type" != ext4 ]; then
    echo "camphub: $device holds a $fs_type filesystem, not ext4; refusing to touch it (check the volume attached as the data disk)" >&2
    return 1
  else
    echo "camphub: $device already holds ext4; keeping its data" >&2
  fi
  uuid=$(blkid -p -o value -s UUID "$device")
  mkdir -p "$mount_point"
  if ! grep -q "^UUID=$uuid " "$fstab"; then
    echo "UUID=$uuid $mount_point ext4 defaults,nofail,noatime 0 2" >>"$fstab"
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
    mount -t ext4 "UUID=$uuid" "$mount_point"
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

ensure_packages nfs-utils

device=$(find_volume vol-0123456789abcdef0 /dev/sdf)
# A volume just grown by `pulumi up` shows its new size after EBS finishes modifying it.
want=$((10 * 1024 * 1024 * 1024))
for _ in $(seq 1 60); do
  [ "$(blockdev --getsize64 "$device")" -ge "$want" ] && break
  sleep 5
done
if [ "$(blockdev --getsize64 "$device")" -lt "$want" ]; then
  echo "camphub: $device is still smaller than 10 GiB after 5 minutes; run pulumi up again when the volume modification is done" >&2
  exit 1
fi
prepare_disk "$device" /srv/nfs

install -d -m 0755 -o root -g root /srv/nfs/home
# Course material: written by teachers from their notebooks (uid 1000); students get it read-only.
install -d -m 0755 -o 1000 -g 100 /srv/nfs/course

# The hub creates each student's folder (as root, so root is not squashed for the hub); workers
# mount both with root squashed. The list follows the workers: a worker added or replaced
# changes this script, and the step runs again. Course material is writable for uid 1000: the spawner
# mounts it read-only into students' containers and read-write into teachers'.
exports=$(mktemp)
cat >"$exports" <<EXPORTS
/srv/nfs/home 10.42.0.10(rw,sync,no_subtree_check,no_root_squash) 10.42.0.12(rw,sync,no_subtree_check,root_squash)
/srv/nfs/course 10.42.0.10(rw,sync,no_subtree_check,no_root_squash) 10.42.0.12(rw,sync,no_subtree_check,root_squash)
EXPORTS
install -d -m 0755 /etc/exports.d
if ! cmp -s "$exports" /etc/exports.d/camphub.exports; then
  install -m 0644 "$exports" /etc/exports.d/camphub.exports
fi
rm -f "$exports"
tmp=$(mktemp)
cat >"$tmp" <<'CAMPHUB_HAND_BACK'
#!/usr/bin/env bash
# camphub-hand-back [HOMES]: write to standard output a tar stream holding one archive per
# student, <address>.tar.gz (their home folder, as it is), for the teacher to hand back.
# Installed on the NFS server by nfs-setup; run as root (README "Teardown"). Reads only.
set -euo pipefail
homes=${1:-/srv/nfs/home}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for home in "$homes"/*/; do
  [ -d "$home" ] || continue
  dir=$(basename "$home")
  # The folder's address, from the hub's manifest (homes/.camphub-names/<folder>, written by the
  # hub as it makes the folder: camphub_hub.record_name); a folder it does not name keeps its name.
  name=$dir
  entry="$homes/.camphub-names/$dir"
  if [ -f "$entry" ] && [ ! -L "$entry" ]; then
    IFS= read -r name <"$entry" || name=$dir
  fi
  case $name in
    */* | .* | "") name=$dir ;;
  esac
  tar -C "$homes" -czf "$out/$name.tar.gz" -- "$dir" # a folder name may start with "-"
done
tar -C "$out" -cf - .
CAMPHUB_HAND_BACK
install -m 0755 "$tmp" /usr/local/sbin/camphub-hand-back
rm -f "$tmp"
systemctl enable --now nfs-server
exportfs -ra
echo "camphub: NFS exports ready on $(hostname)" >&2
