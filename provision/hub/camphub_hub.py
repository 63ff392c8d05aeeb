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
