"""camphub-roster: keep a running JupyterHub's users and admins equal to the roster file.

A hub-managed service (jupyterhub_config.py): JupyterHub starts it with JUPYTERHUB_API_URL and
JUPYTERHUB_API_TOKEN in its environment. It reads the roster (JSON written by the hub-roster
step: {"users": [...], "admins": [...], "exclusive": true}) whenever it changes, and at least
every minute, and through the REST API:
  - creates missing users (POST /users), so they may log in (allow_existing_users);
  - sets each user's admin flag to what the roster says (PATCH /users/NAME);
  - with "exclusive", deletes users who are not on it (DELETE /users/NAME): their server stops
    and their sessions and tokens end; their files stay on NFS.
Users whose names start with camphub-probe- belong to camphub's own checks and are left alone.
After each complete pass it writes the roster's SHA-256 to the applied file, which the
hub-roster step waits for.
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

PROBE_PREFIX = "camphub-probe-"
PAGE = 200
POLL_SECONDS = 5
FULL_PASS_SECONDS = 60

log = logging.getLogger("camphub-roster")


class API:
    def __init__(self, url, token):
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "token " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
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


def reconcile(api, roster):
    """One pass; returns the number of changes it could not make yet."""
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
        if name.startswith(PROBE_PREFIX):
            continue
        if name in want or not roster["exclusive"]:
            desired = name in admins
            if bool(user.get("admin")) != desired:
                api.call("PATCH", "/users/" + quoted(name), {"admin": desired})
                log.info("%s admin rights of %s", "granted" if desired else "removed", name)
            continue
        try:
            api.call("DELETE", "/users/" + quoted(name))
            log.info("removed %s (their files stay)", name)
        except urllib.error.HTTPError as e:
            if e.code == 400:  # their server is still stopping: try again on the next pass
                pending += 1
            elif e.code != 404:
                raise
    return pending


def main():
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    logging.basicConfig(level=logging.INFO, format="[camphub-roster] %(message)s")
    roster_path, applied_path = sys.argv[1], sys.argv[2]
    api = API(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
    applied, last_pass = None, 0.0
    while True:
        try:
            with open(roster_path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raw = None
        if raw is not None:
            digest = hashlib.sha256(raw).hexdigest()
            if digest != applied or time.monotonic() - last_pass > FULL_PASS_SECONDS:
                try:
                    if reconcile(api, json.loads(raw)) == 0:
                        if digest != applied:
                            tmp = applied_path + ".tmp"
                            with open(tmp, "w") as f:
                                f.write(digest + "\n")
                            os.replace(tmp, applied_path)
                        applied = digest
                    last_pass = time.monotonic()
                except (OSError, ValueError, KeyError) as e:
                    log.warning("roster not applied yet: %s", e)
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the hub stops its services with SIGINT/SIGTERM
        pass
