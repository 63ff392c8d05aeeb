#!/usr/bin/env bash
# camphub hub configuration (dev): write the hub's files, build its image, and (re)start
# the JupyterHub service only when something changed, then wait until it answers.
# Standard input: the OAuth client secret, then the TLS private key in base64, one line each.
# Safe to run again. Nothing secret is printed.
set -euo pipefail
# `... | put FILE` must be able to set $changed: run a pipeline's last command in this shell.
shopt -s lastpipe
umask 077
IFS= read -r oauth_client_secret
IFS= read -r tls_key_b64
if [ -z "$oauth_client_secret" ] || [ -z "$tls_key_b64" ]; then
  echo "camphub: the OAuth client secret and TLS key were not on standard input" >&2
  exit 1
fi

dir=/srv/jupyterhub
changed=0
# put PATH MODE: install standard input at PATH with MODE if its content differs.
put() {
  local path=$1 mode=$2 tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path" && [ "$(stat -c %a "$path")" = "$mode" ]; then
    rm -f "$tmp"
    return 0
  fi
  install -m "$mode" -o root -g root "$tmp" "$path"
  rm -f "$tmp"
  changed=1
}

install -d -m 0700 -o root -g root "$dir" "$dir/ssl"
install -d -m 0755 -o root -g root "$dir/image"
printf '%s' "$tls_key_b64" | base64 -d | put "$dir/ssl/hub.key" 600
unset tls_key_b64
put "$dir/ssl/hub.crt" 644 <<'CAMPHUB_CERT'
-----BEGIN CERTIFICATE-----
MIIBszCCAVmgAwIBAgIRAO2testcertificate
-----END CERTIFICATE-----
CAMPHUB_CERT
{
  printf 'OAUTH_CLIENT_ID=%s\n' 123-abc.apps.googleusercontent.com
  printf 'OAUTH_CLIENT_SECRET=%s\n' "$oauth_client_secret"
} | put "$dir/secret.env" 600
unset oauth_client_secret
put "$dir/jupyterhub_config.py" 644 <<'CAMPHUB_CONFIG'
# JupyterHub configuration for camphub stack "dev".
# Rendered by `pulumi up`; edits on the machine are overwritten. Secrets are not in this file:
# the OAuth client id and secret come from the environment (secret.env, mode 0600).
import os
import sys

c = get_config()  # noqa: F821 (provided by JupyterHub)

# --- The hub and its proxy: HTTPS on one port with the self-signed certificate.
c.JupyterHub.bind_url = "https://:8443"
c.JupyterHub.ssl_cert = "/srv/jupyterhub" + "/ssl/hub.crt"
c.JupyterHub.ssl_key = "/srv/jupyterhub" + "/ssl/hub.key"
# The hub API listens on the overlay network; notebooks reach it by the hub container's name.
c.JupyterHub.hub_ip = "0.0.0.0"
c.JupyterHub.hub_connect_ip = "jupyterhub"
# State stays on the hub's local disk, never on NFS (SQLite on NFS corrupts).
c.JupyterHub.db_url = "sqlite:///" + "/srv/jupyterhub" + "/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/srv/jupyterhub" + "/jupyterhub_cookie_secret"
# Students' servers keep running while the hub restarts (a roster change restarts it).
c.JupyterHub.cleanup_servers = False
c.JupyterHub.concurrent_spawn_limit = 20

# --- Login with Google.
c.JupyterHub.authenticator_class = "google"
c.GoogleOAuthenticator.client_id = os.environ["OAUTH_CLIENT_ID"]
c.GoogleOAuthenticator.client_secret = os.environ["OAUTH_CLIENT_SECRET"]
c.GoogleOAuthenticator.oauth_callback_url = "https://ec2-203-0-113-10.us-west-2.compute.amazonaws.com:8443/hub/oauth_callback"
c.GoogleOAuthenticator.login_service = "Google"
# The roster in the stack configuration is the whole truth: users added on the admin page are
# not let in unless they are on it too.
c.GoogleOAuthenticator.allow_existing_users = False
c.GoogleOAuthenticator.allow_all = False
c.GoogleOAuthenticator.allowed_users = {
    "ada@example.org",
    "o'brien@example.net",
}
c.GoogleOAuthenticator.admin_users = {
    "teacher@example.org",
}

