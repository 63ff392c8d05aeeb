#!/usr/bin/env bash
# lint.sh [DIR]: the static gate of the test command: gofmt (no diff), go mod tidy (no diff),
# go vet, staticcheck (with staticcheck.conf) and actionlint on every workflow. Exits non-zero on
# the first failing check. The two linters are found on PATH or in $(go env GOPATH)/bin, where
# .ci/run installs them pinned; outside CI a missing one is skipped, saying so and how to
# install it; under CI=true a missing one fails the gate.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
PATH="$PATH:$(go env GOPATH)/bin"
skipped=()

# linter NAME MODULE@VERSION: is NAME here? If not: fail in CI, else note it as skipped.
linter() {
  if command -v "$1" >/dev/null 2>&1; then
    return 0
  fi
  if [ -n "${CI:-}" ]; then
    echo "lint: $1 is not installed (CI=true); install it: go install $2" >&2
    exit 1
  fi
  echo "lint: $1 is not installed; skipping it (install: go install $2)" >&2
  skipped+=("$1")
  return 1
}

mapfile -t go_files < <(find . -name '*.go' -not -path './.git/*' -not -path './vendor/*')
unformatted=$(gofmt -l "${go_files[@]}")
if [ -n "$unformatted" ]; then
  echo "lint: gofmt would change these files (run gofmt -w):" >&2
  echo "$unformatted" >&2
  exit 1
fi
if ! tidy=$(go mod tidy -diff 2>&1); then
  echo "lint: go.mod or go.sum is not tidy (run go mod tidy):" >&2
  echo "$tidy" >&2
  exit 1
fi
go vet ./...
if linter staticcheck honnef.co/go/tools/cmd/staticcheck@v0.8.2; then
  staticcheck ./...
fi
mapfile -t workflows < <(find .github/workflows -name '*.y*ml' 2>/dev/null)
if [ "${#workflows[@]}" -gt 0 ] && linter actionlint github.com/rhysd/actionlint/cmd/actionlint@v1.7.12; then
  actionlint -no-color "${workflows[@]}"
fi
if [ "${#skipped[@]}" -gt 0 ]; then
  echo "lint: gofmt, go mod tidy and go vet are clean; skipped: ${skipped[*]}" >&2
else
  echo "lint: gofmt, go mod tidy, go vet, staticcheck and actionlint are clean" >&2
fi
