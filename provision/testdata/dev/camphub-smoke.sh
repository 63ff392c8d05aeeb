#!/usr/bin/env bash
# camphub-smoke [N]: start N probe students' servers at once on the running hub, the way a
# student does, and report. Per probe: a hub user named camphub-probe-<random> (never a
# roster address: the roster service leaves these names alone), its server started through the
# REST API, a file written into its home through the single-user server's API behind the proxy
# (HTTPS, the same path a browser takes), the file read back on the NFS side, then code run in a
# kernel of that server as JupyterLab runs it (camphub_kernel_probe.py: kernel start, websocket
# through the proxy, execution, output: the kernel prints the file back; then the firewall: from
# the kernel, the metadata service, the NFS server and the hub's SSH and swarm ports must not
# answer; then the quota: the probe's home, made from one of the file server's probe slots, has
# a 64 MiB quota, and writing past it from the kernel must fail with "Disk quota
# exceeded"); then the server stopped, the user and its folder removed, also when interrupted.
# Prints per probe the seconds to ready, the seconds from kernel start to its first result, the
# worker it ran on and the cause of a failure (the hub's own error, or the kernel stage that
# failed), then p50/p95/max, the spread over workers and the seats left. Exits non-zero when any
# probe failed. N=1 is the smoke step that ends `pulumi up`; the dress rehearsal runs
# it with the class's size.
# Environment (defaults for the hub machine): CAMPHUB_HUB_URL, CAMPHUB_RESOLVE (host:port:addr
# for curl), CAMPHUB_CACERT, CAMPHUB_TOKEN_FILE (smoke.env), CAMPHUB_HOMES, CAMPHUB_HUB_LOG (a
# log file to quote, instead of the hub's journal), CAMPHUB_SEATS (seats in the cluster),
# CAMPHUB_KERNEL_PROBE (the kernel stage's program), CAMPHUB_FORBIDDEN (NAME=HOST:PORT,... a
# notebook must not reach; by default found on this machine), CAMPHUB_QUOTA_MIB (the probe's
# home quota; empty skips the quota stage, for a rehearsal on a kernel without quotas).
set -euo pipefail
n=${1:-1}
hub_url=${CAMPHUB_HUB_URL:-https://ec2-203-0-113-10.us-west-2.compute.amazonaws.com:8443}
resolve=${CAMPHUB_RESOLVE:-ec2-203-0-113-10.us-west-2.compute.amazonaws.com:8443:127.0.0.1}
cacert=${CAMPHUB_CACERT:-/srv/jupyterhub/ssl/hub.crt}
token_file=${CAMPHUB_TOKEN_FILE:-/srv/jupyterhub/smoke.env}
homes=${CAMPHUB_HOMES:-/mnt/camphub/home}
timeout=${CAMPHUB_START_TIMEOUT:-300}
kernel_probe=${CAMPHUB_KERNEL_PROBE:-/usr/local/lib/camphub/camphub_kernel_probe.py}
token=$(sed -n 's/^CAMPHUB_SMOKE_TOKEN=//p' "$token_file")
if [ -z "$token" ]; then
  echo "camphub smoke: no service token in $token_file (hub-config makes it)" >&2
  exit 1
fi
work=$(mktemp -d)
started=$(date +%s)

# api METHOD PATH [BODY]: the hub's REST API through the proxy, with the smoke service's token.
# The token goes in a header file, never on a command line.
printf 'Authorization: token %s\n' "$token" >"$work/auth"
chmod 600 "$work/auth"
unset token
# The answer's body goes to $body_file (one per probe).
body_file="$work/body"
call() {
  local method=$1 url=$2 data=${3:-}
  curl -sS --max-time 30 --cacert "$cacert" --resolve "$resolve" -H @"$work/auth" \
    -H 'Content-Type: application/json' -X "$method" ${data:+--data "$data"} \
    -o "$body_file" -w '%{http_code}' "$url" 2>/dev/null || echo 000
}
api() { call "$1" "$hub_url/hub/api$2" "${3:-}"; }
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); exec(sys.argv[2])' "$body_file" "$1" 2>/dev/null || true; }
# forbidden_targets: what a notebook must not reach, for the kernel probe's firewall stage
# (NAME=HOST:PORT,...): the metadata service, and, where this machine knows them, the NFS server
# and the hub's own SSH and swarm ports. CAMPHUB_FORBIDDEN, when set, replaces the list.
forbidden_targets() {
  local hub nfs out="metadata=169.254.169.254:80"
  hub=$(docker info --format '{{.Swarm.NodeAddr}}' 2>/dev/null || true)
  nfs=$(findmnt -n -o SOURCE /mnt/camphub/home 2>/dev/null | cut -d: -f1 || true)
  if [ -n "$nfs" ]; then
    out="$out,nfs=$nfs:2049"
  fi
  if [ -n "$hub" ]; then
    out="$out,hub-ssh=$hub:22,hub-swarm=$hub:2377"
  fi
  printf '%s' "$out"
}
forbidden=${CAMPHUB_FORBIDDEN-$(forbidden_targets)}
quota_mib=${CAMPHUB_QUOTA_MIB-64}

