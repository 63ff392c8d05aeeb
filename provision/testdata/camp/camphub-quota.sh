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
