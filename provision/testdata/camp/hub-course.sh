#!/usr/bin/env bash
# camphub course material (camp): the repository's course folder (course, content
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


# sync_course SOURCE TARGET PLACED: make TARGET (the NFS course folder) hold what SOURCE (the
# repository's course folder) holds, owned by jovyan (1000:100), readable by
# all: new and changed files copied; a file the sync placed earlier and that is gone from SOURCE
# deleted. Nothing else in TARGET is ever deleted: a teacher's own file (anywhere, not only in
# extra/) stays. PLACED lists what the sync placed, one path a line; it lives in the hub's own
# folder (root's, on the hub's state volume), never in TARGET, which teachers can write. rsync
# deletes a link, never what it points to. Prints what it changed; nothing when nothing changed.
sync_course() {
  local source=$1 target=$2 placed=$3 rules
  if [ ! -d "$source" ]; then
    echo "camphub: course material $source is missing" >&2
    return 1
  fi
  install -d -m 0755 -o 1000 -g 100 "$target"
  rules=$(mktemp)
  # Deletion only for what the sync placed and SOURCE no longer has; every other name protected.
  if [ -f "$placed" ]; then
    while IFS= read -r path; do
      if [ -n "$path" ] && [ ! -e "$source/$path" ] && [ ! -L "$source/$path" ]; then
        printf 'R /%s\n' "$(printf '%s' "$path" | sed 's/[][*?\\]/\\&/g')"
      fi
    done <"$placed" >"$rules"
  fi
  printf 'P *\n' >>"$rules"
  rsync -rlt --checksum --delete --itemize-changes --filter="merge $rules" \
    --chmod=D0755,F0644 --chown=1000:100 "$source/" "$target/"
  rm -f "$rules"
  (cd "$source" && find . -mindepth 1 ! -type d -print | sed 's|^\./||' | LC_ALL=C sort) >"$placed.new"
  mv "$placed.new" "$placed"
}

ensure_packages rsync
staging=/home/ec2-user/.camphub-course/c0ffeec0ffeec0ff
# The copy lands in the staging path itself, or in a folder of the source's name inside it.
if [ "$(ls -A "$staging")" = course ] && [ -d "$staging"/course ]; then
  staging="$staging"/course
fi
sync_course "$staging" /mnt/camphub/course /srv/jupyterhub/course.placed
# Earlier copies are no longer needed.
find /home/ec2-user/.camphub-course -mindepth 1 -maxdepth 1 ! -name c0ffeec0ffeec0ff -exec rm -rf {} +
echo "camphub: course material c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff is in /mnt/camphub/course" >&2