# folder NAME: the probe user's home folder (and service) name, as the hub named it: from the
# hub's manifest, homes/.camphub-names/<folder> holding the address (camphub_hub.record_name,
# run where the hub makes the folder), so the escape has one implementation. Empty before that.
folder() {
  local entry
  entry=$(grep -lxF --exclude='*.new' -- "$1" "$homes"/.camphub-names/* 2>/dev/null | head -n 1 || true)
  [ -n "$entry" ] && basename -- "$entry"
  return 0
}

# hub_error NAME: the hub's own error about NAME: the last line of its log that gives a reason,
# else the message of its last API answer.
hub_error() {
  local line=""
  if [ -n "${CAMPHUB_HUB_LOG:-}" ]; then
    line=$(grep -F "$1" "$CAMPHUB_HUB_LOG" | grep -E 'Error|error|failed|refused|denied' | grep -v ' log:[0-9]' | tail -n 1 || true)
  elif command -v journalctl >/dev/null 2>&1; then
    line=$(journalctl -u camphub-hub.service --since "@$started" --no-pager -o cat 2>/dev/null | grep -F "$1" | grep -E 'Error|error|failed|refused|denied' | grep -v ' log:[0-9]' | tail -n 1 || true)
  fi
  if [ -z "$line" ]; then
    line=$(field 'print(d.get("message", ""))')
  fi
  printf '%s' "${line:-no error in the hub log}" | cut -c1-400
}

# cleanup_probe NAME: stop the probe's server and delete its user (the hub refuses while a spawn
# or a stop is still pending: try again for up to 2 minutes), then its folder.
cleanup_probe() {
  local name=$1 code
  body_file="$work/body.cleanup.$name"
  for _ in $(seq 1 60); do
    code=$(api DELETE "/users/$name")
    if [ "$code" = 204 ] || [ "$code" = 404 ]; then
      break
    fi
    api DELETE "/users/$name/server" >/dev/null
    sleep 2
  done
  if [ "$code" != 204 ] && [ "$code" != 404 ]; then
    echo "camphub smoke: could not remove the probe user $name (HTTP $code); remove it on the hub's admin page" >&2
  fi
  local dir
  dir=$(folder "$name")
  if [ -n "$dir" ]; then
    rm -rf -- "${homes:?}/$dir" "$homes/.camphub-names/$dir"
  fi
}

probe() {
  local name=$1 t0 code ready="" first=- state node=- nonce kernel
  body_file="$work/body.$name"
  t0=$(date +%s.%N)
  report() { printf '%s %s %s %s %s\n' "$name" "$1" "$first" "$node" "$2" >"$work/result.$name"; }
  code=$(api POST "/users/$name")
  if [ "$code" != 201 ] && [ "$code" != 409 ]; then
    report - "FAILED creating the probe user: HTTP $code $(cut -c1-200 "$body_file" 2>/dev/null)"
    return
  fi
  code=$(api POST "/users/$name/server")
  if [ "$code" != 201 ] && [ "$code" != 202 ]; then
    report - "FAILED starting the server: HTTP $code $(hub_error "$name")"
    return
  fi
  local deadline=$(( $(date +%s) + timeout ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    code=$(api GET "/users/$name")
    state=$(field 's = d.get("servers", {}).get(""); print("ready" if s and s.get("ready") else ("pending" if s or d.get("pending") else "gone"))')
    if [ "$state" = ready ]; then
      ready=$(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$(date +%s.%N)")
      break
    fi
    if [ "$state" = gone ]; then
      report - "FAILED: the server did not start: $(hub_error "$name")"
      return
    fi
    sleep 2
  done
  if [ -z "$ready" ]; then
    report - "FAILED: the server was not ready within ${timeout}s: $(hub_error "$name")"
    return
  fi
  if command -v docker >/dev/null 2>&1; then
    node=$(docker service ps --filter desired-state=running --format '{{.Node}}' "jupyter-$(folder "$name")" 2>/dev/null | head -n 1 || true)
    node=${node:--}
  fi
  nonce="camphub smoke $name $RANDOM$RANDOM"
  code=$(call PUT "$hub_url/user/$name/api/contents/camphub-probe.txt" "{\"type\": \"file\", \"format\": \"text\", \"content\": \"$nonce\"}")
  if [ "$code" != 200 ] && [ "$code" != 201 ]; then
    report "$ready" "FAILED writing through the proxy to the server: HTTP $code $(cut -c1-200 "$body_file" 2>/dev/null)"
    return
  fi
  local file
  file="$homes/$(folder "$name")/camphub-probe.txt"
  if [ "$(cat "$file" 2>/dev/null)" != "$nonce" ]; then
    report "$ready" "FAILED: the file written through the server is not in $file on the NFS side"
    return
  fi
  # The last line of the kernel probe is its verdict: "ok SECONDS" or "FAILED at STAGE: REASON".
  # (bounded: the probe gives up after 60 s per stage; timeout is the backstop)
  kernel=$(CAMPHUB_AUTH_FILE="$work/auth" CAMPHUB_RESOLVE="$resolve" CAMPHUB_CACERT="$cacert" CAMPHUB_FORBIDDEN="$forbidden" CAMPHUB_QUOTA_MIB="$quota_mib" \
    timeout 260 python3 "$kernel_probe" "$hub_url" "$name" camphub-probe.txt "$nonce" 2>&1 | tail -n 1 || true)
  case $kernel in
    "ok "*) first=${kernel#ok } ;;
    "FAILED at "*)
      report "$ready" "FAILED running code in a kernel at ${kernel#FAILED at }"
      return
      ;;
    *)
      report "$ready" "FAILED running code in a kernel: the kernel probe said: ${kernel:-nothing}"
      return
      ;;
  esac
  report "$ready" ok
}

names=()
for i in $(seq 1 "$n"); do
  names+=("camphub-probe-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')$i")
done
pids=()
# kill_tree PID: the process and everything it started (a probe's curl or kernel probe must not
# outlive the run, holding its output open).
kill_tree() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
finish() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill_tree "$pid"; done
  wait 2>/dev/null || true
  for name in "${names[@]}"; do cleanup_probe "$name" & done
  wait
  rm -rf "$work"
}
trap 'echo "camphub smoke: interrupted; removing the probes" >&2; finish; exit 130' INT TERM
trap finish EXIT

for name in "${names[@]}"; do
  probe "$name" &
  pids+=("$!")
done
while :; do
  done_count=$(find "$work" -name 'result.*' | wc -l)
  [ "$done_count" -ge "$n" ] && break
  echo "camphub smoke: $done_count of $n probes done ($(( $(date +%s) - started )) s)" >&2
  sleep 5
done
wait "${pids[@]}" 2>/dev/null || true

failed=0 full=0
echo "probe seconds_to_ready seconds_to_first_result worker result"
for name in "${names[@]}"; do
  line=$(cat "$work/result.$name")
  echo "$line"
  case $line in
    *" ok") ;;
    *'The class'\''s machines are full'*) full=$((full + 1)) failed=$((failed + 1)) ;;
    *) failed=$((failed + 1)) ;;
  esac
done
cat "$work"/result.* | python3 -c '
import sys, statistics, collections
rows = [l.split(" ", 4) for l in sys.stdin.read().splitlines()]
for label, column in (("ready", 1), ("first result", 2)):
    times = sorted(float(r[column]) for r in rows if r[column] != "-")
    if times:
        p95 = times[min(len(times) - 1, int(round(0.95 * len(times) + 0.5)) - 1)]
        print("%s: p50 %.1f s, p95 %.1f s, max %.1f s" % (label, statistics.median(times), p95, times[-1]))
spread = collections.Counter(r[3] for r in rows if r[4] == "ok")
print("workers: " + (", ".join("%s %d" % kv for kv in sorted(spread.items())) or "none"))
'
if [ -n "${CAMPHUB_SEATS:-}" ]; then
  echo "seats: $CAMPHUB_SEATS in the cluster, $n probes started at once, $((CAMPHUB_SEATS - n + failed)) left unused"
fi
if [ "$full" -gt 0 ]; then
  # Refused for want of a seat, apart from other failures: that many more students would not fit.
  echo "class full: $full of $n probes got no seat (the swarm found no worker with room for one more server)"
fi
if [ "$failed" -gt 0 ]; then
  echo "camphub smoke: $failed of $n probes failed" >&2
  exit 1
fi
echo "camphub smoke: $n of $n probes started, wrote through the proxy, reached NFS and ran code in a kernel" >&2
