#!/usr/bin/env bash
# camphub worker image (dev): Docker, and the notebook image on this worker, for its
# architecture, before any student asks for it. Needs nothing of the hub's, so it runs while the
# hub is set up; the pull began at boot (cloud-init) and a second pull of the same image waits
# for the first. The image must leave room on the root disk: at most 16 GiB extracted.
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


# pull_image IMAGE: pull IMAGE for this machine's architecture (linux/amd64 on x86_64, linux/arm64
# on aarch64), trying again on a network or registry error; stop at once, naming the image and
# the architecture, when the image is not published for it. Prints how long the pull took.
pull_image() {
  local image=$1 machine platform arch out attempt start got
  machine=$(uname -m)
  case $machine in
    x86_64) platform=linux/amd64 arch=x86_64 ;;
    aarch64 | arm64) platform=linux/arm64 arch=arm64 ;;
    *)
      echo "camphub: this machine is $machine; camphub runs x86_64 and arm64 machines only" >&2
      return 1
      ;;
  esac
  start=$(date +%s)
  for attempt in 1 2 3 4 5; do
    if out=$(docker pull -q --platform "$platform" "$image" 2>&1); then
      break
    fi
    if printf '%s' "$out" | grep -qiE 'no matching manifest|does not match the specified platform'; then
      echo "camphub: $image is not published for $arch ($platform), the architecture of this machine; choose an image built for $arch, or instance types of the architecture it has (camphub:hubInstanceType, camphub:workerInstanceType, camphub:nfsInstanceType). Docker said: $(printf '%s' "$out" | tail -n 1)" >&2
      return 1
    fi
    if [ "$attempt" = 5 ]; then
      echo "camphub: pulling $image failed 5 times: $(printf '%s' "$out" | tail -n 1)" >&2
      return 1
    fi
    echo "camphub: pulling $image failed (attempt $attempt): $(printf '%s' "$out" | tail -n 1); retrying" >&2
    sleep $((attempt * 10))
  done
  got=$(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$image")
  if [ "$got" != "$platform" ]; then
    echo "camphub: $image here is $got, not $platform ($arch, this machine's architecture); choose an image built for $arch" >&2
    return 1
  fi
  echo "camphub: $image ($platform) pulled in $(($(date +%s) - start)) s" >&2
}

ensure_packages docker
systemctl enable --now docker
image=quay.io/jupyter/scipy-notebook:2025-12-31
pull_image "$image"
size=$(docker image inspect -f '{{.Size}}' "$image")
if [ "$size" -gt $((16 * 1024 * 1024 * 1024)) ]; then
  echo "camphub: $image is $((size / 1024 / 1024 / 1024)) GiB extracted, more than the 16 GiB a worker's root disk keeps for the notebook image; choose a smaller camphub:notebookImage" >&2
  exit 1
fi
echo "camphub: $(hostname) holds $image ($((size / 1024 / 1024)) MiB), $(df -h --output=avail /var/lib/docker | tail -n 1 | tr -d ' ') left on its disk" >&2
