#!/usr/bin/env bash
set -euo pipefail

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

if [ "$#" -ne 2 ]; then
  echo "usage: $0 DEVICE MOUNT_POINT" >&2
  exit 2
fi
prepare_disk "$1" "$2"
