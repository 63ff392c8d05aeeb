#!/usr/bin/env bash
# camphub roster (camp): hand the roster to the running hub without restarting it.
# Standard input: the roster as JSON (personal data: it stays out of previews and logs).
# Writes /srv/jupyterhub/roster.json when it changed, then waits until the camphub-roster service inside
# the hub has applied it through the REST API, or fails at once, quoting the hub, when the hub
# refused a change (the service's error file names this roster's SHA-256). Safe to run again.
set -euo pipefail
umask 077
roster=/srv/jupyterhub/roster.json
applied=/srv/jupyterhub/roster.applied
refused=/srv/jupyterhub/roster.error
tmp=$(mktemp)
cat >"$tmp"
if [ ! -s "$tmp" ]; then
  rm -f "$tmp"
  echo "camphub: no roster on standard input" >&2
  exit 1
fi
if ! cmp -s "$tmp" "$roster"; then
  install -m 0600 -o root -g root "$tmp" "$roster"
fi
rm -f "$tmp"
want=$(sha256sum "$roster" | cut -d' ' -f1)
for _ in $(seq 1 120); do
  if [ -f "$applied" ] && [ "$(cat "$applied")" = "$want" ]; then
    echo "camphub: the hub's users match the roster" >&2
    exit 0
  fi
  if [ -f "$refused" ] && [ "$(cut -d' ' -f1 "$refused")" = "$want" ]; then
    echo "camphub: the hub refused the roster: $(cut -d' ' -f2- "$refused")" >&2
    echo "camphub: nothing more of it was applied; see: journalctl -u camphub-hub.service | grep camphub-roster" >&2
    exit 1
  fi
  sleep 1
done
echo "camphub: the hub did not apply the roster within 120 s; see: journalctl -u camphub-hub.service | grep camphub-roster" >&2
exit 1
