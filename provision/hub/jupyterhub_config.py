# JupyterHub configuration for camphub. Static: every value that differs between stacks comes
# from camphub.json beside this file, written by `pulumi up` (hub-config). Secrets are in
# neither: the OAuth client id and secret, the proxy's and the smoke probe's tokens come from the
# environment (secret.env, proxy.env, smoke.env, mode 0600). Nor is the roster: the
# camphub-roster service applies it through the REST API, so a roster change never restarts
# the hub. Upstream facts are cited by file and line at the pinned versions (docs/upstream.md).
import os
import sys

c = get_config()  # noqa: F821 (provided by JupyterHub)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import camphub_hub  # noqa: E402

s = camphub_hub.load_settings(os.path.join(HERE, camphub_hub.SETTINGS_FILE))

# --- The proxy runs in its own container (camphub-proxy.service): it owns the public HTTPS port
# and the certificate, and keeps every route while the hub restarts.
c.JupyterHub.bind_url = "https://:%d" % s["port"]
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = s["proxy_api_url"]
# auth_token: read from CONFIGPROXY_AUTH_TOKEN (docs/upstream.md H1), proxy.env.
# The hub API listens on the overlay network; notebooks and the proxy reach it by the hub
# container's name.
c.JupyterHub.hub_bind_url = s["hub_bind_url"]
c.JupyterHub.hub_connect_url = s["hub_connect_url"]
# State stays on the hub's local disk, never on NFS (SQLite on NFS corrupts).
c.JupyterHub.db_url = "sqlite:///" + os.path.join(s["hub_dir"], "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(s["hub_dir"], "jupyterhub_cookie_secret")
# A database made by an older JupyterHub is upgraded at start (SQLite: a backup is kept beside
# it), so a new pin starts on the old stack's state: the trait that `jupyterhub --upgrade-db`
# sets, as z2jh and TLJH start their hubs (docs/upstream.md H3).
c.JupyterHub.upgrade_db = True
# Students' servers keep running while the hub restarts.
c.JupyterHub.cleanup_servers = False
# No spawn limit: a class starts together, and the swarm's reservations bound what fits
# ("If set to 0, no limit is enforced", docs/upstream.md H2).
c.JupyterHub.concurrent_spawn_limit = 0

# --- Login with Google.
c.JupyterHub.authenticator_class = "google"
c.GoogleOAuthenticator.client_id = os.environ["OAUTH_CLIENT_ID"]
c.GoogleOAuthenticator.client_secret = os.environ["OAUTH_CLIENT_SECRET"]
c.GoogleOAuthenticator.oauth_callback_url = s["callback_url"]
c.GoogleOAuthenticator.login_service = "Google"
if s["hosted_domain"]:
    # Only accounts of this Workspace domain; with one domain, user names drop "@domain".
    c.GoogleOAuthenticator.hosted_domain = [s["hosted_domain"]]
if s["allow_all"]:
    # No roster: every account of the domain may log in; the roster service only manages admins.
    c.GoogleOAuthenticator.allow_all = True
else:
    # The hub's users are the roster: the camphub-roster service creates and deletes them
    # through the REST API. A user in the database may log in (allow_existing_users;
    # docs/upstream.md O1 and H4), nobody else may (O1). Deleting a user stops their server and
    # ends their sessions and tokens at once (H5).
    c.GoogleOAuthenticator.allow_all = False
    c.GoogleOAuthenticator.allow_existing_users = True
# Admin rights come from the database, set by the roster service; admin_users is left empty, so
# a login never changes them (docs/upstream.md H4).

# --- One notebook service per student on the swarm workers: SwarmSpawner, whose start ends at
# the first task the swarm rejects or cannot seat, naming the reason (camphub_spawner.py).
c.JupyterHub.spawner_class = "camphub_spawner.CampSwarmSpawner"
c.SwarmSpawner.image = s["image"]
# An explicit command: with cmd unset, get_command() inspects the image on the hub's Docker
# daemon, the swarm manager, which never holds it (docs/upstream.md D4). The command is
# the ContainerSpec's args (S1), so the image's entrypoint (tini, start.sh)
# stays; docker-stacks' start-notebook.py runs jupyterhub-singleuser under JupyterHub.
c.SwarmSpawner.cmd = s["cmd"]
c.SwarmSpawner.network_name = s["network"]
c.SwarmSpawner.use_internal_ip = True
# One task per service: its name resolves straight to the container (DNS round robin) instead of
# a virtual IP, so the proxy reaches a notebook without the swarm's IPVS load balancer in between
# (docs/upstream.md S1 hands this to EndpointSpec; S4: the hub connects by that name).
c.SwarmSpawner.extra_endpoint_spec = {"mode": "dnsrr"}
c.SwarmSpawner.extra_placement_spec = {
    "constraints": ["node.role == worker", "node.labels.%s == true" % s["worker_label"]],
}
c.SwarmSpawner.mem_limit = s["mem_limit"]
c.SwarmSpawner.mem_guarantee = s["mem_guarantee"]
c.SwarmSpawner.cpu_limit = float(s["cpu_limit"])
c.SwarmSpawner.cpu_guarantee = float(s["cpu_guarantee"])
# The image is pulled on every worker by `pulumi up` (docs/upstream.md S5: the default skips).
c.SwarmSpawner.pull_policy = "skip"
c.SwarmSpawner.notebook_dir = "/home/jovyan"


def camp_escape(text):
    """The student's service and folder name (camphub_hub.escape)."""
    return camphub_hub.escape(text, s["name_max"])


c.SwarmSpawner.escape = camp_escape

HOMES = s["mount_root"] + "/home"
COURSE = s["mount_root"] + "/course"
# Bind mounts (docs/upstream.md S2). The course folder is mounted inside the home: the
# engine, root squashed to nobody on the worker's NFS mount, must traverse the home to reach
# the mount point, so homes are 0711 (not 0700).
c.SwarmSpawner.volumes = camphub_hub.volumes(HOMES, COURSE, admin=False)
# Container spawns on a busy worker take longer than JupyterHub's defaults allow.
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 120
# The student's folder is made before the spawn, off the event loop, with the course files they
# do not have yet copied into ~/my-course; teachers get the course folder writable.
c.Spawner.pre_spawn_hook = camphub_hub.home_hook(HOMES, COURSE, s["uid"], s["gid"], s["probe_prefix"])

# --- Hub-managed services: the idle culler and the roster; the smoke probe's token.
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "description": "Stop idle servers",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    },
    # The roster service grants and removes admin rights. JupyterHub 5 lets only a caller whose
    # own admin flag is set do that, whatever its scopes (docs/upstream.md R1); a service gets the flag only with the admin role
    # (the deprecated services "admin" key assigns the same role: R2). So the roster
    # service is a member of the admin role, listed here and nowhere else: its token lives only
    # in its own process inside the hub container. Naming only "services" keeps the users'
    # admin flags as the database has them (R2): the roster service sets those.
    {"name": "admin", "services": ["camphub-roster"]},
    # camphub-smoke makes and deletes probe users (admin:users), starts, reads
    # and stops their servers (servers) and writes and runs code through them (access:servers:
    # docs/upstream.md H6); nothing more (TestServiceRolesAreWhatTheyUse).
    {
        "name": "camphub-smoke",
        "description": "Probe the spawn path: make probe users, start their servers, write through them",
        "scopes": ["admin:users", "servers", "access:servers"],
        "services": ["camphub-smoke"],
    },
]
c.JupyterHub.services = [
    # camphub-smoke (the smoke step, the dress rehearsal) acts with a token made on the hub.
    {"name": "camphub-smoke", "api_token": os.environ["CAMPHUB_SMOKE_TOKEN"]},
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            "--timeout=%d" % s["idle_timeout_seconds"],
        ],
    },
    {
        "name": "camphub-roster",
        "command": [
            sys.executable,
            os.path.join(HERE, "camphub_roster.py"),
            s["roster_file"],
            s["roster_applied"],
            s["roster_error"],
            s["probe_prefix"],
        ],
    },
]
