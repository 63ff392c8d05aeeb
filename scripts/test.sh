#!/usr/bin/env bash
# The project's one test command (README "Test"): formatting, vet, and every test layer.
# Tools that a layer needs (shellcheck, cloud-init, python3, ...) are installed by .ci/run;
# under CI=true a missing tool fails its test instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go test -count=1 ./...
