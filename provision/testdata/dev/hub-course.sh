#!/usr/bin/env bash
# camphub course material (dev): the repository's course folder (course, content
# c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff), copied to the hub by `pulumi up`, synced into the NFS course folder that students
# see read-only and teachers may write. Runs again only when the content changes.
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


# sync_course SOURCE TARGET: make TARGET (the NFS course folder) hold exactly what SOURCE (the
# repository's course folder) holds, owned by jovyan (1000:100), readable by all:
# new and changed files copied, files gone from SOURCE deleted. TARGET/extra/ is the teachers'
# own and is never touched. Prints what it changed; nothing when there is nothing to do.
sync_course() {
  local source=$1 target=$2
  if [ ! -d "$source" ]; then
    echo "camphub: course material $source is missing" >&2
    return 1
  fi
  install -d -m 0755 -o 1000 -g 100 "$target"
  rsync -rlt --checksum --delete --itemize-changes --exclude=/extra/ \
    --chmod=D0755,F0644 --chown=1000:100 "$source/" "$target/"
}

ensure_packages rsync
staging=/home/ec2-user/.camphub-course/c0ffeec0ffeec0ff
# The copy lands in the staging path itself, or in a folder of the source's name inside it.
if [ "$(ls -A "$staging")" = course ] && [ -d "$staging"/course ]; then
  staging="$staging"/course
fi
sync_course "$staging" /mnt/camphub/course
# Earlier copies are no longer needed.
find /home/ec2-user/.camphub-course -mindepth 1 -maxdepth 1 ! -name c0ffeec0ffeec0ff -exec rm -rf {} +
echo "camphub: course material c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff is in /mnt/camphub/course" >&2
