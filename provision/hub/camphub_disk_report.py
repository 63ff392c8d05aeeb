#!/usr/bin/env python3
"""camphub-disk-report: how full the students' disk is, and who uses what.

Run on the hub every 15 minutes by camphub-disk-report.timer, as root, with the hub machine's
python3; CAMPHUB_SETTINGS names the hub's camphub.json (the unit sets it). It writes, into every teacher's home folder, camphub-disk-usage.txt: the disk's use and
each student's folder size, largest first, as a share of the home quota, the folders near it first. When the disk is warn_percent (camphub.json) full or
more, the report starts with a warning, the hub's journal gets a warning line
(journalctl -p warning), and SSH logins to the hub show it (/etc/motd.d/camphub-disk).

It reads the homes as the hub sees them (not root-squashed) and writes only those report files.
Root never writes through a path the teacher can change: the teacher's folder is opened without
following a link, and the report is made inside it (O_NOFOLLOW, O_EXCL, relative to the folder's
descriptor), owned by the student user, then renamed over the old one; a link or a hard link a
teacher planted at either name is replaced, never written through.
Folder names are camphub_hub.escape's, the same code the hub names them with.
"""

import json
import os
import shutil
import sys
import syslog
import time

# camphub_hub is beside the hub's settings (CAMPHUB_SETTINGS, set by the unit), or beside this file.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(os.path.abspath(os.environ["CAMPHUB_SETTINGS"]))] if os.environ.get("CAMPHUB_SETTINGS") else []
sys.path.append(HERE)
import camphub_hub  # noqa: E402

REPORT = "camphub-disk-usage.txt"


def size_of(path):
    total = 0
    for root, dirs, files in os.walk(path, onerror=lambda e: None):
        for f in files + dirs:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return total


def gib(n):
    return "%.2f GiB" % (n / 2**30)


# A folder at this share of its quota or more is named at the top of the report.
NEAR_QUOTA = 0.9


def report(homes, roster, warn_percent, name_max, quota_gib=0, now=None):
    """The report's text and its warning ("" under warn_percent), from the homes folder; with
    quota_gib (the stack's per-home quota), each folder's use as a share of it, and the folders
    at 90 % of it or more named first (their owners' saves fail with "Disk quota exceeded" at
    100 %). Sizes are counted here by walking the folder (the hub has no quota tools for the NFS
    disk): the blocks the file server's project quota counts, up to its rounding."""
    names = {camphub_hub.escape(u, name_max): u for u in roster.get("users", []) + roster.get("admins", [])}
    disk = shutil.disk_usage(homes)
    percent = 100.0 * disk.used / disk.total if disk.total else 0.0
    sizes = []
    for entry in os.scandir(homes):
        if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
            sizes.append((size_of(entry.path), names.get(entry.name, entry.name)))
    sizes.sort(key=lambda s: (-s[0], s[1]))
    lines = []
    warning = ""
    if percent >= warn_percent:
        warning = ("WARNING: the disk of the students' home folders is %.0f %% full (%s free); "
                   "ask the camp's operator to grow it (camphub:nfsVolumeSizeGiB) or free space now."
                   % (percent, gib(disk.free)))
        lines.append(warning)
    quota = quota_gib * 2**30
    near = [(n, who) for n, who in sizes if quota and n >= NEAR_QUOTA * quota]
    if near:
        lines.append("AT OR NEAR THE QUOTA of %g GiB per home (saves fail at 100 %%): %s"
                     % (quota_gib, ", ".join("%s (%.0f %%)" % (who, 100.0 * n / quota) for n, who in near)))
    lines.append("camphub disk use, %s" % time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(now)))
    lines.append("disk: %s used of %s (%.0f %%), %s free" % (gib(disk.used), gib(disk.total), percent, gib(disk.free)))
    if quota:
        lines.append("home folders, largest first (GiB, share of the %g GiB quota):" % quota_gib)
        lines.extend("  %10s  %4.0f %%  %s" % (gib(n).replace(" GiB", ""), 100.0 * n / quota, who) for n, who in sizes)
    else:
        lines.append("home folders, largest first:")
        lines.extend("  %10s  %s" % (gib(n).replace(" GiB", ""), who) for n, who in sizes)
    return "\n".join(lines) + "\n", warning


def write_report(home, text, uid, gid):
    """Write text as home/REPORT, owned uid:gid, mode 0644, never following a planted link."""
    dir_fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        tmp = REPORT + ".tmp"
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
        try:
            os.write(fd, text.encode())
            os.fchown(fd, uid, gid)
            os.fchmod(fd, 0o644)
        finally:
            os.close(fd)
        os.rename(tmp, REPORT, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def main():
    s = camphub_hub.load_settings(os.environ.get("CAMPHUB_SETTINGS"))
    homes = os.environ.get("CAMPHUB_HOMES", s["mount_root"] + "/home")
    motd = os.environ.get("CAMPHUB_MOTD", "/etc/motd.d/camphub-disk")
    try:
        with open(os.environ.get("CAMPHUB_ROSTER", s["roster_file"])) as f:
            roster = json.load(f)
    except (OSError, ValueError):
        roster = {"users": [], "admins": []}
    warn_percent = float(os.environ.get("CAMPHUB_WARN_PERCENT", s["warn_percent"]))
    text, warning = report(homes, roster, warn_percent, s["name_max"], roster.get("home_quota_gib", 0))
    if warning:
        syslog.syslog(syslog.LOG_WARNING, "camphub: " + warning)
    for admin in roster.get("admins", []):
        home = os.path.join(homes, camphub_hub.escape(admin, s["name_max"]))
        try:
            write_report(home, text, s["uid"], s["gid"])
        except FileNotFoundError:
            continue  # the teacher has not started a server yet
        except OSError as e:
            print("camphub-disk-report: %s: %s" % (home, e), file=sys.stderr)
    try:
        if warning:
            os.makedirs(os.path.dirname(motd), exist_ok=True)
            with open(motd, "w") as f:
                f.write(warning + "\n")
        elif os.path.exists(motd):
            os.remove(motd)
    except OSError as e:
        print("camphub-disk-report: %s" % e, file=sys.stderr)
    print("camphub-disk-report: %s" % [line for line in text.splitlines() if line.startswith("disk: ")][0])


if __name__ == "__main__":
    main()
