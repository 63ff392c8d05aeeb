"""The student's editable copy of the course (camphub_hub.copy_course), run by the hub's
pre_spawn_hook at every start, on a real file system.

What a stand-in hides here: on the hub this runs as root over NFS (no_root_squash), where
ownership is real; these tests run as whoever runs pytest, so where they need root to show
that root is not redirected (a planted link to a root-owned file) they say so and skip
otherwise. The rehearsal's real JupyterHub runs this hook at each probe's start, but probes
get no copy: the copy itself is covered here, on the test machine's file system, not NFS (over
NFS, link() and an exclusive create are decided by the server, with the same meaning)."""

import asyncio
import os

import pytest

import camphub_hub

UID, GID = os.getuid(), os.getgid()


class User:
    def __init__(self, name, admin=False):
        self.name = name
        self.admin = admin


class Spawner:
    def __init__(self, name, admin=False):
        self.user = User(name, admin)
        self.escaped_name = camphub_hub.escape(name, 50)


def start(homes, course, name="ada@example.org", admin=False):
    """A server start as the hub makes it: the config's pre_spawn_hook."""
    hook = camphub_hub.home_hook(str(homes), str(course), UID, GID, "camphub-probe-")
    asyncio.run(hook(Spawner(name, admin)))
    return homes / camphub_hub.escape(name, 50) / camphub_hub.COPY_DIR


@pytest.fixture
def course(tmp_path):
    c = tmp_path / "course"
    (c / "week1").mkdir(parents=True)
    (c / "week1" / "lesson1.ipynb").write_text("teacher v1")
    (c / "README.md").write_text("welcome")
    (c / ".ipynb_checkpoints").mkdir()
    (c / ".ipynb_checkpoints" / "x.ipynb").write_text("checkpoint")
    return c


def test_edits_survive_and_new_notebooks_appear(tmp_path, course):
    homes = tmp_path / "homes"
    homes.mkdir()
    mine = start(homes, course)
    assert (mine / "week1" / "lesson1.ipynb").read_text() == "teacher v1"
    assert (mine / "README.md").read_text() == "welcome"
    assert not (mine / ".ipynb_checkpoints").exists()
    # The student edits the copy (their save works: the file is theirs, writable).
    assert os.access(mine / "week1" / "lesson1.ipynb", os.W_OK)
    (mine / "week1" / "lesson1.ipynb").write_text("student's answers")
    (mine / "README.md").unlink()  # how a student asks for a fresh copy
    # The teacher changes that notebook and adds another.
    (course / "week1" / "lesson1.ipynb").write_text("teacher v2")
    (course / "week1" / "lesson2.ipynb").write_text("new lesson")
    (course / "week2").mkdir()
    (course / "week2" / "data.csv").write_text("a,b\n")
    start(homes, course)  # the next start
    assert (mine / "week1" / "lesson1.ipynb").read_text() == "student's answers"
    assert (mine / "week1" / "lesson2.ipynb").read_text() == "new lesson"
    assert (mine / "week2" / "data.csv").read_text() == "a,b\n"
    assert (mine / "README.md").read_text() == "welcome"
    assert not [n for n in os.listdir(mine / "week1") if n.startswith(".camphub")]


def test_teachers_and_probes_get_no_copy(tmp_path, course):
    homes = tmp_path / "homes"
    homes.mkdir()
    assert not start(homes, course, "teacher@example.org", admin=True).exists()
    assert not start(homes, course, "camphub-probe-1a2b").exists()


def test_a_student_file_where_a_course_folder_is_keeps_the_file(tmp_path, course):
    homes = tmp_path / "homes"
    homes.mkdir()
    mine = start(homes, course, "bo@example.org")
    (mine / "week1" / "lesson1.ipynb").unlink()
    (mine / "week1").rmdir()
    (mine / "week1").write_text("my notes, named week1")
    start(homes, course, "bo@example.org")
    assert (mine / "week1").read_text() == "my notes, named week1"
    assert (mine / "README.md").exists()