# --- One notebook service per student on the swarm workers.
c.JupyterHub.spawner_class = "dockerspawner.SwarmSpawner"
c.SwarmSpawner.image = "quay.io/jupyter/scipy-notebook:2025-12-31"
c.SwarmSpawner.network_name = "jupyterhub-net"
c.SwarmSpawner.use_internal_ip = True
c.SwarmSpawner.extra_placement_spec = {
    "constraints": ["node.role == worker", "node.labels.camphub.notebooks == true"],
}
c.SwarmSpawner.mem_limit = "1G"
c.SwarmSpawner.mem_guarantee = "512M"
c.SwarmSpawner.cpu_limit = 1.0
c.SwarmSpawner.cpu_guarantee = 0.25
# The image is pulled on every worker by `pulumi up`; a swarm never pulls at spawn time.
c.SwarmSpawner.pull_policy = "skip"
c.SwarmSpawner.notebook_dir = "/home/jovyan"
HOMES = "/mnt/camphub" + "/home"
COURSE = "/mnt/camphub" + "/course"
c.SwarmSpawner.volumes = {
    HOMES + "/{username}": "/home/jovyan",
    COURSE: {"bind": "/home/jovyan/course", "mode": "ro"},
}
# Container spawns on a busy worker take longer than JupyterHub's defaults allow.
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 120


def create_home(spawner):
    """Create the student's folder on NFS, owned by jovyan (1000:100), before the spawn.

    The bind mount's source must exist on whichever worker the notebook lands on; the hub and
    every worker mount the same NFS export at the same path. The course folder's mount point is
    made here too, so Docker never has to create it on a root-squashed export.
    """
    home = os.path.join(HOMES, spawner.escaped_name)
    os.makedirs(os.path.join(home, "course"), mode=0o755, exist_ok=True)
    os.chown(home, 1000, 100)
    os.chmod(home, 0o700)


c.Spawner.pre_spawn_hook = create_home

# --- Stop servers idle for 1800 s; their files stay.
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "description": "Stop idle servers",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            "--timeout=1800",
        ],
    }
]
CAMPHUB_CONFIG
put "$dir/image/Dockerfile" 644 <<'CAMPHUB_DOCKERFILE'
# camphub hub image: JupyterHub with its proxy, plus the Google authenticator, the swarm spawner
# and the idle culler, all pinned.
FROM quay.io/jupyterhub/jupyterhub:5.5.0
RUN python3 -m pip install --no-cache-dir \
    oauthenticator==17.4.0 \
    dockerspawner==14.0.0 \
    jupyterhub-idle-culler==2.0.0 \
    && python3 -m pip check
WORKDIR /srv/jupyterhub
EXPOSE 8443
CMD ["jupyterhub", "-f", "/srv/jupyterhub/jupyterhub_config.py"]
CAMPHUB_DOCKERFILE
put /etc/systemd/system/camphub-hub.service 644 <<'CAMPHUB_UNIT'
[Unit]
Description=camphub JupyterHub (container jupyterhub)
Documentation=https://jupyterhub.readthedocs.io/
After=docker.service network-online.target remote-fs.target
Requires=docker.service
Wants=network-online.target

[Service]
Restart=always
RestartSec=5
TimeoutStartSec=120
ExecStartPre=-/usr/bin/docker rm -f jupyterhub
ExecStart=/usr/bin/docker run --rm --name jupyterhub --network jupyterhub-net \
  --publish 8443:8443 \
  --env-file /srv/jupyterhub/secret.env \
  --volume /var/run/docker.sock:/var/run/docker.sock \
  --volume /srv/jupyterhub:/srv/jupyterhub \
  --volume /mnt/camphub:/mnt/camphub:rslave \
  --workdir /srv/jupyterhub \
  camphub-hub:49fa10fae72d jupyterhub -f /srv/jupyterhub/jupyterhub_config.py
ExecStop=/usr/bin/docker stop --time 30 jupyterhub

[Install]
WantedBy=multi-user.target
CAMPHUB_UNIT

image=camphub-hub:49fa10fae72d
if ! docker image inspect "$image" >/dev/null 2>&1; then
  echo "camphub: building $image" >&2
  docker build -q -t "$image" "$dir/image" >/dev/null
  changed=1
fi
systemctl daemon-reload
systemctl enable -q camphub-hub.service
if [ "$changed" = 1 ] || ! systemctl is-active -q camphub-hub.service; then
  echo "camphub: (re)starting camphub-hub.service" >&2
  systemctl restart camphub-hub.service
fi

health=https://ec2-203-0-113-10.us-west-2.compute.amazonaws.com:8443/hub/health
for _ in $(seq 1 60); do
  if curl -fsS -o /dev/null --max-time 5 --cacert "$dir/ssl/hub.crt" \
    --resolve ec2-203-0-113-10.us-west-2.compute.amazonaws.com:8443:127.0.0.1 "$health"; then
    echo "camphub: the hub answers at $health" >&2
    exit 0
  fi
  sleep 5
done
echo "camphub: the hub did not become healthy in 5 minutes; see: journalctl -u camphub-hub.service" >&2
exit 1
