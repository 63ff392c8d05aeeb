#!/usr/bin/env python3
"""camphub-disk-report: how full the students' disk is, and who uses what.

Run on the hub every 15 minutes by camphub-disk-report.timer. It writes, into every teacher's
home folder, camphub-disk-usage.txt: the disk's use and each student's folder size, largest
first. When the disk is 85 % full or more, the report starts with a warning, the hub's
journal gets a warning line (journalctl -p warning), and SSH logins to the hub show it
(/etc/motd.d/camphub-disk). Reads the homes as the hub sees them (not root-squashed), writes
only those report files. Standard library only: it runs on the hub machine itself.
"""

import hashlib
import json
import os
import shutil
import string
import sys
import syslog
import time

HOMES = os.environ.get("CAMPHUB_HOMES", "/mnt/camphub/home")
ROSTER = os.environ.get("CAMPHUB_ROSTER", "/srv/jupyterhub/roster.json")
MOTD = os.environ.get("CAMPHUB_MOTD", "/etc/motd.d/camphub-disk")
WARN_PERCENT = float(os.environ.get("CAMPHUB_WARN_PERCENT", "85"))
REPORT = "camphub-disk-usage.txt"
NAME_MAX = 55
SAFE = set(string.ascii_lowercase + string.digits)


def escape(name):
    """A user's folder name: jupyterhub_config.py's camp_escape (escapism with a-z0-9 safe and
    "-" as the escape character, lower-cased; shortened past NAME_MAX), without escapism."""
    out = []
    for ch in name:
        if ch in SAFE:
            out.append(ch)
        else:
            out.extend("-%02X" % b for b in ch.encode("utf-8"))
    full = "".join(out).lower()
    if len(full) <= NAME_MAX:
        return full
    return full[: NAME_MAX - 14] + "--" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]


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


def main():
    try:
        with open(ROSTER) as f:
            roster = json.load(f)
    except (OSError, ValueError):
        roster = {"users": [], "admins": []}
    names = {escape(u): u for u in roster.get("users", []) + roster.get("admins", [])}
    disk = shutil.disk_usage(HOMES)
    percent = 100.0 * disk.used / disk.total if disk.total else 0.0
    sizes = []
    for entry in os.scandir(HOMES):
        if entry.is_dir(follow_symlinks=False):
            sizes.append((size_of(entry.path), names.get(entry.name, entry.name)))
    sizes.sort(reverse=True)
    lines = []
    warning = ""
    if percent >= WARN_PERCENT:
        warning = ("WARNING: the disk of the students' home folders is %.0f %% full (%s free); "
                   "ask the camp's operator to grow it (camphub:nfsVolumeSizeGiB) or free space now."
                   % (percent, gib(disk.free)))
        lines.append(warning)
        syslog.syslog(syslog.LOG_WARNING, "camphub: " + warning)
    lines.append("camphub disk use, %s" % time.strftime("%Y-%m-%d %H:%M %Z"))
    lines.append("disk: %s used of %s (%.0f %%), %s free" % (gib(disk.used), gib(disk.total), percent, gib(disk.free)))
    lines.append("home folders, largest first:")
    lines.extend("  %10s  %s" % (gib(n).replace(" GiB", ""), who) for n, who in sizes)
    text = "\n".join(lines) + "\n"
    for admin in roster.get("admins", []):
        home = os.path.join(HOMES, escape(admin))
        if not os.path.isdir(home):
            continue
        path = os.path.join(home, REPORT)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.chown(tmp, 1000, 100)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    try:
        if warning:
            os.makedirs(os.path.dirname(MOTD), exist_ok=True)
            with open(MOTD, "w") as f:
                f.write(warning + "\n")
        elif os.path.exists(MOTD):
            os.remove(MOTD)
    except OSError as e:
        print("camphub-disk-report: %s" % e, file=sys.stderr)
    print("camphub-disk-report: %.0f %% used, %d folders" % (percent, len(sizes)))


if __name__ == "__main__":
    main()
