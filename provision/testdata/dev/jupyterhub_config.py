# JupyterHub configuration for camphub stack "dev".
# Rendered by `pulumi up`; edits on the machine are overwritten. Secrets are not in this file:
# the OAuth client id and secret and the proxy's token come from the environment (secret.env and
# proxy.env, mode 0600). Nor is the roster: the camphub-roster service applies it through the
# REST API, so a roster change never restarts the hub.
# Upstream facts cited below are from the pinned sources: jupyterhub 5.5.1, oauthenticator
# 17.4.0, dockerspawner 14.0.0.
import asyncio
import concurrent.futures
import errno
import hashlib
import os
import string
import sys

from escapism import escape as _escapism  # dockerspawner's own dependency

c = get_config()  # noqa: F821 (provided by JupyterHub)

# --- The proxy runs in its own container (camphub-proxy.service): it owns the public HTTPS port
# and the certificate, and keeps every route while the hub restarts.
c.JupyterHub.bind_url = "https://:8443"
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = "http://jupyterhub-proxy:8001"
# auth_token: read from CONFIGPROXY_AUTH_TOKEN (jupyterhub proxy.py 552-553), proxy.env.
# The hub API listens on the overlay network; notebooks and the proxy reach it by the hub
# container's name.
c.JupyterHub.hub_bind_url = "http://0.0.0.0:8081"
c.JupyterHub.hub_connect_url = "http://jupyterhub:8081"
# State stays on the hub's local disk, never on NFS (SQLite on NFS corrupts).
c.JupyterHub.db_url = "sqlite:///" + "/srv/jupyterhub" + "/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/srv/jupyterhub" + "/jupyterhub_cookie_secret"
# A database made by an older JupyterHub is upgraded at start (SQLite: a backup is kept beside
# it), so a new pin starts on the old stack's state: the trait that `jupyterhub --upgrade-db`
# sets, as z2jh and TLJH start their hubs (app.py 145-146, 1501-1508, 2019-2022).
c.JupyterHub.upgrade_db = True
# Students' servers keep running while the hub restarts.
c.JupyterHub.cleanup_servers = False
# No spawn limit: a class starts together, and the swarm's reservations bound what fits
# ("If set to 0, no limit is enforced", jupyterhub app.py 1403-1421).
c.JupyterHub.concurrent_spawn_limit = 0

# --- Login with Google.
c.JupyterHub.authenticator_class = "google"
c.GoogleOAuthenticator.client_id = os.environ["OAUTH_CLIENT_ID"]
c.GoogleOAuthenticator.client_secret = os.environ["OAUTH_CLIENT_SECRET"]
c.GoogleOAuthenticator.oauth_callback_url = "https://ec2-203-0-113-10.us-west-2.compute.amazonaws.com:8443/hub/oauth_callback"
c.GoogleOAuthenticator.login_service = "Google"
# The hub's users are the roster: the camphub-roster service creates and deletes them through
# the REST API. A user in the database may log in (allow_existing_users; oauthenticator
# oauth2.py 896-911 adds them to allowed_users, jupyterhub auth.py 910-919 removes a deleted one),
# nobody else may (oauth2.py 1468-1516). Deleting a user stops their server and ends their
# sessions and tokens at once (jupyterhub apihandlers/users.py 339-365).
c.GoogleOAuthenticator.allow_all = False
c.GoogleOAuthenticator.allow_existing_users = True
# Admin rights come from the database, set by the roster service; admin_users is left empty, so
# a login never changes them (jupyterhub auth.py 791-804 returns None: "should not change").

# --- One notebook service per student on the swarm workers: SwarmSpawner, whose start ends at
# the first task the swarm rejects, naming the reason (camphub_spawner.py, beside this file).
sys.path.insert(0, "/srv/jupyterhub")
c.JupyterHub.spawner_class = "camphub_spawner.CampSwarmSpawner"
c.SwarmSpawner.image = "quay.io/jupyter/scipy-notebook:2025-12-31"
# An explicit command: with cmd unset, get_command() inspects the image on the hub's Docker
# daemon, the swarm manager, which never holds it (dockerspawner.py 1060-1066). The command is
# the ContainerSpec's args (swarmspawner.py 192-197), so the image's entrypoint (tini, start.sh)
# stays; docker-stacks' start-notebook.py runs jupyterhub-singleuser under JupyterHub.
c.SwarmSpawner.cmd = ["start-notebook.py"]
c.SwarmSpawner.network_name = "jupyterhub-net"
c.SwarmSpawner.use_internal_ip = True
# One task per service: its name resolves straight to the container (DNS round robin) instead of
# a virtual IP, so the proxy reaches a notebook without the swarm's IPVS load balancer in between
# (swarmspawner.py 229-233 hands this to EndpointSpec; 309-324: the hub connects by that name).
c.SwarmSpawner.extra_endpoint_spec = {"mode": "dnsrr"}
c.SwarmSpawner.extra_placement_spec = {
    "constraints": ["node.role == worker", "node.labels.camphub.notebooks == true"],
}
c.SwarmSpawner.mem_limit = "1G"
c.SwarmSpawner.mem_guarantee = "512M"
c.SwarmSpawner.cpu_limit = 1.0
c.SwarmSpawner.cpu_guarantee = 0.25
# The image is pulled on every worker by `pulumi up` (swarmspawner.py 30-34 defaults to skip).
c.SwarmSpawner.pull_policy = "skip"
c.SwarmSpawner.notebook_dir = "/home/jovyan"

