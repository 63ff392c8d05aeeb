#!/usr/bin/env bash
set -euo pipefail

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

if [ "$#" -ne 2 ]; then
  echo "usage: $0 SOURCE TARGET" >&2
  exit 2
fi
sync_course "$1" "$2"
