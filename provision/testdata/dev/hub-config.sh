#!/usr/bin/env bash
# camphub hub configuration (dev): write the hub's and the proxy's files, (re)start each
# only when its own files changed, then wait until the hub answers through the proxy.
# Standard input: the OAuth client secret, then the TLS private key in base64, one line each.
# The proxy's API token is made here once and never leaves this machine.
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
proxy_dir=/srv/jupyterhub/proxy
changed=0
# put PATH MODE [OWNER]: install standard input at PATH with MODE if its content, mode or owner
# differ, and set $changed.
put() {
  local path=$1 mode=$2 owner=${3:-root} tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path" && [ "$(stat -c '%a %U' "$path")" = "$mode $owner" ]; then
    rm -f "$tmp"
    return 0
  fi
  install -m "$mode" -o "$owner" -g "$owner" "$tmp" "$path"
  rm -f "$tmp"
  changed=1
}

install -d -m 0700 -o root -g root "$dir" "$dir/ssl"
install -d -m 0500 -o nobody -g nobody "$proxy_dir"

# The proxy: its token (made once), its copy of the certificate and key, its unit.
if [ ! -s "$dir/proxy.env" ]; then
  printf 'CONFIGPROXY_AUTH_TOKEN=%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" | put "$dir/proxy.env" 600
fi
printf '%s' "$tls_key_b64" | base64 -d | put "$proxy_dir/hub.key" 400 nobody
put "$proxy_dir/hub.crt" 444 nobody <<'CAMPHUB_CERT'
-----BEGIN CERTIFICATE-----
MIIBszCCAVmgAwIBAgIRAO2testcertificate
-----END CERTIFICATE-----
CAMPHUB_CERT
put /etc/systemd/system/camphub-proxy.service 644 <<'CAMPHUB_PROXY_UNIT'
[Unit]
Description=camphub configurable-http-proxy (container jupyterhub-proxy)
Documentation=https://github.com/jupyterhub/configurable-http-proxy
After=docker.service network-online.target
Requires=docker.service
Wants=network-online.target

[Service]
Restart=always
RestartSec=5
TimeoutStartSec=120
ExecStartPre=-/usr/bin/docker rm -f jupyterhub-proxy
# The hub and proxy's own network (a bridge on this machine, theirs alone): the proxy's API
# listens only there, as proxy-api, so no notebook on the overlay network can reach it.
# (Not --internal: Docker publishes no port of a container on an internal network.)
ExecStartPre=/bin/sh -c 'docker network inspect camphub-proxy-api >/dev/null 2>&1 || docker network create --driver bridge camphub-proxy-api >/dev/null'
# The only published port of the hub machine. The image runs as nobody (65534) and holds no
# Docker socket; it reads the TLS key from /srv/jupyterhub/proxy (owned by 65534, mode 0400) and its API
# token from proxy.env. Routes live in this process: restarting the hub keeps them. Made on the
# overlay network (the notebooks), then joined to the API network under its API name, then started.
ExecStartPre=/usr/bin/docker create --name jupyterhub-proxy --network jupyterhub-net \
  --publish 8443:8443 \
  --env-file /srv/jupyterhub/proxy.env \
  --volume /srv/jupyterhub/proxy:/srv/jupyterhub/proxy:ro \
  quay.io/jupyterhub/configurable-http-proxy:5.3.0 \
  --ip=0.0.0.0 \
  --port=8443 \
  --api-ip=proxy-api \
  --api-port=8001 \
  --default-target=http://jupyterhub:8081 \
  --error-target=http://jupyterhub:8081/hub/error \
  --ssl-key=/srv/jupyterhub/proxy/hub.key \
  --ssl-cert=/srv/jupyterhub/proxy/hub.crt
ExecStartPre=/usr/bin/docker network connect --alias proxy-api camphub-proxy-api jupyterhub-proxy
ExecStart=/usr/bin/docker start --attach jupyterhub-proxy
ExecStop=/usr/bin/docker stop --time 10 jupyterhub-proxy

[Install]
WantedBy=multi-user.target
CAMPHUB_PROXY_UNIT
proxy_changed=$changed
changed=0

# The hub: the key and certificate (for this step's health check), the OAuth env file, the smoke
# probe's service token (made once, never leaves this machine), its configuration, its spawner,
# the roster service and its unit.
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
# The static configuration, its generated settings (camphub.json) and the hub's Python.
put /srv/jupyterhub/camphub.json 644 <<'CAMPHUB_HUB_FILE'
{
  "stack": "dev",
  "port": 8443,
  "proxy_api_url": "http://proxy-api:8001",
  "hub_bind_url": "http://0.0.0.0:8081",
  "hub_connect_url": "http://jupyterhub:8081",
  "hub_dir": "/srv/jupyterhub",
  "callback_url": "https://ec2-203-0-113-10.us-west-2.compute.amazonaws.com:8443/hub/oauth_callback",
  "hosted_domain": "",
  "allow_all": false,
  "image": "quay.io/jupyter/scipy-notebook:2025-12-31",
  "cmd": [
    "start-notebook.py"
  ],
  "network": "jupyterhub-net",
  "worker_label": "camphub.notebooks",
  "class_hours": "",
  "workers_from": "",
  "mem_limit": "1G",
  "mem_guarantee": "512M",
  "cpu_limit": 1,
  "cpu_guarantee": 0.25,
  "name_max": 55,
  "mount_root": "/mnt/camphub",
  "uid": 1000,
  "gid": 100,
  "idle_timeout_seconds": 1800,
  "roster_file": "/srv/jupyterhub/roster.json",
  "roster_applied": "/srv/jupyterhub/roster.applied",
  "roster_error": "/srv/jupyterhub/roster.error",
  "probe_prefix": "camphub-probe-",
  "warn_percent": 85
}
CAMPHUB_HUB_FILE
put /srv/jupyterhub/camphub_hub.py 644 <<'CAMPHUB_HUB_FILE'
"""camphub's hub-side helpers, shared by jupyterhub_config.py, the disk report and the tests.

Lives beside jupyterhub_config.py in /srv/jupyterhub; reads the values `pulumi up` generated
(camphub.json, written with Go's json.Marshal by the hub-config step). Standard library only:
the disk report imports it with the hub machine's own python3.
"""

import asyncio
import concurrent.futures
import errno
import hashlib
import json
import logging
import os
import stat
import string
import time

