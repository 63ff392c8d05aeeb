#!/usr/bin/env bash
# camphub NFS server setup (camp): prepare the student data disk (100 GiB; the file
# system grows to fill it; project quotas on), give every home folder its quota (1 GiB,
# camphub-quota) and export home folders and course material to the hub and the workers, by
# address: nothing else may mount them. Safe to run again.
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

ensure_packages nfs-utils quota

device=$(find_volume vol-0123456789abcdef0 /dev/sdf)
# A volume just grown by `pulumi up` shows its new size after EBS finishes modifying it.
want=$((100 * 1024 * 1024 * 1024))
for _ in $(seq 1 60); do
  [ "$(blockdev --getsize64 "$device")" -ge "$want" ] && break
  sleep 5
done
if [ "$(blockdev --getsize64 "$device")" -lt "$want" ]; then
  echo "camphub: $device is still smaller than 100 GiB after 5 minutes; run pulumi up again when the volume modification is done" >&2
  exit 1
fi
prepare_disk "$device" /srv/nfs prjquota

install -d -m 0755 -o root -g root /srv/nfs/home
# Course material: written by teachers from their notebooks (uid 1000); students get it read-only.
install -d -m 0755 -o 1000 -g 100 /srv/nfs/course

# The hub creates each student's folder (as root, so root is not squashed for the hub); workers
# mount both with root squashed. The list follows the workers: a worker added or replaced
# changes this script, and the step runs again. Course material is writable for uid 1000: the spawner
# mounts it read-only into students' containers and read-write into teachers'.
exports=$(mktemp)
cat >"$exports" <<EXPORTS
/srv/nfs/home 10.42.0.10(rw,sync,no_subtree_check,no_root_squash) 10.42.0.12(rw,sync,no_subtree_check,root_squash) 10.42.0.13(rw,sync,no_subtree_check,root_squash) 10.42.0.14(rw,sync,no_subtree_check,root_squash) 10.42.0.15(rw,sync,no_subtree_check,root_squash) 10.42.0.16(rw,sync,no_subtree_check,root_squash)
/srv/nfs/course 10.42.0.10(rw,sync,no_subtree_check,no_root_squash) 10.42.0.12(rw,sync,no_subtree_check,root_squash) 10.42.0.13(rw,sync,no_subtree_check,root_squash) 10.42.0.14(rw,sync,no_subtree_check,root_squash) 10.42.0.15(rw,sync,no_subtree_check,root_squash) 10.42.0.16(rw,sync,no_subtree_check,root_squash)
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

# Home quotas: camphub-quota now, and again whenever a home or a slot comes or goes.
tmp=$(mktemp)
cat >"$tmp" <<'CAMPHUB_QUOTA'
#!/usr/bin/env bash
# camphub-quota: every home folder on this file server is an ext4 project with a hard limit, so
# one student cannot fill the disk for everyone (past the limit their writes fail with "Disk
# quota exceeded"; classmates keep saving). Installed by nfs-setup, run by it and by
# camphub-quota.path whenever the homes folder or a slot folder changes. Safe to run again.
#
# - Quota slots: it keeps 61 empty folders in homes/.camphub-slots (and 2 in
#   homes/.camphub-probe-slots for the smoke step's probes), each its own project (its id the
#   folder's inode number: unique on the file system, kept by snapshots), inheriting (+P), with
#   its limit set. The hub makes a new home by renaming a slot into place (camphub_hub.take_slot),
#   so a home is under quota from its first byte.
# - A home folder without a project (made when no slot was left, or from a volume older than
#   quotas: nfsVolumeId, nfsSnapshotId) gets one, its whole tree with it, and its limit.
# - A changed home quota (camphub:homeQuotaGiB, or its default after a roster change) is applied
#   to every home but the probes'; a home's own limit set by hand stays until the quota changes.
#
# The limits: 1 GiB a home, 64 MiB a probe. Tools: e2fsprogs'
# chattr/lsattr (-p: the project id; +P: new files and folders inherit it) and quota-tools'
# setquota -P (limits in 1 KiB blocks: PROJECT 0 HARD 0 0, no soft limits). The kernel enforces
# limits on a file system with the quota and project features mounted with prjquota
# (prepare_disk; docs/upstream.md Q1-Q4).
set -euo pipefail
umask 077
data_root=${CAMPHUB_DATA_ROOT:-/srv/nfs}
homes=${CAMPHUB_HOMES:-/srv/nfs/home}
state=${CAMPHUB_QUOTA_STATE:-/srv/nfs/.camphub-home-quota}
home_kib=1048576
probe_kib=65536

# One run at a time (the setup step and the path unit may start together).
exec 9>"${CAMPHUB_QUOTA_LOCK:-/run/camphub-quota.lock}"
flock 9

