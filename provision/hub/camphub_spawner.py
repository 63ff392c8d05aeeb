"""camphub's spawner: dockerspawner 14.0.0's SwarmSpawner, ending a start as soon as the swarm
gives up on the notebook's task, or cannot find it a seat, with the swarm's own reason.

SwarmSpawner.start_object (docs/upstream.md S3) keeps waiting while a task is "rejected"
(a missing bind source, a mount refused) or "pending", and the swarm replaces a rejected task
with a new one, so the student waits out start_timeout (5 minutes) and then reads a generic
timeout. Here every task of the service is looked at (Watch):
  - the first one rejected or failed ends the start with its error (e.g. "invalid mount config
    ... bind source path does not exist");
  - a task still pending because no node has room for its reservations (the scheduler's
    "no suitable node (insufficient resources on N nodes ...)" in the task's Status.Err) ends
    the start after CLASS_FULL_GRACE seconds with the "class full" message: what each seat
    needs, and that a teacher should be told;
  - a task that is only slow (assigned, preparing: pulling, starting) waits as before;
  - a task pending while no notebook worker is ready at all (the class schedule has stopped
    them, or they are lost) ends the start at once, naming the class hours and when notebooks
    can start (NO_WORKER), instead of start_timeout's generic timeout.
The hub's log, the spawn page and the smoke probe's report all carry the same words.
"""

import asyncio

import camphub_hub
from dockerspawner import SwarmSpawner

GAVE_UP = {"rejected", "failed", "orphaned"}
# The swarm scheduler's words for a task no node has room for (moby swarmkit's scheduler
# "no suitable node (insufficient resources on N nodes)").
NO_ROOM = "insufficient resources"
# How long a task may wait for room (a server stopping elsewhere frees a seat) before the
# start ends; with polls at most POLL_MAX apart the student knows within 20 s.
CLASS_FULL_GRACE = 8
POLL_MAX = 3
CLASS_FULL = "The class's machines are full"
NO_WORKER = "No notebook machine is running now"


def first_failure(tasks):
    """The reason of the first task the swarm gave up on, or None."""
    for task in sorted(tasks, key=lambda t: t.get("CreatedAt", "")):
        status = task.get("Status", {})
        if status.get("State", "").lower() in GAVE_UP:
            return status.get("Err") or status.get("Message") or status["State"]
    return None


def no_room(tasks):
    """The swarm's reason when a task waits because no node has room for it, else None."""
    for task in tasks:
        status = task.get("Status", {})
        err = status.get("Err") or ""
        if status.get("State", "").lower() == "pending" and NO_ROOM in err:
            return err
    return None


def size(n_bytes):
    """Bytes as the largest whole binary unit that fits, e.g. 2 GiB, 512 MiB."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n_bytes >= factor and n_bytes % factor == 0:
            return "%d %s" % (n_bytes // factor, unit)
    if n_bytes >= 1 << 30:
        return "%.1f GiB" % (n_bytes / (1 << 30))
    return "%d bytes" % n_bytes


def class_full_message(mem_guarantee, cpu_guarantee, reason):
    seat = []
    if mem_guarantee:
        seat.append("%s of memory" % size(int(mem_guarantee)))
    if cpu_guarantee:
        seat.append("%g CPU" % cpu_guarantee)
    return (
        "%s: every worker already holds as many servers as it can seat (each server is "
        "guaranteed %s). Tell your teacher. A seat frees when another server stops (idle servers "
        "stop on their own), so starting again later can work. (swarm: %s)"
        % (CLASS_FULL, " and ".join(seat) or "its reservation", reason)
    )


def no_worker_message(class_hours, workers_from):
    """What a student reads when no notebook worker is ready: the class hours, if any."""
    if class_hours:
        return (
            "%s: notebooks run in class hours, %s, from %s on class days. Outside those hours a "
            "teacher can start the machines (camphub's README, \"On the day of camp\")."
            % (NO_WORKER, class_hours, workers_from)
        )
    return "%s (the machines are stopped or lost). Tell your teacher." % NO_WORKER


def ready(nodes):
    """How many of the swarm's nodes are ready and take tasks."""
    return sum(
        1 for n in nodes
        if n.get("Status", {}).get("State", "").lower() == "ready"
        and n.get("Spec", {}).get("Availability", "active").lower() == "active"
    )


class Watch:
    """What a start makes of its service's tasks, poll after poll."""

    def __init__(self, mem_guarantee=None, cpu_guarantee=None, grace=CLASS_FULL_GRACE, class_hours="", workers_from=""):
        self.mem_guarantee, self.cpu_guarantee, self.grace = mem_guarantee, cpu_guarantee, grace
        self.class_hours, self.workers_from = class_hours, workers_from
        self.no_room_since = None

    def check(self, tasks, now, ready_workers=None):
        """True once a task runs, False to wait on; raises RuntimeError with the student's message.
        ready_workers is how many notebook workers are ready (None: not asked)."""
        reason = first_failure(tasks)
        if reason:
            raise RuntimeError("Your server could not start on the cluster: %s. Tell your teacher." % reason)
        if any(t.get("Status", {}).get("State", "").lower() == "running" for t in tasks):
            return True
        if ready_workers == 0:
            raise RuntimeError(no_worker_message(self.class_hours, self.workers_from))
        full = no_room(tasks)
        if full is None:
            self.no_room_since = None
            return False
        if self.no_room_since is None:
            self.no_room_since = now
        if now - self.no_room_since >= self.grace:
            raise RuntimeError(class_full_message(self.mem_guarantee, self.cpu_guarantee, full))
        return False


class CampSwarmSpawner(SwarmSpawner):
    async def start_object(self):
        # The class hours, when the workers start, and their label: camphub.json beside this file.
        s = camphub_hub.load_settings()
        watch = Watch(self.mem_guarantee, self.cpu_guarantee,
                      class_hours=s.get("class_hours", ""), workers_from=s.get("workers_from", ""))
        loop = asyncio.get_running_loop()
        dt = 1.0
        while True:
            tasks = await self.docker("tasks", filters={"service": self.service_name})
            workers = None
            if not any(t.get("Status", {}).get("State", "").lower() == "running" for t in tasks):
                workers = ready(await self.docker("nodes", filters={"node.label": s["worker_label"], "role": "worker"}))
            try:
                if watch.check(tasks, loop.time(), workers):
                    return
            except RuntimeError as e:
                self.log.warning("%s's server did not start: %s", self.user.name, e)
                raise
            await asyncio.sleep(dt)
            dt = min(dt * 1.5, POLL_MAX)
