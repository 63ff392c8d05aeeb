"""camphub's spawner: dockerspawner 14.0.0's SwarmSpawner, ending a start as soon as the swarm
gives up on the notebook's task, with the swarm's own reason.

SwarmSpawner.start_object (swarmspawner.py 262-301) keeps waiting while a task is "rejected"
(a missing bind source, a mount refused), and the swarm replaces a rejected task with a new
one, so the student waits out start_timeout (5 minutes) and then reads a generic timeout.
Here every task of the service is looked at, and the first one rejected or failed ends the
start with its error (e.g. "invalid mount config ... bind source path does not exist").
"""

import asyncio

from dockerspawner import SwarmSpawner

GAVE_UP = {"rejected", "failed", "orphaned"}


def first_failure(tasks):
    """The reason of the first task the swarm gave up on, or None."""
    for task in sorted(tasks, key=lambda t: t.get("CreatedAt", "")):
        status = task.get("Status", {})
        if status.get("State", "").lower() in GAVE_UP:
            return status.get("Err") or status.get("Message") or status["State"]
    return None


class CampSwarmSpawner(SwarmSpawner):
    async def start_object(self):
        dt = 1.0
        while True:
            tasks = await self.docker("tasks", filters={"service": self.service_name})
            reason = first_failure(tasks)
            if reason:
                raise RuntimeError(
                    "Your server could not start on the cluster: %s. Tell your teacher." % reason
                )
            if any(t["Status"]["State"].lower() == "running" for t in tasks):
                return
            await asyncio.sleep(dt)
            dt = min(dt * 1.5, 5)