NAME_MAX = 55
_SAFE = set(string.ascii_lowercase + string.digits)


def camp_escape(text):
    """dockerspawner's default escape (dockerspawner.py 690-695), kept short enough for a DNS label.

    The service name is "{prefix}-{username}" (dockerspawner.py 409-413, 926-938): at most 63
    characters, so the escaped name may have 55. A longer one keeps its first part and
    ends in "--" and 12 hex digits of the address's SHA-256: the default escape never writes
    "--" (every "-" starts a "-XX" escape), so a shortened name cannot equal a short one.
    The same name is the student's home folder.
    """
    full = _escapism(text, _SAFE, escape_char="-").lower()
    if len(full) <= NAME_MAX:
        return full
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return full[: NAME_MAX - 14] + "--" + digest


c.SwarmSpawner.escape = camp_escape

HOMES = "/mnt/camphub" + "/home"
COURSE = "/mnt/camphub" + "/course"
# Bind mounts (swarmspawner.py 119-131). The course folder is mounted inside the home: the
# engine, root squashed to nobody on the worker's NFS mount, must traverse the home to reach
# the mount point, so homes are 0711 (not 0700).
c.SwarmSpawner.volumes = {
    HOMES + "/{username}": "/home/jovyan",
    COURSE: {"bind": "/home/jovyan/course", "mode": "ro"},
}
# Container spawns on a busy worker take longer than JupyterHub's defaults allow.
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 120

# Home folders are made on NFS by a small pool of threads, never in the hub's event loop: a
# hard NFS mount that hangs must not stop logins and the API.
HOME_TIMEOUT = 20
_home_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="camphub-home")


def _make_home(home):
    """Create a student's home (1000:100, 0711) and the course mount point in it."""
    course = os.path.join(home, "course")
    os.makedirs(home, exist_ok=True)
    if not os.path.isdir(course):
        if os.path.lexists(course):
            os.rename(course, course + ".moved-by-camphub")
        os.mkdir(course)
    os.chown(course, 1000, 100)
    os.chmod(course, 0o755)
    os.chown(home, 1000, 100)
    os.chmod(home, 0o711)


async def create_home(spawner):
    """Make the student's folder before the spawn; teachers get the course folder writable."""
    home = os.path.join(HOMES, spawner.escaped_name)
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.run_in_executor(_home_pool, _make_home, home), HOME_TIMEOUT)
    except asyncio.TimeoutError:
        raise RuntimeError(
            "The file server holding home folders did not answer within %d s; "
            "try again in a minute, and tell your teacher if it persists." % HOME_TIMEOUT
        ) from None
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise RuntimeError(
                "The disk holding home folders is full, so your folder could not be prepared; "
                "tell your teacher (the camp's operator must free or add space)."
            ) from None
        raise RuntimeError(
            "Your home folder could not be prepared (%s); tell your teacher." % e.strerror
        ) from None
    mode = "rw" if spawner.user.admin else "ro"
    spawner.volumes = {
        HOMES + "/{username}": "/home/jovyan",
        COURSE: {"bind": "/home/jovyan/course", "mode": mode},
    }


c.Spawner.pre_spawn_hook = create_home

# --- Hub-managed services: the idle culler and the roster.
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "description": "Stop idle servers",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    },
    # The roster service grants and removes admin rights. JupyterHub 5 lets only a caller whose
    # own admin flag is set do that, whatever its scopes (apihandlers/users.py 240-241, 317-318,
    # 384-388); a service gets the flag only with the admin role (app.py 2530-2532, 2612-2617;
    # the deprecated services "admin" key assigns the same role, 2812-2841). So the roster
    # service is a member of the admin role, listed here and nowhere else: its token lives only
    # in its own process inside the hub container. Naming only "services" keeps the users'
    # admin flags as the database has them (app.py 2486-2495): the roster service sets those.
    {"name": "admin", "services": ["camphub-roster"]},
    {
        "name": "camphub-smoke",
        "description": "Probe the spawn path: make probe users, start their servers, write through them",
        "scopes": ["admin:users", "admin:servers", "access:servers"],
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
            "--timeout=1800",
        ],
    },
    {
        "name": "camphub-roster",
        "command": [
            sys.executable,
            "/srv/jupyterhub/camphub_roster.py",
            "/srv/jupyterhub/roster.json",
            "/srv/jupyterhub/roster.applied",
            "/srv/jupyterhub/roster.error",
        ],
    },
]