SETTINGS_FILE = "camphub.json"
# The manifest of folder names: homes/.camphub-names/<folder> holds the address the folder is
# named for (record_name). Scripts that see only folders read it (hand-back on the file server,
# the smoke step) instead of escaping again.
NAMES_DIR = ".camphub-names"
# Quota slots: empty folders the file server keeps ready in homes/SLOTS_DIR, each already its
# own ext4 project with the stack's home quota (camphub-quota on the file server); a new home is
# a slot renamed into place, so it is under quota from its first byte. The smoke step's probes
# take theirs from PROBE_SLOTS_DIR, whose quota is small (the smoke step writes past it).
# These names are provision.Layout's (TestHubHelperNamesAreTheLayouts).
SLOTS_DIR = ".camphub-slots"
PROBE_SLOTS_DIR = ".camphub-probe-slots"
SAFE = frozenset(string.ascii_lowercase + string.digits)
# A shortened name ends in "--" and this many hex digits of the address's SHA-256.
HASH_DIGITS = 12
# How long the file server may take to make a home before the start gives up.
HOME_TIMEOUT = 20
# The student's editable copy of the course, in their home: ~/my-course.
COPY_DIR = "my-course"
# How long one start may spend copying course files; what is left is copied at the next start.
COPY_BUDGET = 10.0
# A name the copy writes before it links a finished file in: never a course file's name (those
# starting with "." are not copied).
COPY_TMP = ".camphub-copy-%s"
# The hub's own log when the hook has a spawner's (spawner.log), else this one.
log = logging.getLogger("camphub")


def load_settings(path=None):
    """The generated settings (camphub.json beside this file unless path is given)."""
    if path is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), SETTINGS_FILE)
    with open(path) as f:
        return json.load(f)


def escape(name, name_max):
    """A user's folder and service name: dockerspawner's default escape (docs/upstream.md
    D1: escapism with a-z and 0-9 safe and "-" as the escape character, each other byte of
    the UTF-8 name as "-XX", lower-cased), kept short enough for a DNS label.

    The service name is "{prefix}-{username}" (docs/upstream.md D2): at most 63
    characters, so the escaped name may have name_max. A longer one keeps its first part and
    ends in "--" and 12 hex digits of the address's SHA-256: the default escape never writes
    "--" (every "-" starts a "-XX" escape), so a shortened name cannot equal a short one.
    """
    out = []
    for ch in name:
        if ch in SAFE:
            out.append(ch)
        else:
            out.extend("-%02X" % b for b in ch.encode("utf-8"))
    full = "".join(out).lower()
    if len(full) <= name_max:
        return full
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:HASH_DIGITS]
    return full[: name_max - len(digest) - 2] + "--" + digest


def make_home(home, uid, gid, slots=None):
    """Create a student's home (uid:gid, 0711) and the course mount point in it.

    A new home is a quota slot from the folder slots (take_slot), else a plain new folder (the
    file server's camphub-quota gives it a quota when it next runs, within seconds). Root on the
    hub's NFS mount (not root-squashed) does this, inside a folder the student owns: a "course"
    that is not a directory (a file or a link the student made) is moved aside, never followed.
    """
    course = os.path.join(home, "course")
    if slots is not None and not os.path.lexists(home):
        take_slot(slots, home)
    os.makedirs(home, exist_ok=True)
    if not os.path.isdir(course) or os.path.islink(course):
        if os.path.lexists(course):
            os.rename(course, course + ".moved-by-camphub")
        os.mkdir(course)
    os.chown(course, uid, gid, follow_symlinks=False)
    os.chmod(course, 0o755)
    os.chown(home, uid, gid, follow_symlinks=False)
    os.chmod(home, 0o711)


def take_slot(slots, home):
    """Rename one of the file server's empty quota slots (folder slots, root's) to home; False
    when none is left. A slot another start took first is skipped; rename() never replaces a
    home that has files (ENOTEMPTY), and an empty one holds nothing to lose."""
    try:
        names = sorted(os.listdir(slots))
    except FileNotFoundError:
        names = []
    for name in names:
        if name.startswith("."):
            continue  # a slot the file server is still making
        try:
            os.rename(os.path.join(slots, name), home)
            return True
        except FileNotFoundError:
            continue
        except OSError as e:
            if e.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return False
            raise
    log.warning("camphub: no quota slot left in %s; %s is made without one until the file server's camphub-quota runs", slots, home)
    return False


def record_name(homes, folder, address):
    """Write the manifest entry homes/.camphub-names/<folder>: the address, one line.

    Root writes it, on the hub's NFS mount (not root-squashed), in a folder only root can write
    (homes is root's, 0755); still, nothing here follows a link: the folder is opened with
    O_NOFOLLOW and every file is opened relative to its descriptor with O_NOFOLLOW, and the
    entry is replaced by a rename, never written in place."""
    if not folder or "/" in folder or folder.startswith("."):
        raise ValueError("not a folder name: %r" % folder)
    try:
        os.mkdir(os.path.join(homes, NAMES_DIR), 0o755)
    except FileExistsError:
        pass
    dfd = os.open(os.path.join(homes, NAMES_DIR), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        data = (address + "\n").encode("utf-8")
        try:
            with os.fdopen(os.open(folder, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd), "rb") as f:
                if f.read() == data:
                    return
        except OSError:
            pass  # none yet, or not a plain file: replaced below
        tmp = folder + ".new"  # escaped names have no ".": never another entry's name
        try:
            os.unlink(tmp, dir_fd=dfd)  # a leftover, or a link: the name goes, never its target
        except FileNotFoundError:
            pass
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=dfd)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.rename(tmp, folder, src_dir_fd=dfd, dst_dir_fd=dfd)
    finally:
        os.close(dfd)


class CopyStopped(Exception):
    """The course copy stopped early: out of time, or the student's disk or quota is full."""


def copy_course(course, home, uid, gid, budget=COPY_BUDGET, clock=time.monotonic):
    """Copy into home/my-course every course file the student does not have yet; never
    overwrite, replace or delete anything there. Returns how many files it copied.

    nbgitpuller's rule (docs/upstream.md G1, G2): a student's change always wins. So a file the
    student edited stays as it is, one they deleted or renamed comes back fresh at the next start
    (that is how a student gets a fresh copy), and a new course file appears; a course file the
    student already has is never updated. Only plain
    files and folders are copied; links, names starting with "." (checkpoints, .git) and anything
    else are skipped. Where the student has a file or a link in place of a course folder, that
    folder is skipped.

    Root runs this on the hub's NFS mount (not root-squashed), reading a tree teachers write and
    writing into one the student owns, so it never follows a link on either side: every folder
    is opened relative to its parent's descriptor with O_NOFOLLOW, every file is made under a
    new name (O_CREAT | O_EXCL | O_NOFOLLOW) owned uid:gid, and linked in under its real name,
    which fails rather than replace anything the student made meanwhile."""
    deadline = clock() + budget
    copied = [0]
    src = os.open(course, os.O_RDONLY | os.O_DIRECTORY)
    try:
        home_fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            dst = _open_subdir(home_fd, COPY_DIR, uid, gid)
            if dst is None:
                return 0
            try:
                _copy_tree(src, dst, uid, gid, lambda: clock() > deadline, copied)
            finally:
                os.close(dst)
        finally:
            os.close(home_fd)
    finally:
        os.close(src)
    return copied[0]


def _open_subdir(parent, name, uid, gid):
    """The folder name in parent (made uid:gid, 0755, if missing), or None when the student has
    something else there."""
    try:
        os.mkdir(name, 0o755, dir_fd=parent)
        made = True
    except FileExistsError:
        made = False
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
    except OSError:
        return None  # a file or a link of the student's: theirs, left alone
    if made:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, 0o755)
    return fd


