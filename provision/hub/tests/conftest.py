"""pytest setup: the hub's modules are imported from the folder above, as the hub imports them
from /srv/jupyterhub. dockerspawner cannot be installed here: a bare stand-in module takes its
place for camphub_spawner's import (SwarmSpawner itself is rehearsed on a real swarm in
rehearsal/, with the same Watch)."""

import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

if "dockerspawner" not in sys.modules:
    stub = types.ModuleType("dockerspawner")
    stub.SwarmSpawner = object
    sys.modules["dockerspawner"] = stub
