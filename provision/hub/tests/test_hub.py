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

    class Spawner:
        escaped_name = "ada"
        user = User()

    hook = camphub_hub.home_hook(str(tmp_path), "/course", 1000, 100, timeout=0.2, make=lambda *a: time.sleep(2))
    with pytest.raises(RuntimeError, match="did not answer within"):
        asyncio.run(hook(Spawner()))