def _copy_tree(src, dst, uid, gid, late, copied):
    for name in sorted(os.listdir(src)):
        if name.startswith("."):
            continue
        if late():
            raise CopyStopped("out of time")
        try:
            st = os.stat(name, dir_fd=src, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            sub_src = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=src)
            try:
                sub_dst = _open_subdir(dst, name, uid, gid)
                if sub_dst is not None:
                    try:
                        _copy_tree(sub_src, sub_dst, uid, gid, late, copied)
                    finally:
                        os.close(sub_dst)
            finally:
                os.close(sub_src)
        elif stat.S_ISREG(st.st_mode):
            copied[0] += _copy_file(src, dst, name, uid, gid)


def _copy_file(src, dst, name, uid, gid):
    """Copy src/name to dst/name unless dst has that name (as anything); 1 if copied."""
    try:
        os.stat(name, dir_fd=dst, follow_symlinks=False)
        return 0  # the student's: never overwritten
    except FileNotFoundError:
        pass
    try:
        fin = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=src)
    except OSError:
        return 0  # gone, or replaced by a link since it was listed
    tmp = COPY_TMP % name
    try:
        st = os.fstat(fin)
        if not stat.S_ISREG(st.st_mode):
            return 0
        try:
            os.unlink(tmp, dir_fd=dst)  # a leftover, or the student's link: the name goes, never its target
        except FileNotFoundError:
            pass
        fout = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dst)
        try:
            try:
                while os.sendfile(fout, fin, None, 1 << 20):
                    pass
                os.fchown(fout, uid, gid)
                os.fchmod(fout, 0o644 | (st.st_mode & 0o111))
                os.utime(fout, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(fout)
            os.link(tmp, name, src_dir_fd=dst, dst_dir_fd=dst, follow_symlinks=False)
        except FileExistsError:
            return 0  # the student made it meanwhile: theirs wins
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise CopyStopped("the student's disk space or quota is full") from None
            raise
        finally:
            try:
                os.unlink(tmp, dir_fd=dst)
            except FileNotFoundError:
                pass
        return 1
    finally:
        os.close(fin)


_home_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="camphub-home")


def home_hook(homes, course, uid, gid, probe_prefix, timeout=HOME_TIMEOUT, make=None):
    """The pre_spawn_hook: make the student's folder (and its manifest entry) and copy in the
    course files a student does not have yet (copy_course; not for teachers, who edit the
    course itself, nor the smoke step's probes) off the hub's event loop (a hard NFS mount that
    hangs must not stop logins and the API), then mount the home and the course folder,
    read-only for students and writable for teachers (the hub's admin flag)."""

    def prepare(folder, address, student, logger):
        home = os.path.join(homes, folder)
        slots = os.path.join(homes, PROBE_SLOTS_DIR if address.startswith(probe_prefix) else SLOTS_DIR)
        (make or make_home)(home, uid, gid, slots)
        record_name(homes, folder, address)
        if student:
            try:
                n = copy_course(course, home, uid, gid)
            except CopyStopped as e:
                logger.warning("camphub: copying the course into %s/%s stopped (%s); the rest comes at the next start", folder, COPY_DIR, e)
            except OSError as e:
                logger.warning("camphub: copying the course into %s/%s failed: %s", folder, COPY_DIR, e)
            else:
                if n:
                    logger.info("camphub: copied %d course file(s) into %s/%s", n, folder, COPY_DIR)

    async def create_home(spawner):
        loop = asyncio.get_running_loop()
        try:
            student = not spawner.user.admin and not spawner.user.name.startswith(probe_prefix)
            await asyncio.wait_for(loop.run_in_executor(_home_pool, prepare, spawner.escaped_name, spawner.user.name, student,
                                                        getattr(spawner, "log", log)), timeout)
        except asyncio.TimeoutError:
            raise RuntimeError(
                "The file server holding home folders did not answer within %d s; "
                "try again in a minute, and tell your teacher if it persists." % timeout
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
        spawner.volumes = volumes(homes, course, spawner.user.admin)

    return create_home


def volumes(homes, course, admin):
    """SwarmSpawner's volumes: the home, and the course folder inside it."""
    return {
        homes + "/{username}": "/home/jovyan",
        course: {"bind": "/home/jovyan/course", "mode": "rw" if admin else "ro"},
    }
CAMPHUB_HUB_FILE
put /srv/jupyterhub/camphub_roster.py 644 <<'CAMPHUB_HUB_FILE'
"""camphub-roster: keep a running JupyterHub's users and admins equal to the roster file.

A hub-managed service (jupyterhub_config.py): JupyterHub starts it with JUPYTERHUB_API_URL and
JUPYTERHUB_API_TOKEN in its environment. It reads the roster (JSON written by the hub-roster
step: {"users": [...], "admins": [...], "exclusive": true}) whenever it changes, and at least
every minute, and through the REST API:
  - creates missing users (POST /users), so they may log in (allow_existing_users);
  - sets each user's admin flag to what the roster says (PATCH /users/NAME);
  - with "exclusive", deletes users who are not on it (DELETE /users/NAME): their server stops
    and their sessions and tokens end; their files stay on NFS.
Granting or removing admin rights needs the caller's own admin flag in JupyterHub 5 (not only a
scope): the service holds the admin role (jupyterhub_config.py, docs/upstream.md "Roster").
Users whose names start with the probe prefix (camphub-probe-, the last argument) belong to
camphub's own checks and are left alone.
After each complete pass it writes the roster's SHA-256 to the applied file, which the
hub-roster step waits for. When the hub refuses a change (an HTTP 4xx answer other than "their
server is still stopping" or "already gone"), that is an error, not something to wait out: the
service logs it and writes the roster's SHA-256 and the hub's message to the error file, which
the hub-roster step quotes when it fails; it tries that roster again only when it changes or the
hub restarts it. A hub that does not answer (restarting, 5xx) is waited for.
Standard library only: it runs inside the hub image.
"""

import hashlib
import json
import logging
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

PAGE = 200
POLL_SECONDS = 5
FULL_PASS_SECONDS = 60

log = logging.getLogger("camphub-roster")


class Refused(Exception):
    """The hub answered a call with a 4xx status: the change it asks for is not allowed."""

    def __init__(self, method, path, status, message):
        super().__init__("%s %s: HTTP %d: %s" % (method, path, status, message))
        self.status = status
        self.message = message


def hub_message(err):
    """The "message" of JupyterHub's JSON error body, else the HTTP reason."""
    try:
        return json.loads(err.read()).get("message") or err.reason
    except (ValueError, AttributeError, OSError):
        return str(err.reason)


class API:
    def __init__(self, url, token):
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method, path, body=None, shown=None):
        """One REST call. A 4xx answer raises Refused, naming the call as `shown` (the path
        with no user name in it: the message reaches the step's output)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "token " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            if 400 <= e.code < 500:
                raise Refused(method, shown or path, e.code, hub_message(e)) from None
            raise
        return json.loads(raw) if raw else None

    def users(self):
        """Every user, page by page (a plain list without the pagination Accept header)."""
        out = {}
        offset = 0
        while True:
            page = self.call("GET", "/users?offset=%d&limit=%d" % (offset, PAGE))
            for u in page:
                out[u["name"]] = u
            if len(page) < PAGE:
                return out
            offset += len(page)


def quoted(name):
    return urllib.parse.quote(name, safe="")


def reconcile(api, roster, probe_prefix):
    """One pass; returns the number of changes it could not make yet. Raises Refused."""
    want = set(roster["users"]) | set(roster["admins"])
    admins = set(roster["admins"])
    have = api.users()
    pending = 0
    new = sorted(want - set(have))
    for admin in (True, False):
        names = [n for n in new if (n in admins) == admin]
        if names:
            api.call("POST", "/users", {"usernames": names, "admin": admin})
            log.info("added %d user(s)%s", len(names), " as admins" if admin else "")
    for name, user in sorted(have.items()):
        if name.startswith(probe_prefix):
            continue
        if name in want or not roster["exclusive"]:
            desired = name in admins
            if bool(user.get("admin")) != desired:
                api.call("PATCH", "/users/" + quoted(name), {"admin": desired}, shown="/users/NAME")
                log.info("%s admin rights of %s", "granted" if desired else "removed", name)
            continue
        try:
            api.call("DELETE", "/users/" + quoted(name), shown="/users/NAME")
            log.info("removed %s (their files stay)", name)
        except Refused as e:
            if e.status == 400 and "stopping" in e.message:
                pending += 1  # their server is still stopping: try again on the next pass
            elif e.status != 404:  # 404: already gone
                raise
    return pending


def write_file(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def remove_file(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def main():
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    logging.basicConfig(level=logging.INFO, format="[camphub-roster] %(message)s")
    roster_path, applied_path, error_path, probe_prefix = sys.argv[1:5]
    api = API(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
    applied, refused, last_pass = None, None, 0.0
    remove_file(error_path)  # a refusal seen by an earlier start no longer holds
    while True:
        try:
            with open(roster_path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raw = None
        if raw is not None:
            digest = hashlib.sha256(raw).hexdigest()
            due = digest != applied or time.monotonic() - last_pass > FULL_PASS_SECONDS
            if due and digest != refused:
                try:
                    if reconcile(api, json.loads(raw), probe_prefix) == 0:
                        if digest != applied:
                            write_file(applied_path, digest + "\n")
                        remove_file(error_path)
                        applied = digest
                    last_pass = time.monotonic()
                except Refused as e:
                    refused = digest
                    log.error("the hub refused the roster: %s", e)
                    write_file(error_path, "%s %s\n" % (digest, e))
                except (OSError, ValueError, KeyError) as e:
                    log.warning("roster not applied yet: %s", e)
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the hub stops its services with SIGINT/SIGTERM
        pass
CAMPHUB_HUB_FILE
put /srv/jupyterhub/camphub_spawner.py 644 <<'CAMPHUB_HUB_FILE'
"""camphub's spawner: dockerspawner 14.0.0's SwarmSpawner, ending a start as soon as the swarm
gives up on the notebook's task, or cannot find it a seat, with the swarm's own reason.

