#!/usr/bin/env bash
# camphub smoke (camp): the last step of `pulumi up`: one probe student's server started on
# a worker, written to through the proxy and read back from NFS, then removed
# (/usr/local/sbin/camphub-smoke, installed by hub-config). A failure fails `pulumi up` with the
# part that failed and the hub's own error.
set -euo pipefail
/usr/local/sbin/camphub-smoke 1 >&2
