#!/usr/bin/env bash
# The project's one test command (README "Test"): the static gate (scripts/lint.sh), the hub's
# Python (pyflakes and pytest on provision/hub, with Debian's python3, which has what the hub's
# modules import), then every Go test layer. Tools that a layer needs (shellcheck, cloud-init,
# staticcheck, actionlint, pyflakes3, python3-pytest, ...) are installed by .ci/run; under
# CI=true a missing tool fails its layer instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/lint.sh

python=/usr/bin/python3
if command -v pyflakes3 >/dev/null 2>&1 && "$python" -c 'import pytest' 2>/dev/null; then
  # jupyterhub_config.py's get_config is JupyterHub's.
  PYFLAKES_BUILTINS=get_config pyflakes3 provision/hub
  PYTHONDONTWRITEBYTECODE=1 "$python" -m pytest -q -p no:cacheprovider provision/hub/tests
elif [ -n "${CI:-}" ]; then
  echo "test: pyflakes3 or python3-pytest is missing (CI=true); apt-get install pyflakes3 python3-pytest" >&2
  exit 1
else
  echo "test: skipping the hub's Python (install pyflakes3 and python3-pytest)" >&2
fi

go test -count=1 -timeout 40m ./...
