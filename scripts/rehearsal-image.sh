#!/usr/bin/env bash
# rehearsal-image.sh [--path]: build (once) the rehearsal's root file system, the JupyterHub 5
# generation from Debian trixie: jupyterhub 5.2, Jupyter Server 2.15, JupyterLab 4.0, ipykernel
# 6.29, tini, and the user jovyan (1000:100) with docker-stacks' start-notebook.py equivalent
# (rehearsal/image/). The rehearsal runs the hub from it (chroot, or as an image imported into its
# Docker engines) and uses it as the notebook image. Built with debootstrap from the Debian
# mirror this machine's apt uses; never mixed into the host's own packages.
# The root is kept in $CAMPHUB_REHEARSAL_CACHE (/var/cache/camphub) under a key of this script,
# the package list and the image's files: a machine that has it reuses it. --path prints where
# the root is (or would be) and builds nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${CAMPHUB_REHEARSAL_CACHE:-/var/cache/camphub}
packages=(jupyterhub jupyterlab python3-jupyter-server python3-ipykernel python3-escapism python3-docker tini ca-certificates curl procps)
key=$( { cat "$0"; printf '%s\n' "${packages[@]}"; cat "$here"/rehearsal/image/*; } | sha256sum | cut -c1-16)
root=$cache/rehearsal-trixie-$key
if [ "${1:-}" = --path ]; then
  echo "$root"
  exit 0
fi
if [ -f "$root/.camphub-complete" ]; then
  echo "rehearsal image: reusing $root" >&2
  exit 0
fi
command -v debootstrap >/dev/null || { echo "rehearsal image: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

# The mirror apt already uses here (deb822 or one-line sources); debootstrap's own default else.
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -n 1 || true)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" && $3 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
fi

mkdir -p "$cache"
tmp=$root.partial
rm -rf "$tmp"
started=$(date +%s)
echo "rehearsal image: debootstrap trixie into $tmp, then the packages with apt (a few minutes)" >&2
log=$cache/rehearsal-image-$key.log
fail() {
  tail -n 40 "$log" >&2
  echo "rehearsal image: $1 failed; the whole log is $log" >&2
  exit 1
}
# A minimal base first; the packages through apt inside it (debootstrap's own resolver does not
# handle the alternatives and virtual packages of trixie's node dependencies).
# shellcheck disable=SC2086 # the mirror is one word or none
debootstrap --variant=minbase trixie "$tmp" $mirror >"$log" 2>&1 || fail debootstrap
cleanup_mounts() { umount -l "$tmp/proc" 2>/dev/null || true; }
trap cleanup_mounts EXIT
mount -t proc proc "$tmp/proc"
# No service starts inside the image while it is built.
printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
chmod 0755 "$tmp/usr/sbin/policy-rc.d"
chroot "$tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  sh -c 'apt-get update && apt-get install -y --no-install-recommends "$@"' sh "${packages[@]}" >>"$log" 2>&1 || fail "apt-get install"
rm -f "$tmp/usr/sbin/policy-rc.d"
# jovyan as in docker-stacks: uid 1000, primary group users (100), home /home/jovyan.
chroot "$tmp" useradd --uid 1000 --gid 100 --create-home --home-dir /home/jovyan --shell /bin/bash jovyan
install -m 0755 "$here/rehearsal/image/start-notebook.py" "$tmp/usr/local/bin/start-notebook.py"
chroot "$tmp" apt-get clean
rm -rf "$tmp"/var/lib/apt/lists/*
cleanup_mounts
# shellcheck disable=SC2016 # dpkg-query expands its own format
chroot "$tmp" dpkg-query -W -f '${Package} ${Version}\n' jupyterhub jupyterlab python3-jupyter-server python3-ipykernel >"$tmp/.camphub-versions"
touch "$tmp/.camphub-complete"
rm -rf "$root"
mv "$tmp" "$root"
echo "rehearsal image: built $root in $(( $(date +%s) - started )) s:" >&2
cat "$root/.camphub-versions" >&2
