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
import os
import string

SETTINGS_FILE = "camphub.json"
# The manifest of folder names: homes/.camphub-names/<folder> holds the address the folder is
# named for (record_name). Scripts that see only folders read it (hand-back on the file server,
# the smoke step) instead of escaping again.
NAMES_DIR = ".camphub-names"
SAFE = frozenset(string.ascii_lowercase + string.digits)
# A shortened name ends in "--" and this many hex digits of the address's SHA-256.
HASH_DIGITS = 12
# How long the file server may take to make a home before the start gives up.
HOME_TIMEOUT = 20


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


def make_home(home, uid, gid):
    """Create a student's home (uid:gid, 0711) and the course mount point in it.

    Root on the hub's NFS mount (not root-squashed) does this, inside a folder the student
    owns: a "course" that is not a directory (a file or a link the student made) is moved
    aside, never followed.
    """
    course = os.path.join(home, "course")
    os.makedirs(home, exist_ok=True)
    if not os.path.isdir(course) or os.path.islink(course):
        if os.path.lexists(course):
            os.rename(course, course + ".moved-by-camphub")
        os.mkdir(course)
    os.chown(course, uid, gid, follow_symlinks=False)
    os.chmod(course, 0o755)
    os.chown(home, uid, gid, follow_symlinks=False)
    os.chmod(home, 0o711)


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


_home_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="camphub-home")


def home_hook(homes, course, uid, gid, timeout=HOME_TIMEOUT, make=None):
    """The pre_spawn_hook: make the student's folder (and its manifest entry) off the hub's event
    loop (a hard NFS mount that hangs must not stop logins and the API), then mount the home and
    the course folder, read-only for students and writable for teachers (the hub's admin flag)."""

    def prepare(folder, address):
        (make or make_home)(os.path.join(homes, folder), uid, gid)
        record_name(homes, folder, address)

    async def create_home(spawner):
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(_home_pool, prepare, spawner.escaped_name, spawner.user.name), timeout)
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
