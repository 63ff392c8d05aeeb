"""camphub_disk_report: its figures, and that root never writes through a teacher's link."""

import os

import camphub_disk_report as dr
import camphub_hub

NAME_MAX = 55


def make(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"x" * size)


def test_report_lists_every_folder_by_address_largest_first(tmp_path):
    homes = tmp_path / "home"
    for who, size in (("ada@example.org", 30 << 20), ("grace@example.net", 10 << 20), ("teacher@example.org", 0)):
        make(str(homes / camphub_hub.escape(who, NAME_MAX) / "data.bin"), size)
    os.makedirs(homes / "someone-unknown")
    text, warning = dr.report(str(homes), {"users": ["ada@example.org", "grace@example.net"], "admins": ["teacher@example.org"]}, 101, NAME_MAX)
    assert warning == ""
    lines = text.splitlines()
    order = [line.split()[-1] for line in lines[lines.index("home folders, largest first:") + 1:]]
    assert order[:2] == ["ada@example.org", "grace@example.net"]
    assert set(order[2:]) == {"teacher@example.org", "someone-unknown"}
    sizes = {line.split()[-1]: float(line.split()[0]) for line in lines if line.startswith("  ")}
    assert sizes["ada@example.org"] == 0.03 and sizes["grace@example.net"] == 0.01  # GiB, from blocks


def test_each_home_is_shown_against_the_quota(tmp_path):
    homes = tmp_path / "home"
    make(str(homes / camphub_hub.escape("ada@example.org", NAME_MAX) / "data.bin"), 95 << 20)
    make(str(homes / camphub_hub.escape("bo@example.org", NAME_MAX) / "data.bin"), 10 << 20)
    quota = 100 / 1024  # GiB: 100 MiB
    text, _ = dr.report(str(homes), {"users": ["ada@example.org", "bo@example.org"]}, 101, NAME_MAX, quota)
    lines = text.splitlines()
    assert lines[0].startswith("AT OR NEAR THE QUOTA") and "ada@example.org (95 %)" in lines[0]
    assert "bo@example.org" not in lines[0]
    shares = {line.split()[-1]: line.split()[1] for line in lines if line.startswith("  ")}
    assert shares == {"ada@example.org": "95", "bo@example.org": "10"}


def test_past_the_threshold_the_report_starts_with_the_warning(tmp_path):
    os.makedirs(tmp_path / "home")
    text, warning = dr.report(str(tmp_path / "home"), {}, 0, NAME_MAX)
    assert warning.startswith("WARNING: the disk of the students' home folders is")
    assert text.startswith(warning)


def test_a_planted_symlink_is_replaced_not_followed(tmp_path):
    target = tmp_path / "jupyterhub_cookie_secret"
    target.write_bytes(b"secret")
    os.chmod(target, 0o600)
    before = os.stat(target)
    home = tmp_path / "teacher"
    home.mkdir()
    os.symlink(target, home / (dr.REPORT + ".tmp"))
    os.symlink(target, home / dr.REPORT)
    uid, gid = os.getuid(), os.getgid()
    dr.write_report(str(home), "report\n", uid, gid)
    after = os.stat(target)
    assert target.read_bytes() == b"secret"
    assert (after.st_mode, after.st_uid, after.st_gid) == (before.st_mode, before.st_uid, before.st_gid)
    assert not os.path.islink(home / dr.REPORT)
    assert (home / dr.REPORT).read_text() == "report\n"
    assert oct(os.stat(home / dr.REPORT).st_mode & 0o777) == oct(0o644)


def test_a_planted_hard_link_is_replaced_not_written(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_bytes(b"keep")
    home = tmp_path / "teacher"
    home.mkdir()
    os.link(target, home / dr.REPORT)
    dr.write_report(str(home), "report\n", os.getuid(), os.getgid())
    assert target.read_bytes() == b"keep"
    assert (home / dr.REPORT).read_text() == "report\n"


def test_a_home_that_is_a_link_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, tmp_path / "teacher")
    try:
        dr.write_report(str(tmp_path / "teacher"), "report\n", os.getuid(), os.getgid())
    except OSError:
        pass
    assert not (elsewhere / dr.REPORT).exists()
