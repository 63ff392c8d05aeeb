#!/usr/bin/env bash
# lint.sh [DIR]: the static gate of the test command: gofmt (no diff), go vet, staticcheck (with
# staticcheck.conf) and actionlint on every workflow. Exits non-zero on the first failing check.
# Tools are found on PATH or in $(go env GOPATH)/bin, where .ci/run installs them pinned.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
PATH="$PATH:$(go env GOPATH)/bin"

mapfile -t go_files < <(find . -name '*.go' -not -path './.git/*' -not -path './vendor/*')
unformatted=$(gofmt -l "${go_files[@]}")
if [ -n "$unformatted" ]; then
  echo "lint: gofmt would change these files (run gofmt -w):" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
staticcheck ./...
mapfile -t workflows < <(find .github/workflows -name '*.y*ml' 2>/dev/null)
if [ "${#workflows[@]}" -gt 0 ]; then
  actionlint -no-color "${workflows[@]}"
fi
echo "lint: gofmt, go vet, staticcheck and actionlint are clean" >&2
