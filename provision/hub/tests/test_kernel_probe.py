"""The kernel probe's firewall stage: the code it runs in a student's kernel, run here in a
plain Python process against real sockets (a listener, a closed port, and a listener whose
queue is full, which drops new connection attempts as a firewall's DROP does). What this hides: the kernel itself and the node's firewall; the rehearsal runs the
probe through real kernels (rehearsal/smoke_test.go) and the firewall on real engines
(rehearsal/firewall_test.go); on AWS every smoke step runs this stage from a real notebook."""

import os
import socket
import subprocess
import sys

import pytest

import camphub_kernel_probe as kp


def run_check(targets):
    out = subprocess.run([sys.executable, "-c", kp.firewall_code(targets)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_an_answer_or_a_refusal_is_reached_silence_is_not():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    # Linux drops a SYN when the listener's accept queue is full: silence, as behind a DROP rule.
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    fillers = []
    for _ in range(4):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(full.getsockname())
        fillers.append(f)
    targets = [
        ("listening", "127.0.0.1", listener.getsockname()[1]),
        ("refusing", "127.0.0.1", closed_port),
        ("silent", "127.0.0.1", full.getsockname()[1]),
    ]
    out = run_check(targets)
    assert sorted(kp.reached(out, targets)) == ["listening", "refusing"]
    for s in [listener, full] + fillers:
        s.close()


def test_a_check_that_did_not_finish_fails_the_stage():
    with pytest.raises(kp.StageFailed, match="did not finish"):
        kp.reached("camphub-reached metadata\n", [("metadata", "169.254.169.254", 80), ("nfs", "10.42.0.11", 2049)])


def test_forbidden_targets_are_read_strictly():
    assert kp.forbidden_targets("metadata=169.254.169.254:80, nfs=10.42.0.11:2049") == [
        ("metadata", "169.254.169.254", 80), ("nfs", "10.42.0.11", 2049)]
    assert kp.forbidden_targets("") == []
    for bad in ["metadata", "nfs=10.42.0.11", "=1.2.3.4:5", "x=1.2.3.4:port"]:
        with pytest.raises(ValueError):
            kp.forbidden_targets(bad)


# The quota stage's code, run here in a plain Python process in a scratch folder. What this
# hides: this machine's kernel has no ext4 quotas, so it cannot say "Disk quota exceeded" for
# real; the refusal is shown with a stand-in open() that raises EDQUOT, and the two failures
# with the real kernel (a write that is not refused; a write refused for another reason, the
# file size limit). On AWS every smoke step runs this stage in a real notebook against the
# probe's real quota on the file server.
def run_quota(tmp_path, quota_mib, preexec=None):
    out = subprocess.run([sys.executable, "-c", kp.quota_code(quota_mib)], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path, preexec_fn=preexec)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_write_past_the_quota_that_succeeds_fails_the_stage_naming_the_quota(tmp_path):
    why = kp.quota_verdict(run_quota(tmp_path, 1), 1)
    assert "wrote 17 MiB into a home whose quota is 1 MiB: home quotas are not enforced" in why
    assert os.listdir(tmp_path) == []  # the probe's file is gone


def test_a_write_refused_for_another_reason_is_named(tmp_path):
    import resource
    import signal

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2 << 20, 2 << 20))

    why = kp.quota_verdict(run_quota(tmp_path, 4, small_files), 4)
    assert "failed with EFBIG" in why and "not with \"Disk quota exceeded\"" in why


def test_disk_quota_exceeded_passes(tmp_path, monkeypatch):
    import builtins
    import contextlib
    import errno
    import io

    class QuotaFile(io.BytesIO):
        def write(self, b):
            if self.tell() >= 3 << 20:
                raise OSError(errno.EDQUOT, "Disk quota exceeded")
            return super().write(b)

        def fileno(self):
            raise AssertionError("not reached: the write fails first")

    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(kp.quota_code(8), {"__builtins__": builtins, "open": lambda *a: QuotaFile()})
    assert out.getvalue().startswith("camphub-quota-refused %d 3" % errno.EDQUOT)
    assert kp.quota_verdict(out.getvalue(), 8) is None


def test_a_quota_check_that_did_not_finish_fails_the_stage():
    with pytest.raises(kp.StageFailed, match="quota"):
        kp.quota_verdict("Traceback ...", 8)
