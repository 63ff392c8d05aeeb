#!/usr/bin/env bash
set -euo pipefail

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

if [ "$#" -ne 3 ]; then
  echo "usage: $0 SOURCE TARGET PLACED" >&2
  exit 2
fi
sync_course "$1" "$2" "$3"
