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