project_of() { lsattr -pd "$1" | awk '{print $1}'; }
set_limit() { setquota -P "$1" 0 "$2" 0 0 "$data_root"; }

# is_probe FOLDER: the hub's manifest names FOLDER for a smoke probe (camphub_hub.record_name).
is_probe() {
  local entry="$homes/.camphub-names/$1" name=""
  if [ -f "$entry" ] && [ ! -L "$entry" ]; then
    IFS= read -r name <"$entry" || true
  fi
  case $name in
    camphub-probe-*) return 0 ;;
  esac
  return 1
}

# fill POOL COUNT KIB: make slots in POOL until it holds COUNT.
fill() {
  local pool=$1 want=$2 kib=$3 have tmp id
  # Made once; a run with nothing to do touches none of the folders the path unit watches (a
  # change there, even of attributes, would start this script again).
  [ -d "$pool" ] || install -d -m 0700 -o root -g root "$pool"
  # A slot whose making was interrupted (still under its temporary name, empty) goes.
  find "$pool" -mindepth 1 -maxdepth 1 -type d -name '.new.*' -empty -mmin +1 -delete
  have=$(find "$pool" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l)
  while [ "$have" -lt "$want" ]; do
    tmp=$(mktemp -d "$pool/.new.XXXXXX")
    id=$(stat -c %i "$tmp")
    chattr +P -p "$id" "$tmp"
    set_limit "$id" "$kib"
    mv -T "$tmp" "$pool/$id"
    have=$((have + 1))
  done
}

# Homes: a project for each folder that has none; the home quota again when it changed.
last=$(cat "$state" 2>/dev/null || true)
given=0
while IFS= read -r -d '' dir; do
  folder=${dir##*/}
  kib=$home_kib
  if is_probe "$folder"; then
    kib=$probe_kib
  fi
  id=$(project_of "$dir")
  if [ "$id" = 0 ]; then
    id=$(stat -c %i "$dir")
    # The folder first (what is made in it from now on inherits), then what is already in it:
    # folders and plain files, found without following links (find -P) and on this file system
    # only. A link the student swaps in between find and chattr can move one file of theirs into
    # their own project at most: chattr -p changes only the project id.
    chattr +P -p "$id" "$dir"
    find "$dir" -xdev -mindepth 1 \( -type d -o -type f \) -exec chattr -f +P -p "$id" {} + || true
    set_limit "$id" "$kib"
    given=$((given + 1))
    echo "camphub-quota: $folder is now project $id, limited to $((kib / 1024)) MiB" >&2
  elif [ "$last" != "$home_kib" ] && [ "$kib" = "$home_kib" ]; then
    set_limit "$id" "$kib"
  fi
done < <(find "$homes" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -print0)
if [ -n "$last" ] && [ "$last" != "$home_kib" ]; then
  echo "camphub-quota: the home quota changed from $((last / 1024)) MiB to $((home_kib / 1024)) MiB; a home above it can no longer save (the disk report names them)" >&2
fi

fill "$homes/.camphub-slots" 61 "$home_kib"
fill "$homes/.camphub-probe-slots" 2 "$probe_kib"
# Slots made under an older quota get the current one.
if [ "$last" != "$home_kib" ]; then
  while IFS= read -r -d '' dir; do
    set_limit "$(project_of "$dir")" "$home_kib"
  done < <(find "$homes/.camphub-slots" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -print0)
fi
printf '%s\n' "$home_kib" >"$state.new"
mv -f "$state.new" "$state"
echo "camphub-quota: $given home(s) given a project; slots ready" >&2
CAMPHUB_QUOTA
install -m 0755 "$tmp" /usr/local/sbin/camphub-quota
cat >"$tmp" <<'UNIT'
[Unit]
Description=camphub: give new home folders their quota, keep quota slots ready
# Started by camphub-quota.path as often as homes change.
StartLimitIntervalSec=0

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/camphub-quota
UNIT
install -m 0644 "$tmp" /etc/systemd/system/camphub-quota.service
cat >"$tmp" <<'UNIT'
[Unit]
Description=camphub: run camphub-quota when a home folder or a quota slot comes or goes
RequiresMountsFor=/srv/nfs

[Path]
PathChanged=/srv/nfs/home
PathChanged=/srv/nfs/home/.camphub-slots
PathChanged=/srv/nfs/home/.camphub-probe-slots
Unit=camphub-quota.service

[Install]
WantedBy=multi-user.target
UNIT
install -m 0644 "$tmp" /etc/systemd/system/camphub-quota.path
rm -f "$tmp"
systemctl daemon-reload
/usr/local/sbin/camphub-quota
systemctl enable --now camphub-quota.path
systemctl enable --now nfs-server
exportfs -ra
echo "camphub: NFS exports ready on $(hostname)" >&2