def test_links_on_either_side_are_never_followed(tmp_path, course):
    """A student's link in their copy, and a teacher's link in the course, to a file of the hub's
    (as jupyterhub_cookie_secret is): the target is neither written nor copied."""
    homes = tmp_path / "homes"
    homes.mkdir()
    secret = tmp_path / "jupyterhub_cookie_secret"
    secret.write_text("s3cret")
    os.chmod(secret, 0o600)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    # The teacher plants links in the course.
    os.symlink(secret, course / "secret.txt")
    os.symlink(tmp_path, course / "hub-dir")
    mine = start(homes, course, "cy@example.org")
    assert not os.path.lexists(mine / "secret.txt")
    assert not os.path.lexists(mine / "hub-dir")
    # The student plants links where the next copies go: a missing file, a missing folder, and
    # the copy's own temporary name.
    (mine / "week1" / "lesson1.ipynb").unlink()
    os.symlink(secret, mine / "week1" / "lesson1.ipynb")
    os.symlink(secret, mine / "week1" / (camphub_hub.COPY_TMP % "lesson2.ipynb"))
    (course / "week1" / "lesson2.ipynb").write_text("new lesson")
    (course / "week3").mkdir()
    (course / "week3" / "x.ipynb").write_text("x")
    os.symlink(outside, mine / "week3")
    start(homes, course, "cy@example.org")
    assert secret.read_text() == "s3cret" and oct(secret.stat().st_mode & 0o777) == oct(0o600)
    assert os.listdir(outside) == []
    assert os.path.islink(mine / "week1" / "lesson1.ipynb")  # the student's link stays theirs
    assert (mine / "week1" / "lesson2.ipynb").read_text() == "new lesson"
    assert not os.path.lexists(mine / "week1" / (camphub_hub.COPY_TMP % "lesson2.ipynb"))


def test_a_linked_copy_folder_is_left_alone(tmp_path, course):
    homes = tmp_path / "homes"
    home = homes / camphub_hub.escape("di@example.org", 50)
    home.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, home / camphub_hub.COPY_DIR)
    start(homes, course, "di@example.org")
    assert os.listdir(outside) == []


def test_a_full_disk_stops_the_copy_not_the_start(tmp_path, course, monkeypatch, caplog):
    import errno

    homes = tmp_path / "homes"
    homes.mkdir()

    def full(*a):
        raise OSError(errno.EDQUOT, "Disk quota exceeded")

    monkeypatch.setattr(os, "sendfile", full)
    mine = start(homes, course, "ed@example.org")  # no exception: the server still starts
    assert "quota is full" in caplog.text
    left = [f for _, _, files in os.walk(mine) for f in files]
    assert left == []  # no half-copied file left behind


def test_the_copy_stops_when_its_time_is_up(tmp_path, course):
    homes = tmp_path / "homes"
    home = homes / "fy"
    home.mkdir(parents=True)
    ticks = iter(range(100))
    with pytest.raises(camphub_hub.CopyStopped, match="out of time"):
        camphub_hub.copy_course(str(course), str(home), UID, GID, budget=1, clock=lambda: next(ticks))
    # The rest comes at the next start.
    assert camphub_hub.copy_course(str(course), str(home), UID, GID) >= 1
    assert (home / camphub_hub.COPY_DIR / "week1" / "lesson1.ipynb").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership needs root, as on the hub")
def test_copies_belong_to_the_student(tmp_path, course):
    home = tmp_path / "homes" / "gu"
    home.mkdir(parents=True)
    camphub_hub.copy_course(str(course), str(home), 1000, 100)
    for p in [home / camphub_hub.COPY_DIR, home / camphub_hub.COPY_DIR / "week1" / "lesson1.ipynb"]:
        st = os.lstat(p)
        assert (st.st_uid, st.st_gid) == (1000, 100), p
