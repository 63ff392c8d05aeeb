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
