#!/usr/bin/env bash
# camphub worker image (camp): Docker, and the notebook image on this worker before any
# student asks for it. Needs nothing of the hub's, so it runs while the hub is set up; the pull
# began at boot (cloud-init) and a second pull of the same image waits for the first.
# Safe to run again.
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

ensure_packages docker
systemctl enable --now docker
image=quay.io/jupyter/scipy-notebook:2025-12-31
for attempt in 1 2 3 4 5; do
  if docker pull -q "$image" >/dev/null; then
    break
  fi
  echo "camphub: pulling $image failed (attempt $attempt); retrying" >&2
  sleep $((attempt * 15))
done
docker image inspect "$image" >/dev/null
echo "camphub: $(hostname) holds $image" >&2
