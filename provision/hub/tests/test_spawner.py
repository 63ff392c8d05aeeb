"""camphub_spawner on task lists as the swarm reports them (docker-py's tasks(): Status with
State, Err and Message)."""

import pytest

import camphub_spawner as sp


def task(state, err="", created="2026-12-05T08:00:00.000Z", message=""):
    return {"CreatedAt": created, "Status": {"State": state, "Err": err, "Message": message}}


REJECTED = task(
    "rejected",
    'invalid mount config for type "bind": bind source path does not exist: /mnt/camphub/home/ada-40example-2eorg',
    message="preparing",
)
NO_ROOM = task("pending", "no suitable node (insufficient resources on 2 nodes; scheduling constraints not satisfied on 1 node)")


def test_first_failure_names_the_first_rejected_task():
    later = task("failed", "task: non-zero exit (1)", created="2026-12-05T08:00:09.000Z")
    assert sp.first_failure([later, REJECTED, task("running")]).startswith('invalid mount config for type "bind"')
    assert sp.first_failure([task("pending"), task("preparing"), task("running")]) is None


def test_a_rejected_task_ends_the_start_at_once():
    with pytest.raises(RuntimeError, match="bind source path does not exist") as e:
        sp.Watch(2 << 30, 0.5).check([REJECTED], 0.0)
    assert sp.CLASS_FULL not in str(e.value)


def test_class_full_after_the_grace_only():
    w = sp.Watch(2 << 30, 0.5)
    assert w.check([NO_ROOM], 100.0) is False
    assert w.check([NO_ROOM], 100.0 + sp.CLASS_FULL_GRACE - 0.1) is False
    with pytest.raises(RuntimeError) as e:
        w.check([NO_ROOM], 100.0 + sp.CLASS_FULL_GRACE)
    msg = str(e.value)
    assert msg.startswith(sp.CLASS_FULL)
    assert "2 GiB of memory and 0.5 CPU" in msg and "Tell your teacher" in msg
    assert "insufficient resources on 2 nodes" in msg


def test_the_student_knows_within_twenty_seconds():
    # The first poll is at most a second after the service is made; polls are at most POLL_MAX
    # apart: the start ends by 1 + grace + POLL_MAX.
    assert 1 + sp.CLASS_FULL_GRACE + sp.POLL_MAX < 20


def test_slow_tasks_wait_and_a_freed_seat_resets_the_clock():
    w = sp.Watch(512 << 20, 0.25)
    polls = [
        (0.0, [task("pending")]),  # not yet scheduled: no reason
        (30.0, [task("assigned")]),
        (200.0, [task("preparing")]),  # pulling the image
        (300.0, [NO_ROOM]),
        (305.0, [task("preparing")]),  # a seat freed
        (310.0, [NO_ROOM]),  # the clock starts again
        (310.0 + sp.CLASS_FULL_GRACE - 1, [NO_ROOM]),
    ]
    for now, tasks in polls:
        assert w.check(tasks, now) is False
    assert w.check([task("running")], 400.0) is True


@pytest.mark.parametrize("n_bytes, text", [(2 << 30, "2 GiB"), (512 << 20, "512 MiB"), (1536 << 20, "1536 MiB"), (3 * (1 << 30) + 1, "3.0 GiB")])
def test_seat_sizes_read_as_people_write_them(n_bytes, text):
    assert sp.size(n_bytes) == text


def test_no_ready_worker_ends_a_pending_start_at_once_naming_the_class_hours():
    w = sp.Watch(2 << 30, 0.5, class_hours="MON-FRI 08:30-16:30 (America/Denver)", workers_from="08:10")
    pending = [{"CreatedAt": "1", "Status": {"State": "pending", "Err": "no suitable node (1 node not available for new tasks)"}}]
    with pytest.raises(RuntimeError) as e:
        w.check(pending, 0.0, ready_workers=0)
    msg = str(e.value)
    assert msg.startswith(sp.NO_WORKER)
    assert "MON-FRI 08:30-16:30 (America/Denver)" in msg and "from 08:10" in msg and "teacher can start" in msg


def test_without_a_schedule_no_ready_worker_says_tell_your_teacher():
    with pytest.raises(RuntimeError, match=r"stopped or lost\)\. Tell your teacher"):
        sp.Watch().check([{"Status": {"State": "pending"}}], 0.0, ready_workers=0)


def test_a_ready_worker_lets_a_slow_task_wait():
    w = sp.Watch(class_hours="MON-FRI 08:30-16:30 (America/Denver)", workers_from="08:10")
    assert w.check([{"Status": {"State": "preparing"}}], 0.0, ready_workers=1) is False
    assert w.check([{"Status": {"State": "running"}}], 1.0, ready_workers=0) is True


def test_ready_counts_ready_active_nodes_only():
    nodes = [
        {"Status": {"State": "ready"}, "Spec": {"Availability": "active"}},
        {"Status": {"State": "down"}, "Spec": {"Availability": "active"}},
        {"Status": {"State": "ready"}, "Spec": {"Availability": "drain"}},
    ]
    assert sp.ready(nodes) == 1
    assert sp.ready([]) == 0
