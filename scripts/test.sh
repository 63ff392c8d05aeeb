#!/usr/bin/env bash
# The project's one test command (README "Test"): the static gate (scripts/lint.sh), then every
# test layer. Tools that a layer needs (shellcheck, cloud-init, staticcheck, actionlint, ...) are
# installed by .ci/run; under CI=true a missing tool fails its test instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/lint.sh
go test -count=1 -timeout 25m ./...