SwarmSpawner.start_object (docs/upstream.md S3) keeps waiting while a task is "rejected"
(a missing bind source, a mount refused) or "pending", and the swarm replaces a rejected task
with a new one, so the student waits out start_timeout (5 minutes) and then reads a generic
timeout. Here every task of the service is looked at (Watch):
  - the first one rejected or failed ends the start with its error (e.g. "invalid mount config
    ... bind source path does not exist");
  - a task still pending because no node has room for its reservations (the scheduler's
    "no suitable node (insufficient resources on N nodes ...)" in the task's Status.Err) ends
    the start after CLASS_FULL_GRACE seconds with the "class full" message: what each seat
    needs, and that a teacher should be told;
  - a task that is only slow (assigned, preparing: pulling, starting) waits as before;
  - a task pending while no notebook worker is ready at all (the class schedule has stopped
    them, or they are lost) ends the start at once, naming the class hours and when notebooks
    can start (NO_WORKER), instead of start_timeout's generic timeout.
The hub's log, the spawn page and the smoke probe's report all carry the same words.
"""

import asyncio

import camphub_hub
from dockerspawner import SwarmSpawner

GAVE_UP = {"rejected", "failed", "orphaned"}
# The swarm scheduler's words for a task no node has room for (moby swarmkit's scheduler
# "no suitable node (insufficient resources on N nodes)").
NO_ROOM = "insufficient resources"
# How long a task may wait for room (a server stopping elsewhere frees a seat) before the
# start ends; with polls at most POLL_MAX apart the student knows within 20 s.
CLASS_FULL_GRACE = 8
POLL_MAX = 3
CLASS_FULL = "The class's machines are full"
NO_WORKER = "No notebook machine is running now"


def first_failure(tasks):
    """The reason of the first task the swarm gave up on, or None."""
    for task in sorted(tasks, key=lambda t: t.get("CreatedAt", "")):
        status = task.get("Status", {})
        if status.get("State", "").lower() in GAVE_UP:
            return status.get("Err") or status.get("Message") or status["State"]
    return None


def no_room(tasks):
    """The swarm's reason when a task waits because no node has room for it, else None."""
    for task in tasks:
        status = task.get("Status", {})
        err = status.get("Err") or ""
        if status.get("State", "").lower() == "pending" and NO_ROOM in err:
            return err
    return None


def size(n_bytes):
    """Bytes as the largest whole binary unit that fits, e.g. 2 GiB, 512 MiB."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n_bytes >= factor and n_bytes % factor == 0:
            return "%d %s" % (n_bytes // factor, unit)
    if n_bytes >= 1 << 30:
        return "%.1f GiB" % (n_bytes / (1 << 30))
    return "%d bytes" % n_bytes


def class_full_message(mem_guarantee, cpu_guarantee, reason):
    seat = []
    if mem_guarantee:
        seat.append("%s of memory" % size(int(mem_guarantee)))
    if cpu_guarantee:
        seat.append("%g CPU" % cpu_guarantee)
    return (
        "%s: every worker already holds as many servers as it can seat (each server is "
        "guaranteed %s). Tell your teacher. A seat frees when another server stops (idle servers "
        "stop on their own), so starting again later can work. (swarm: %s)"
        % (CLASS_FULL, " and ".join(seat) or "its reservation", reason)
    )


def no_worker_message(class_hours, workers_from):
    """What a student reads when no notebook worker is ready: the class hours, if any."""
    if class_hours:
        return (
            "%s: notebooks run in class hours, %s, from %s on class days. Outside those hours a "
            "teacher can start the machines (camphub's README, \"On the day of camp\")."
            % (NO_WORKER, class_hours, workers_from)
        )
    return "%s (the machines are stopped or lost). Tell your teacher." % NO_WORKER


def ready(nodes):
    """How many of the swarm's nodes are ready and take tasks."""
    return sum(
        1 for n in nodes
        if n.get("Status", {}).get("State", "").lower() == "ready"
        and n.get("Spec", {}).get("Availability", "active").lower() == "active"
    )


class Watch:
    """What a start makes of its service's tasks, poll after poll."""

    def __init__(self, mem_guarantee=None, cpu_guarantee=None, grace=CLASS_FULL_GRACE, class_hours="", workers_from=""):
        self.mem_guarantee, self.cpu_guarantee, self.grace = mem_guarantee, cpu_guarantee, grace
        self.class_hours, self.workers_from = class_hours, workers_from
        self.no_room_since = None

    def check(self, tasks, now, ready_workers=None):
        """True once a task runs, False to wait on; raises RuntimeError with the student's message.
        ready_workers is how many notebook workers are ready (None: not asked)."""
        reason = first_failure(tasks)
        if reason:
            raise RuntimeError("Your server could not start on the cluster: %s. Tell your teacher." % reason)
        if any(t.get("Status", {}).get("State", "").lower() == "running" for t in tasks):
            return True
        if ready_workers == 0:
            raise RuntimeError(no_worker_message(self.class_hours, self.workers_from))
        full = no_room(tasks)
        if full is None:
            self.no_room_since = None
            return False
        if self.no_room_since is None:
            self.no_room_since = now
        if now - self.no_room_since >= self.grace:
            raise RuntimeError(class_full_message(self.mem_guarantee, self.cpu_guarantee, full))
        return False


class CampSwarmSpawner(SwarmSpawner):
    async def start_object(self):
        # The class hours, when the workers start, and their label: camphub.json beside this file.
        s = camphub_hub.load_settings()
        watch = Watch(self.mem_guarantee, self.cpu_guarantee,
                      class_hours=s.get("class_hours", ""), workers_from=s.get("workers_from", ""))
        loop = asyncio.get_running_loop()
        dt = 1.0
        while True:
            tasks = await self.docker("tasks", filters={"service": self.service_name})
            workers = None
            if not any(t.get("Status", {}).get("State", "").lower() == "running" for t in tasks):
                workers = ready(await self.docker("nodes", filters={"node.label": s["worker_label"], "role": "worker"}))
            try:
                if watch.check(tasks, loop.time(), workers):
                    return
            except RuntimeError as e:
                self.log.warning("%s's server did not start: %s", self.user.name, e)
                raise
            await asyncio.sleep(dt)
            dt = min(dt * 1.5, POLL_MAX)
CAMPHUB_HUB_FILE
put /srv/jupyterhub/jupyterhub_config.py 644 <<'CAMPHUB_HUB_FILE'
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
CAMPHUB_HUB_FILE
if [ ! -s "$dir/smoke.env" ]; then
  printf 'CAMPHUB_SMOKE_TOKEN=%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" | put "$dir/smoke.env" 600
fi
put /etc/systemd/system/camphub-hub.service 644 <<'CAMPHUB_UNIT'
[Unit]
Description=camphub JupyterHub (container jupyterhub)
Documentation=https://jupyterhub.readthedocs.io/
After=docker.service network-online.target remote-fs.target camphub-proxy.service
Requires=docker.service
Wants=network-online.target camphub-proxy.service

[Service]
Restart=always
RestartSec=5
TimeoutStartSec=120
ExecStartPre=-/usr/bin/docker rm -f jupyterhub
# No published port: the proxy reaches the hub over the overlay network, and the hub reaches the
# proxy's API on their own network (camphub-proxy-api, made by camphub-proxy.service). This container
# alone holds the Docker socket (SwarmSpawner talks to the swarm manager through it).
ExecStartPre=/usr/bin/docker create --name jupyterhub --network jupyterhub-net \
  --env-file /srv/jupyterhub/secret.env \
  --env-file /srv/jupyterhub/proxy.env \
  --env-file /srv/jupyterhub/smoke.env \
  --volume /var/run/docker.sock:/var/run/docker.sock \
  --volume /srv/jupyterhub:/srv/jupyterhub \
  --volume /mnt/camphub:/mnt/camphub:rslave \
  --workdir /srv/jupyterhub \
  camphub-hub:f2ad0de66ba2 jupyterhub -f /srv/jupyterhub/jupyterhub_config.py
ExecStartPre=/usr/bin/docker network connect camphub-proxy-api jupyterhub
ExecStart=/usr/bin/docker start --attach jupyterhub
ExecStop=/usr/bin/docker stop --time 30 jupyterhub

[Install]
WantedBy=multi-user.target
CAMPHUB_UNIT
# The spawn-path probe (smoke step, dress rehearsal); not the hub's file: no restart for it.
hub_changed=$changed
put /usr/local/sbin/camphub-smoke 755 <<'CAMPHUB_SMOKE'
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
CAMPHUB_SMOKE
install -d -m 0755 /usr/local/lib/camphub
put /usr/local/lib/camphub/camphub_kernel_probe.py 644 <<'CAMPHUB_KERNEL_PROBE'
"""camphub-kernel-probe: prove a student's server runs code, the way JupyterLab does it.

Usage: camphub-kernel-probe HUB_URL USER FILE EXPECTED
  HUB_URL   https://HOST:PORT (the proxy's public address)
  USER      the hub user whose server is running
  FILE      a file in the server's home; the kernel reads it back and prints it
  EXPECTED  what the file holds
Environment: CAMPHUB_RESOLVE (HOST:PORT:ADDRESS: connect to ADDRESS, check the certificate for
HOST, as curl --resolve does), CAMPHUB_CACERT (the only certificate trusted), CAMPHUB_AUTH_FILE
(a file holding one "Authorization: token ..." header line; the token is never an argument),
CAMPHUB_FORBIDDEN (optional: NAME=HOST:PORT,... that a notebook must not reach: the firewall
stage tries each from inside the kernel and fails naming every one that answers),
CAMPHUB_QUOTA_MIB (optional: the probe's home quota in MiB; the quota stage writes past it from
the kernel and must be refused with "Disk quota exceeded").

Stages, each named when it fails: kernel start (POST .../api/kernels), websocket upgrade
(GET .../api/kernels/ID/channels through the proxy), execution (an execute_request on the
shell channel, its execute_reply), output (the stream on the iopub channel holds EXPECTED),
firewall (when CAMPHUB_FORBIDDEN is set: from the kernel, a connection to each forbidden
address must go unanswered; an answer, even a refusal, means the path is open), quota (when
CAMPHUB_QUOTA_MIB is set: the kernel writes QUOTA_MIB + 16 MiB into the home and syncs it; the
write must fail with EDQUOT, which NFS passes back from the file server's ext4 at the latest
on fsync or close; the file is removed either way), kernel shutdown
(DELETE .../api/kernels/ID). Without a websocket subprotocol, Jupyter Server
speaks the JSON message format (docs/upstream.md, "Kernel websocket").
Prints "ok SECONDS_TO_FIRST_RESULT" and exits 0, or "FAILED at STAGE: REASON" and exits 1.
Standard library only, Python 3.9 or later: it runs with the hub machine's own python3.
"""

import base64
import errno
import hashlib
import http.client
import json
import os
import select
import socket
import ssl
import struct
import sys
import time
import urllib.parse
import uuid

TIMEOUT = 60
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class StageFailed(Exception):
    def __init__(self, stage, reason):
        super().__init__("%s: %s" % (stage, reason))
        self.stage = stage


class Target:
    """Where the proxy is: the name the certificate is checked for, and the address dialled."""

    def __init__(self, hub_url, resolve, cacert):
        u = urllib.parse.urlsplit(hub_url)
        self.host, self.port = u.hostname, u.port or 443
        self.address = self.host
        if resolve:
            host, port, address = resolve.rsplit(":", 2)
            if host == self.host and int(port) == self.port:
                self.address = address
        self.context = ssl.create_default_context(cafile=cacert)

    def connect(self):
        raw = socket.create_connection((self.address, self.port), timeout=TIMEOUT)
        return self.context.wrap_socket(raw, server_hostname=self.host)


def http_call(target, auth, method, path, body=None):
    """One HTTPS request; returns (status, body bytes)."""
    conn = http.client.HTTPSConnection(target.host, target.port, timeout=TIMEOUT, context=target.context)
    conn.sock = target.connect()
    headers = {"Authorization": auth}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def reason_of(status, body):
    try:
        doc = json.loads(body)
        message = doc.get("message") or doc.get("reason") or ""
    except ValueError:
        message = body.decode("utf-8", "replace").strip()
    return ("HTTP %d %s" % (status, message)).strip()[:300]


class WebSocket:
    """A client websocket (RFC 6455): text frames out (masked), text frames in. Every read ends
    by the deadline, whatever the server sends meanwhile (pings included)."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.buf = b""
        self.deadline = deadline

    def _recv(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no answer within %d s" % TIMEOUT)
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        return chunk

    @classmethod
    def open(cls, target, auth, path, deadline):
        sock = target.connect()
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: %s\r\n\r\n"
        ) % (path, target.host, target.port, key, auth)
        sock.sendall(request.encode())
        ws = cls(sock, deadline)
        head = ws._read_until(b"\r\n\r\n")
        lines = head.decode("iso-8859-1").split("\r\n")
        if not lines[0].startswith("HTTP/1.1 101"):
            raise StageFailed("websocket upgrade", "the proxy answered %r instead of 101" % lines[0])
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
        got = {k.strip().lower(): v.strip() for k, v in headers.items()}.get("sec-websocket-accept")
        if got != accept:
            raise StageFailed("websocket upgrade", "wrong Sec-WebSocket-Accept %r" % got)
        return ws

    def _read_until(self, marker):
        while marker not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(marker, 1)
        return head

    def _read(self, n):
        while len(self.buf) < n:
            self.buf += self._recv()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send_text(self, text):
        self._send(0x1, text.encode())

    def quiet_for(self, seconds):
        """True when nothing arrives within seconds (checked between frames only)."""
        if self.buf or self.sock.pending():
            return False
        readable, _, _ = select.select([self.sock], [], [], max(0.0, min(seconds, self.deadline - time.monotonic())))
        return not readable

    def recv_text(self):
        """The next complete text message (pings answered, binary messages skipped)."""
        parts, opcode = [], None
        while True:
            b0, b1 = self._read(2)
            op, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", self._read(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._read(8))
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if op == 0x8:
                raise ConnectionError("the server closed the websocket")
            if op == 0x9:
                self._send(0xA, payload)
                continue
            if op == 0xA:
                continue
            if op != 0x0:
                opcode, parts = op, []
            parts.append(payload)
            if b0 & 0x80:
                if opcode == 0x1:
                    return b"".join(parts).decode()
                parts, opcode = [], None

    def close(self):
        try:
            self._send(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


def request(msg_type, content, session):
    msg_id = uuid.uuid4().hex
    return msg_id, {
        "header": {
            "msg_id": msg_id,
            "msg_type": msg_type,
            "username": "camphub-smoke",
            "session": session,
            "version": "5.3",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "buffers": [],
        "channel": "shell",
    }


def wait_ready(ws, session):
    """Ask kernel_info until the kernel answers, as JupyterLab does before it runs a cell (a
    request sent while the kernel is still starting may go unanswered)."""
    while True:
        msg_id, msg = request("kernel_info_request", {}, session)
        ws.send_text(json.dumps(msg))
        asked = time.monotonic()
        while time.monotonic() - asked < 3:
            if time.monotonic() >= ws.deadline:
                raise StageFailed("execution", "the kernel did not answer within %d s" % TIMEOUT)
            if ws.quiet_for(asked + 3 - time.monotonic()):
                break
            try:
                m = json.loads(ws.recv_text())
            except socket.timeout:
                raise StageFailed("execution", "the kernel did not answer within %d s" % TIMEOUT)
            except (OSError, ConnectionError) as e:
                raise StageFailed("execution", "the websocket broke: %s" % e)
            if m.get("parent_header", {}).get("msg_id") == msg_id and m.get("header", {}).get("msg_type") == "kernel_info_reply":
                return


def run_code(ws, code, expected, t0, want_output=False):
    """Execute code; returns the seconds from the kernel start to the first output (or, with
    want_output, the whole output)."""
    session = uuid.uuid4().hex
    wait_ready(ws, session)
    msg_id, msg = request("execute_request", {
        "code": code,
        "silent": False,
        "store_history": False,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
    }, session)
    ws.send_text(json.dumps(msg))
    out, first, reply = "", None, None
    while True:
        try:
            m = json.loads(ws.recv_text())
        except socket.timeout:
            break
        except (OSError, ConnectionError) as e:
            raise StageFailed("execution", "the websocket broke: %s" % e)
        if m.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = m.get("header", {}).get("msg_type"), m.get("content", {})
        if kind == "stream" and content.get("name") == "stdout":
            out += content.get("text", "")
            if first is None:
                first = time.monotonic() - t0
        elif kind == "error":
            raise StageFailed("execution", "%s: %s" % (content.get("ename"), content.get("evalue")))
        elif kind == "execute_reply":
            reply = content.get("status")
            if reply != "ok":
                raise StageFailed("execution", "execute_reply status %s" % reply)
        elif kind == "status" and content.get("execution_state") == "idle" and reply:
            break
    if reply is None:
        raise StageFailed("execution", "no execute_reply within %d s" % TIMEOUT)
    if expected not in out:
        raise StageFailed("output", "the kernel printed %r, not the file's content" % out[:200])
    return out if want_output else first


# FIREWALL_CHECK runs in the student's kernel: a connection attempt to every forbidden address
# at once, each given CONNECT_SECONDS; prints "camphub-reached NAME" for each that answers
# (connected or refused: the packet got through) and "camphub-checked N" at the end.
CONNECT_SECONDS = 3
FIREWALL_CHECK = """
import errno, select, socket, time
pending = {}
for name, host, port in %r:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    err = s.connect_ex((host, port))
    if err in (0, errno.ECONNREFUSED):
        print("camphub-reached", name)
    elif err == errno.EINPROGRESS:
        pending[s] = name
deadline = time.monotonic() + %d
while pending and time.monotonic() < deadline:
    _, ready, _ = select.select([], list(pending), [], max(0, deadline - time.monotonic()))
    for s in ready:
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) in (0, errno.ECONNREFUSED):
            print("camphub-reached", pending[s])
        del pending[s]
print("camphub-checked", %d)
"""


# QUOTA_CHECK runs in the student's kernel, in its home (the server's root folder): write past the
# quota, sync, and print how it ended: "camphub-quota-refused ERRNO MIB" or
# "camphub-quota-not-refused MIB".
QUOTA_CHECK = """
import os
path = ".camphub-quota-probe.bin"
limit, written, chunk = %d * 2**20, 0, b"\\0" * 2**20
try:
    try:
        with open(path, "wb") as f:
            while written < limit + 16 * 2**20:
                f.write(chunk)
                written += len(chunk)
            f.flush()
            os.fsync(f.fileno())
        print("camphub-quota-not-refused", written >> 20)
    except OSError as e:
        print("camphub-quota-refused", e.errno, written >> 20)
finally:
    try:
        os.remove(path)
    except OSError:
        pass
"""


def quota_code(quota_mib):
    """The code the quota stage runs in the kernel."""
    return QUOTA_CHECK % quota_mib


def quota_verdict(output, quota_mib):
    """None when the write past the quota was refused for the quota; else the stage's reason."""
    for line in output.splitlines():
        words = line.split()
        if words[:1] == ["camphub-quota-refused"] and len(words) == 3:
            err, mib = int(words[1]), words[2]
            if err == errno.EDQUOT:
                return None
            return ("writing past the %d MiB home quota failed with %s after %s MiB, not with "
                    "\"Disk quota exceeded\": %s" % (quota_mib, errno.errorcode.get(err, err), mib,
                    "the data disk is full" if err == errno.ENOSPC else "see the file server"))
        if words[:1] == ["camphub-quota-not-refused"] and len(words) == 2:
            return ("the probe wrote %s MiB into a home whose quota is %d MiB: home quotas are not "
                    "enforced (on the NFS server: camphub-quota's log, journalctl -u camphub-quota, "
                    "and the data disk mounted with prjquota, findmnt /srv/nfs)" % (words[1], quota_mib))
    raise StageFailed("quota", "the check did not finish: %r" % output[-200:])


def forbidden_targets(spec):
    """CAMPHUB_FORBIDDEN's NAME=HOST:PORT,... as (name, host, port) triples."""
    out = []
    for item in filter(None, (i.strip() for i in spec.split(","))):
        name, _, address = item.partition("=")
        host, _, port = address.rpartition(":")
        if not name or not host or not port.isdigit():
            raise ValueError("CAMPHUB_FORBIDDEN: %r is not NAME=HOST:PORT" % item)
        out.append((name, host, int(port)))
    return out


def firewall_code(targets):
    """The code the firewall stage runs in the kernel."""
    return FIREWALL_CHECK % (targets, CONNECT_SECONDS, len(targets))


def reached(output, targets):
    """The forbidden names the kernel's output says it reached; a check that did not finish is an error."""
    if "camphub-checked %d" % len(targets) not in output:
        raise StageFailed("firewall", "the check did not finish: %r" % output[-200:])
    return [line.split(None, 1)[1] for line in output.splitlines() if line.startswith("camphub-reached ")]


def probe(target, auth, user, filename, expected, forbidden=(), quota_mib=None):
    base = "/user/%s/api/kernels" % urllib.parse.quote(user, safe="")
    t0 = time.monotonic()
    try:
        status, body = http_call(target, auth, "POST", base, {})
    except OSError as e:
        raise StageFailed("kernel start", str(e))
    if status != 201:
        raise StageFailed("kernel start", reason_of(status, body))
    kernel = json.loads(body)["id"]
    path = "%s/%s" % (base, kernel)
    try:
        try:
            ws = WebSocket.open(target, auth, path + "/channels", time.monotonic() + TIMEOUT)
        except (OSError, ConnectionError) as e:
            raise StageFailed("websocket upgrade", str(e))
        try:
            code = "print(open(%r).read(), end='')" % filename
            first = run_code(ws, code, expected, t0)
            if forbidden:
                ws.deadline = time.monotonic() + TIMEOUT  # a stage of its own, with its own time
                out = run_code(ws, firewall_code(list(forbidden)), "", t0, want_output=True)
                open_paths = reached(out, forbidden)
                if open_paths:
                    raise StageFailed("firewall", "a notebook reaches %s, which the node's firewall must drop "
                                      "(see journalctl -u docker on that worker: camphub-firewall runs before Docker)"
                                      % ", ".join(sorted(open_paths)))
            if quota_mib:
                ws.deadline = time.monotonic() + TIMEOUT
                why = quota_verdict(run_code(ws, quota_code(quota_mib), "", t0, want_output=True), quota_mib)
                if why:
                    raise StageFailed("quota", why)
        finally:
            ws.close()
    finally:
        try:
            status, body = http_call(target, auth, "DELETE", path)
        except OSError as e:
            status, body = 0, str(e).encode()
    if status != 204:
        raise StageFailed("kernel shutdown", reason_of(status, body))
    return first


def main(argv):
    if len(argv) != 5:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    hub_url, user, filename, expected = argv[1:]
    with open(os.environ["CAMPHUB_AUTH_FILE"]) as f:
        auth = f.read().strip().split(":", 1)[1].strip()
    target = Target(hub_url, os.environ.get("CAMPHUB_RESOLVE", ""), os.environ.get("CAMPHUB_CACERT"))
    try:
        forbidden = forbidden_targets(os.environ.get("CAMPHUB_FORBIDDEN", ""))
    except ValueError as e:
        print("FAILED at firewall: %s" % e)
        return 2
    quota = os.environ.get("CAMPHUB_QUOTA_MIB", "")
    if quota and not quota.isdigit():
        print("FAILED at quota: CAMPHUB_QUOTA_MIB=%r is not a number of MiB" % quota)
        return 2
    try:
        first = probe(target, auth, user, filename, expected, forbidden, int(quota) if quota else None)
    except StageFailed as e:
        print("FAILED at %s" % e)
        return 1
    print("ok %.1f" % first)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
CAMPHUB_KERNEL_PROBE
# The disk report for teachers and the operator, every 15 minutes.
put /usr/local/lib/camphub/camphub_disk_report.py 644 <<'CAMPHUB_DISK'
#!/usr/bin/env python3
"""camphub-disk-report: how full the students' disk is, and who uses what.

Run on the hub every 15 minutes by camphub-disk-report.timer, as root, with the hub machine's
python3; CAMPHUB_SETTINGS names the hub's camphub.json (the unit sets it). It writes, into every teacher's home folder, camphub-disk-usage.txt: the disk's use and
each student's folder size, largest first, as a share of the home quota, the folders near it first. When the disk is warn_percent (camphub.json) full or
more, the report starts with a warning, the hub's journal gets a warning line
(journalctl -p warning), and SSH logins to the hub show it (/etc/motd.d/camphub-disk).

It reads the homes as the hub sees them (not root-squashed) and writes only those report files.
Root never writes through a path the teacher can change: the teacher's folder is opened without
following a link, and the report is made inside it (O_NOFOLLOW, O_EXCL, relative to the folder's
descriptor), owned by the student user, then renamed over the old one; a link or a hard link a
teacher planted at either name is replaced, never written through.
Folder names are camphub_hub.escape's, the same code the hub names them with.
"""

import json
import os
import shutil
import sys
import syslog
import time

# camphub_hub is beside the hub's settings (CAMPHUB_SETTINGS, set by the unit), or beside this file.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(os.path.abspath(os.environ["CAMPHUB_SETTINGS"]))] if os.environ.get("CAMPHUB_SETTINGS") else []
sys.path.append(HERE)
import camphub_hub  # noqa: E402

REPORT = "camphub-disk-usage.txt"


def size_of(path):
    total = 0
    for root, dirs, files in os.walk(path, onerror=lambda e: None):
        for f in files + dirs:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return total


def gib(n):
    return "%.2f GiB" % (n / 2**30)


# A folder at this share of its quota or more is named at the top of the report.
NEAR_QUOTA = 0.9


def report(homes, roster, warn_percent, name_max, quota_gib=0, now=None):
    """The report's text and its warning ("" under warn_percent), from the homes folder; with
    quota_gib (the stack's per-home quota), each folder's use as a share of it, and the folders
    at 90 % of it or more named first (their owners' saves fail with "Disk quota exceeded" at
    100 %). Sizes are counted here by walking the folder (the hub has no quota tools for the NFS
    disk): the blocks the file server's project quota counts, up to its rounding."""
    names = {camphub_hub.escape(u, name_max): u for u in roster.get("users", []) + roster.get("admins", [])}
    disk = shutil.disk_usage(homes)
    percent = 100.0 * disk.used / disk.total if disk.total else 0.0
    sizes = []
    for entry in os.scandir(homes):
        if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
            sizes.append((size_of(entry.path), names.get(entry.name, entry.name)))
    sizes.sort(key=lambda s: (-s[0], s[1]))
    lines = []
    warning = ""
    if percent >= warn_percent:
        warning = ("WARNING: the disk of the students' home folders is %.0f %% full (%s free); "
                   "ask the camp's operator to grow it (camphub:nfsVolumeSizeGiB) or free space now."
                   % (percent, gib(disk.free)))
        lines.append(warning)
    quota = quota_gib * 2**30
    near = [(n, who) for n, who in sizes if quota and n >= NEAR_QUOTA * quota]
    if near:
        lines.append("AT OR NEAR THE QUOTA of %g GiB per home (saves fail at 100 %%): %s"
                     % (quota_gib, ", ".join("%s (%.0f %%)" % (who, 100.0 * n / quota) for n, who in near)))
    lines.append("camphub disk use, %s" % time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(now)))
    lines.append("disk: %s used of %s (%.0f %%), %s free" % (gib(disk.used), gib(disk.total), percent, gib(disk.free)))
    if quota:
        lines.append("home folders, largest first (GiB, share of the %g GiB quota):" % quota_gib)
        lines.extend("  %10s  %4.0f %%  %s" % (gib(n).replace(" GiB", ""), 100.0 * n / quota, who) for n, who in sizes)
    else:
        lines.append("home folders, largest first:")
        lines.extend("  %10s  %s" % (gib(n).replace(" GiB", ""), who) for n, who in sizes)
    return "\n".join(lines) + "\n", warning


