"""camphub_roster.reconcile against a REST API that answers as JupyterHub 5's does (the admin
checks of docs/upstream.md R1, the 400 while a server stops and the 404 of a user gone, R3).

The stand-in is an HTTP server in this process: what it hides is the rest of JupyterHub (scopes,
pagination headers, the database); the real hub is rehearsed in rehearsal/roster_test.go."""

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import camphub_roster as roster

PROBE = "camphub-probe-"


class FakeHub:
    def __init__(self, users, caller_admin=True, stopping=()):
        self.users = {n: {"name": n, "admin": a} for n, a in users.items()}
        self.caller_admin = caller_admin
        self.stopping = set(stopping)
        self.calls = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self, code, body=None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def refuse(self, code, message):
                self.answer(code, {"status": code, "message": message})

            def body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(n)) if n else None

            def name(self):
                return urllib.parse.unquote(self.path.split("/users/", 1)[1])

            def do_GET(self):
                hub.calls.append(("GET", self.path))
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                off, lim = int(q.get("offset", ["0"])[0]), int(q.get("limit", ["200"])[0])
                self.answer(200, sorted(hub.users.values(), key=lambda u: u["name"])[off: off + lim])

            def do_POST(self):
                data = self.body()
                hub.calls.append(("POST", self.path, data))
                if data.get("admin") and not hub.caller_admin:
                    return self.refuse(403, "Only admins can grant admin permissions")
                for n in data["usernames"]:
                    hub.users[n] = {"name": n, "admin": bool(data.get("admin"))}
                self.answer(201, [hub.users[n] for n in data["usernames"]])

            def do_PATCH(self):
                data, name = self.body(), self.name()
                hub.calls.append(("PATCH", name, data))
                if not hub.caller_admin:
                    if hub.users[name]["admin"]:
                        return self.refuse(403, "Only admins can modify other admins")
                    if data.get("admin"):
                        return self.refuse(403, "Only admins can grant admin permissions")
                hub.users[name].update(data)
                self.answer(200, hub.users[name])

            def do_DELETE(self):
                name = self.name()
                hub.calls.append(("DELETE", name))
                if name not in hub.users:
                    return self.refuse(404, "Not Found")
                if name in hub.stopping:
                    return self.refuse(400, "%s's server is in the process of stopping, please wait." % name)
                del hub.users[name]
                self.answer(204)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.api = roster.API("http://127.0.0.1:%d/hub/api" % self.server.server_port, "not-a-token")

    def close(self):
        self.server.shutdown()

    def deleted(self):
        return [c[1] for c in self.calls if c[0] == "DELETE"]


@pytest.fixture
def hub_factory():
    hubs = []

    def make(*a, **kw):
        hubs.append(FakeHub(*a, **kw))
        return hubs[-1]

    yield make
    for h in hubs:
        h.close()


def doc(users, admins, exclusive=True):
    return {"users": users, "admins": admins, "exclusive": exclusive}


def test_the_roster_becomes_the_hubs_users(hub_factory):
    hub = hub_factory({"old@example.org": False, "assistant@example.org": True, PROBE + "ab1": False})
    pending = roster.reconcile(hub.api, doc(["ada@example.org", "assistant@example.org"], ["teacher@example.org"]), PROBE)
    assert pending == 0
    assert hub.users == {
        "ada@example.org": {"name": "ada@example.org", "admin": False},
        "assistant@example.org": {"name": "assistant@example.org", "admin": False},
        "teacher@example.org": {"name": "teacher@example.org", "admin": True},
        PROBE + "ab1": {"name": PROBE + "ab1", "admin": False},
    }
    assert hub.deleted() == ["old@example.org"]  # the probe's user is left alone


def test_without_exclusive_nobody_is_deleted(hub_factory):
    hub = hub_factory({"someone@example.org": True})
    roster.reconcile(hub.api, doc([], ["teacher@example.org"], exclusive=False), PROBE)
    assert hub.deleted() == []
    assert hub.users["someone@example.org"]["admin"] is False
    assert hub.users["teacher@example.org"]["admin"] is True


def test_a_stopping_server_is_tried_again_later(hub_factory):
    hub = hub_factory({"leaving@example.org": False}, stopping={"leaving@example.org"})
    assert roster.reconcile(hub.api, doc([], ["teacher@example.org"]), PROBE) == 1
    hub.stopping.clear()
    assert roster.reconcile(hub.api, doc([], ["teacher@example.org"]), PROBE) == 0
    assert "leaving@example.org" not in hub.users


def test_a_refusal_is_an_error_naming_no_address(hub_factory):
    # JupyterHub 5: a caller without the admin flag may not grant admin rights.
    hub = hub_factory({}, caller_admin=False)
    with pytest.raises(roster.Refused) as e:
        roster.reconcile(hub.api, doc(["ada@example.org"], ["teacher@example.org"]), PROBE)
    assert e.value.status == 403
    assert "Only admins can grant admin permissions" in str(e.value)
    assert "@" not in str(e.value)
    hub2 = hub_factory({"teacher@example.org": True}, caller_admin=False)
    with pytest.raises(roster.Refused, match=r"PATCH /users/NAME: HTTP 403: Only admins can modify other admins"):
        roster.reconcile(hub2.api, doc(["teacher@example.org"], []), PROBE)


def test_every_page_of_users_is_read(hub_factory, monkeypatch):
    monkeypatch.setattr(roster, "PAGE", 2)
    hub = hub_factory({"u%d@example.org" % i: False for i in range(5)})
    assert len(hub.api.users()) == 5
