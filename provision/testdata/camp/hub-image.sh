#!/usr/bin/env bash
# camphub hub image (camp): Docker, the hub's image (built from its pinned Dockerfile) and
# the proxy's image. Needs nothing but the hub machine, so it runs while the NFS server is set
# up. Safe to run again: an image that exists is not built or pulled again.
set -euo pipefail
umask 022

# Wait for first-boot setup (packages) before touching anything.
if command -v cloud-init >/dev/null 2>&1; then
  cloud-init status --wait >/dev/null || echo "camphub: cloud-init reported a problem; continuing with this script's own installs" >&2
fi

# ensure_packages PKG...: install what is missing (cloud-init normally did already).
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    rpm -q "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    dnf install -y -q "${missing[@]}"
  fi
}


# pull_image IMAGE: pull IMAGE for this machine's architecture (linux/amd64 on x86_64, linux/arm64
# on aarch64), trying again on a network or registry error; stop at once, naming the image and
# the architecture, when the image is not published for it. Prints how long the pull took.
pull_image() {
  local image=$1 machine platform arch out attempt start got
  machine=$(uname -m)
  case $machine in
    x86_64) platform=linux/amd64 arch=x86_64 ;;
    aarch64 | arm64) platform=linux/arm64 arch=arm64 ;;
    *)
      echo "camphub: this machine is $machine; camphub runs x86_64 and arm64 machines only" >&2
      return 1
      ;;
  esac
  start=$(date +%s)
  for attempt in 1 2 3 4 5; do
    if out=$(docker pull -q --platform "$platform" "$image" 2>&1); then
      break
    fi
    if printf '%s' "$out" | grep -qiE 'no matching manifest|does not match the specified platform'; then
      echo "camphub: $image is not published for $arch ($platform), the architecture of this machine; choose an image built for $arch, or instance types of the architecture it has (camphub:hubInstanceType, camphub:workerInstanceType, camphub:nfsInstanceType). Docker said: $(printf '%s' "$out" | tail -n 1)" >&2
      return 1
    fi
    if [ "$attempt" = 5 ]; then
      echo "camphub: pulling $image failed 5 times: $(printf '%s' "$out" | tail -n 1)" >&2
      return 1
    fi
    echo "camphub: pulling $image failed (attempt $attempt): $(printf '%s' "$out" | tail -n 1); retrying" >&2
    sleep $((attempt * 10))
  done
  got=$(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$image")
  if [ "$got" != "$platform" ]; then
    echo "camphub: $image here is $got, not $platform ($arch, this machine's architecture); choose an image built for $arch" >&2
    return 1
  fi
  echo "camphub: $image ($platform) pulled in $(($(date +%s) - start)) s" >&2
}

ensure_packages docker
systemctl enable --now docker
install -d -m 0755 -o root -g root /var/lib/camphub/hub-image
tmp=$(mktemp)
cat >"$tmp" <<'CAMPHUB_DOCKERFILE'
# camphub hub image: JupyterHub, plus the Google authenticator, the swarm spawner and the idle
# culler, all pinned. The proxy runs from its own image (camphub-proxy.service).
FROM quay.io/jupyterhub/jupyterhub:5.5.1
RUN python3 -m pip install --no-cache-dir \
    oauthenticator==17.4.0 \
    dockerspawner==14.0.0 \
    jupyterhub-idle-culler==2.0.0 \
    && python3 -m pip check
WORKDIR /srv/jupyterhub
EXPOSE 8081
CMD ["jupyterhub", "-f", "/srv/jupyterhub/jupyterhub_config.py"]
CAMPHUB_DOCKERFILE
install -m 0644 "$tmp" /var/lib/camphub/hub-image/Dockerfile
rm -f "$tmp"
image=camphub-hub:f2ad0de66ba2
if ! docker image inspect "$image" >/dev/null 2>&1; then
  pull_image quay.io/jupyterhub/jupyterhub:5.5.1
  echo "camphub: building $image" >&2
  docker build -q -t "$image" /var/lib/camphub/hub-image >/dev/null
fi
proxy=quay.io/jupyterhub/configurable-http-proxy:5.3.0
if ! docker image inspect "$proxy" >/dev/null 2>&1; then
  pull_image "$proxy"
fi
echo "camphub: hub image $image and proxy image $proxy are ready" >&2