def write_report(home, text, uid, gid):
    """Write text as home/REPORT, owned uid:gid, mode 0644, never following a planted link."""
    dir_fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        tmp = REPORT + ".tmp"
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
        try:
            os.write(fd, text.encode())
            os.fchown(fd, uid, gid)
            os.fchmod(fd, 0o644)
        finally:
            os.close(fd)
        os.rename(tmp, REPORT, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def main():
    s = camphub_hub.load_settings(os.environ.get("CAMPHUB_SETTINGS"))
    homes = os.environ.get("CAMPHUB_HOMES", s["mount_root"] + "/home")
    motd = os.environ.get("CAMPHUB_MOTD", "/etc/motd.d/camphub-disk")
    try:
        with open(os.environ.get("CAMPHUB_ROSTER", s["roster_file"])) as f:
            roster = json.load(f)
    except (OSError, ValueError):
        roster = {"users": [], "admins": []}
    warn_percent = float(os.environ.get("CAMPHUB_WARN_PERCENT", s["warn_percent"]))
    text, warning = report(homes, roster, warn_percent, s["name_max"], roster.get("home_quota_gib", 0))
    if warning:
        syslog.syslog(syslog.LOG_WARNING, "camphub: " + warning)
    for admin in roster.get("admins", []):
        home = os.path.join(homes, camphub_hub.escape(admin, s["name_max"]))
        try:
            write_report(home, text, s["uid"], s["gid"])
        except FileNotFoundError:
            continue  # the teacher has not started a server yet
        except OSError as e:
            print("camphub-disk-report: %s: %s" % (home, e), file=sys.stderr)
    try:
        if warning:
            os.makedirs(os.path.dirname(motd), exist_ok=True)
            with open(motd, "w") as f:
                f.write(warning + "\n")
        elif os.path.exists(motd):
            os.remove(motd)
    except OSError as e:
        print("camphub-disk-report: %s" % e, file=sys.stderr)
    print("camphub-disk-report: %s" % [line for line in text.splitlines() if line.startswith("disk: ")][0])


if __name__ == "__main__":
    main()
CAMPHUB_DISK
printf '%s\n' '[Unit]' 'Description=camphub: report the home folders disk use to the teachers, warn when nearly full' \
  'RequiresMountsFor=/mnt/camphub/home' '[Service]' 'Type=oneshot' 'Environment=CAMPHUB_SETTINGS=/srv/jupyterhub/camphub.json' \
  'ExecStart=/usr/bin/python3 /usr/local/lib/camphub/camphub_disk_report.py' |
  put /etc/systemd/system/camphub-disk-report.service 644
printf '%s\n' '[Unit]' 'Description=camphub disk report every 15 minutes' '[Timer]' 'OnBootSec=5min' \
  'OnUnitActiveSec=15min' '[Install]' 'WantedBy=timers.target' |
  put /etc/systemd/system/camphub-disk-report.timer 644
changed=$hub_changed

if ! docker image inspect camphub-hub:f2ad0de66ba2 >/dev/null 2>&1; then
  echo "camphub: the hub image camphub-hub:f2ad0de66ba2 is missing; the hub-image step builds it" >&2
  exit 1
fi
systemctl daemon-reload
systemctl enable -q camphub-proxy.service camphub-hub.service
systemctl enable -q --now camphub-disk-report.timer
if [ "$proxy_changed" = 1 ] || ! systemctl is-active -q camphub-proxy.service; then
  echo "camphub: (re)starting camphub-proxy.service" >&2
  systemctl restart camphub-proxy.service
fi
# A changed image name is a changed unit file, so a new image restarts the hub too.
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
echo "camphub: the hub did not become healthy in 5 minutes; see: journalctl -u camphub-hub.service -u camphub-proxy.service" >&2
exit 1
