"""camphub_hub's home folder: made as the student's, the course mount point never a link."""

import asyncio
import os

import pytest

import camphub_hub


def test_home_and_course_mount_point(tmp_path):
    home = tmp_path / "ada-40example-2eorg"
    camphub_hub.make_home(str(home), os.getuid(), os.getgid())
    assert oct(os.stat(home).st_mode & 0o777) == oct(0o711)
    assert (home / "course").is_dir()
    camphub_hub.make_home(str(home), os.getuid(), os.getgid())  # again: nothing changes


@pytest.mark.parametrize("kind", ["file", "symlink to a directory"])
def test_a_stray_course_is_moved_aside_never_followed(tmp_path, kind):
    home = tmp_path / "home"
    home.mkdir()
    target = tmp_path / "hub-state"
    target.mkdir()
    os.chmod(target, 0o700)
    if kind == "file":
        (home / "course").write_text("mine")
    else:
        os.symlink(target, home / "course")
    camphub_hub.make_home(str(home), os.getuid(), os.getgid())
    assert (home / "course").is_dir() and not (home / "course").is_symlink()
    assert os.path.lexists(home / "course.moved-by-camphub")
    assert oct(os.stat(target).st_mode & 0o777) == oct(0o700)


def test_the_hook_gives_up_on_a_hanging_file_server(tmp_path):
    import time

    class User:
        admin = False
        name = "ada"

    class Spawner:
        escaped_name = "ada"
        user = User()

    hook = camphub_hub.home_hook(str(tmp_path), "/course", 1000, 100, "probe-", timeout=0.2, make=lambda *a: time.sleep(2))
    with pytest.raises(RuntimeError, match="did not answer within"):
        asyncio.run(hook(Spawner()))


def test_the_hook_records_each_folder_in_the_manifest(tmp_path):
    class User:
        admin = False
        name = "ada@example.org"

    class Spawner:
        escaped_name = camphub_hub.escape("ada@example.org", 50)
        user = User()

    hook = camphub_hub.home_hook(str(tmp_path), "/course", os.getuid(), os.getgid(), "probe-")
    asyncio.run(hook(Spawner()))
    entry = tmp_path / camphub_hub.NAMES_DIR / "ada-40example-2eorg"
    assert entry.read_text() == "ada@example.org\n"
    asyncio.run(hook(Spawner()))  # again: the same entry, nothing else
    assert os.listdir(tmp_path / camphub_hub.NAMES_DIR) == ["ada-40example-2eorg"]


@pytest.mark.parametrize("planted", ["the entry", "the entry's temporary file"])
def test_the_manifest_is_never_written_through_a_link(tmp_path, planted):
    target = tmp_path / "hub-secret"
    target.write_text("secret\n")
    os.chmod(target, 0o600)
    names = tmp_path / "homes" / camphub_hub.NAMES_DIR
    names.mkdir(parents=True)
    os.symlink(target, names / ("ada" if planted == "the entry" else "ada.new"))
    camphub_hub.record_name(str(tmp_path / "homes"), "ada", "ada@example.org")
    assert (names / "ada").read_text() == "ada@example.org\n" and not (names / "ada").is_symlink()
    assert target.read_text() == "secret\n"
    assert oct(os.stat(target).st_mode & 0o777) == oct(0o600)


def test_a_linked_manifest_folder_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "homes").mkdir()
    os.symlink(elsewhere, tmp_path / "homes" / camphub_hub.NAMES_DIR)
    with pytest.raises(OSError):
        camphub_hub.record_name(str(tmp_path / "homes"), "ada", "ada@example.org")
    assert os.listdir(elsewhere) == []


@pytest.mark.parametrize("folder", ["", "../x", ".hidden", "a/b"])
def test_the_manifest_takes_only_folder_names(tmp_path, folder):
    with pytest.raises(ValueError):
        camphub_hub.record_name(str(tmp_path), folder, "ada@example.org")


def test_a_new_home_is_a_quota_slot(tmp_path):
    """The file server's slots (each its own ext4 project, made by camphub-quota) become homes by
    a rename: a student's home is under quota from its first byte. Here the slots are plain
    folders (this kernel has no ext4 quotas): the test shows which slot goes where, and the
    smoke step on AWS shows the quota holds (EDQUOT past the probe's small quota)."""

    class User:
        admin = False

        def __init__(self, name):
            self.name = name

    class Spawner:
        def __init__(self, name):
            self.user = User(name)
            self.escaped_name = camphub_hub.escape(name, 50)

    for pool, names in ((camphub_hub.SLOTS_DIR, ["4711", "4712"]), (camphub_hub.PROBE_SLOTS_DIR, ["99"])):
        for n in names:
            (tmp_path / pool / n).mkdir(parents=True)
        (tmp_path / pool / ".new.x").mkdir()  # still being made: never taken
    marker = tmp_path / camphub_hub.SLOTS_DIR / "4711" / ".slot"
    marker.write_text("")
    hook = camphub_hub.home_hook(str(tmp_path), "/nonexistent-course", os.getuid(), os.getgid(), "camphub-probe-")
    asyncio.run(hook(Spawner("ada@example.org")))
    assert (tmp_path / "ada-40example-2eorg" / ".slot").exists()  # slot 4711 is Ada's home now
    asyncio.run(hook(Spawner("ada@example.org")))  # her next start takes no slot
    assert sorted(os.listdir(tmp_path / camphub_hub.SLOTS_DIR)) == [".new.x", "4712"]
    asyncio.run(hook(Spawner("camphub-probe-1a2b1")))
    assert os.listdir(tmp_path / camphub_hub.PROBE_SLOTS_DIR) == [".new.x"]
    # No slot left: the home is still made (the file server's next run gives it a quota).
    asyncio.run(hook(Spawner("camphub-probe-3c4d1")))
    assert (tmp_path / "camphub-2dprobe-2d3c4d1" / "course").is_dir()


def test_a_slot_never_replaces_a_home_with_files(tmp_path):
    home = tmp_path / "bo"
    home.mkdir()
    (home / "work.ipynb").write_text("mine")
    (tmp_path / "slots" / "7").mkdir(parents=True)
    assert camphub_hub.take_slot(str(tmp_path / "slots"), str(home)) is False
    assert (home / "work.ipynb").read_text() == "mine"
