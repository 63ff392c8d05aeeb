# JupyterHub configuration for camphub stack "camp".
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
# Only accounts of this Workspace domain; with one domain, user names drop "@example.edu".
c.GoogleOAuthenticator.hosted_domain = ["example.edu"]
# The roster in the stack configuration is the whole truth: users added on the admin page are
# not let in unless they are on it too.
c.GoogleOAuthenticator.allow_existing_users = False
c.GoogleOAuthenticator.allow_all = True
c.GoogleOAuthenticator.allowed_users = set()
c.GoogleOAuthenticator.admin_users = {
    "teacher",
}

# --- One notebook service per student on the swarm workers.
c.JupyterHub.spawner_class = "dockerspawner.SwarmSpawner"
c.SwarmSpawner.image = "quay.io/jupyter/scipy-notebook:2025-12-31"
c.SwarmSpawner.network_name = "jupyterhub-net"
c.SwarmSpawner.use_internal_ip = True
c.SwarmSpawner.extra_placement_spec = {
    "constraints": ["node.role == worker", "node.labels.camphub.notebooks == true"],
}
c.SwarmSpawner.mem_limit = "4G"
c.SwarmSpawner.mem_guarantee = "2G"
c.SwarmSpawner.cpu_limit = 2.0
c.SwarmSpawner.cpu_guarantee = 0.5
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

# --- Stop servers idle for 3600 s; their files stay.
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
            "--timeout=3600",
        ],
    }
]
