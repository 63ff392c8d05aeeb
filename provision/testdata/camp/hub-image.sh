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
  echo "camphub: building $image" >&2
  docker build -q -t "$image" /var/lib/camphub/hub-image >/dev/null
fi
proxy=quay.io/jupyterhub/configurable-http-proxy:5.3.0
for attempt in 1 2 3 4 5; do
  if docker image inspect "$proxy" >/dev/null 2>&1 || docker pull -q "$proxy" >/dev/null; then
    break
  fi
  echo "camphub: pulling $proxy failed (attempt $attempt); retrying" >&2
  sleep $((attempt * 10))
done
docker image inspect "$proxy" >/dev/null
echo "camphub: hub image $image and proxy image $proxy are ready" >&2
