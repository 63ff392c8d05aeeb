"""Load a rendered jupyterhub_config.py the way JupyterHub does and answer questions about it.

Usage: python3 hubconfig.py CONFIG < request.json > answer.json

JupyterHub loads its config file by executing it with get_config() returning a traitlets
Config; so does this. Requests (JSON on stdin, "op" names one):
  traits                   the configured traits, by class, as JSON (repr() where not JSON)
  escape  names=[...]      per name: the escaped name, the service name and the default escape
  make_home homes=DIR user=NAME  (and its manifest entry)
                           run the config's own _make_home on DIR/<escaped name>, as the hub
                           does on its (not root-squashed) NFS view
  spec user=NAME admin=BOOL docker=URL spawner_module=PATH
                           create the user's notebook service on the swarm manager at URL the
                           way SwarmSpawner 14.0.0 does, and wait for its task as camphub's
                           spawner (camphub_spawner.py at PATH) does (see spawn()).

What the spawn() stand-in is: dockerspawner cannot be installed here, so spawn() redoes what
SwarmSpawner.create_object does (dockerspawner 14.0.0; docs/upstream.md S1, and D4 for the
command, D3 for volumes, D2 for the name), with the same docker-py types and API calls and the traits of the rendered
config. It runs on both docker-py generations: the host's (Debian bookworm, 5.0.3) in
spawn_test.go, and trixie's 7.1.0 (the hub image's generation) inside the rehearsal image's hub
container in smokeswarm_test.go. What
it hides: JupyterHub's Spawner around it (the API token and URLs in the environment, get_args'
--port/--ip flags, start_timeout, poll()). The environment it passes has the JUPYTERHUB_* names
JupyterHub sets, pointing at the hub container. Those parts are exercised by the real hub in
the rehearsal's hub tests and are stated with their source lines in jupyterhub_config.py.
"""

import asyncio
import json
import os
import string
import sys
import time

from traitlets.config import Config


def load(path):
    c = Config()
    ns = {"get_config": lambda: c, "__file__": path, "__name__": "jupyterhub_config"}
    with open(path) as f:
        code = compile(f.read(), path, "exec")
    exec(code, ns)
    return c, ns


def plain(v):
    try:
        json.dumps(v)
        return v
    except TypeError:
        if isinstance(v, (set, frozenset)):
            return sorted(plain(x) for x in v)
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return repr(v)


def hub_module():
    """camphub_hub, as the loaded configuration imported it."""
    return sys.modules["camphub_hub"]


def escaper(c):
    esc = c.SwarmSpawner.get("escape")
    if esc is None:
        # docs/upstream.md D1, the default
        from escapism import escape

        safe = set(string.ascii_lowercase + string.digits)
        esc = lambda text: escape(text, safe, escape_char="-").lower()  # noqa: E731
    return esc


def names(c, user):
    escaped = escaper(c)(user)
    prefix = c.SwarmSpawner.get("prefix", "jupyter")  # docs/upstream.md D2
    template = c.SwarmSpawner.get("name_template", "{prefix}-{username}")  # D2
    ns = {  # D2 (unnamed server)
        "username": escaped,
        "safe_username": escaped,
        "raw_username": user,
        "imagename": c.SwarmSpawner.image.replace("/", "-").replace(":", "-"),
        "servername": "",
        "raw_servername": "",
        "prefix": prefix,
    }
    return escaped, template.format(**ns), ns


def fmt(value, ns):
    return value.format(**ns) if isinstance(value, str) else value


class User:
    def __init__(self, name, admin):
        self.name, self.admin = name, admin


class Spawner:
    """The attributes of a spawner that camphub's pre_spawn_hook reads and writes."""

    def __init__(self, c, name, admin):
        self.user = User(name, admin)
        self.escaped_name = escaper(c)(name)
        self.volumes = dict(c.SwarmSpawner.get("volumes", {}))


def volume_binds(volumes, ns):
    # docs/upstream.md D3: {host: {"bind": target, "mode": m}}
    binds = {}
    for host, v in volumes.items():
        mode = "rw"
        if isinstance(v, dict):
            mode = v.get("mode", mode)
            v = v["bind"]
        binds[fmt(host, ns)] = {"bind": fmt(v, ns), "mode": mode}
    return binds


def spawn(c, cfg_ns, req):
    import docker
    from docker.types import ContainerSpec, EndpointSpec, Mount, Placement, Resources, TaskTemplate
    from jupyterhub.traitlets import ByteSpecification

    user, admin = req["user"], req.get("admin", False)
    client = docker.APIClient(base_url=req["docker"], version="auto")
    escaped, service_name, ns = names(c, user)

    # The config's own pre_spawn_hook decides the volumes (the home folder itself is made on the
    # hub side by make_home, against the hub's view of NFS). A real hub that ran the hook itself
    # hands its volumes (and the environment it made) in the request instead.
    spawner = Spawner(c, user, admin)
    hook = c.Spawner.get("pre_spawn_hook")
    if "volumes" in req:
        spawner.volumes = req["volumes"]
    elif hook is not None:
        # the hook's home (and its manifest entry) is made by make_home beforehand, on the hub's
        # view of NFS
        hub = hub_module()
        real = hub.make_home, hub.record_name
        hub.make_home = lambda home, uid, gid, slots=None: None
        hub.record_name = lambda homes, folder, address: None
        try:
            asyncio.run(hook(spawner))
        finally:
            hub.make_home, hub.record_name = real

    image = c.SwarmSpawner.image
    cmd = c.SwarmSpawner.get("cmd")
    if not cmd:
        # docs/upstream.md D4: the hub asks its own Docker daemon, the manager.
        try:
            cmd = client.inspect_image(image)["Config"]["Cmd"]
        except docker.errors.ImageNotFound as e:
            return {"error": "get_command: " + str(e)}
    hub = req.get("hub_url", "http://jupyterhub:8081")
    env = req.get("env") or {
        "JUPYTERHUB_API_URL": hub + "/hub/api",
        "JUPYTERHUB_USER": user,
        "JUPYTERHUB_SERVICE_PREFIX": "/user/%s/" % user,
        "JUPYTER_IMAGE_SPEC": image,
    }
    binds = volume_binds(spawner.volumes, ns)
    mounts = [  # docs/upstream.md S2
        Mount(target=v["bind"], source=host, type="bind", read_only=v["mode"] == "ro")
        for host, v in binds.items()
    ]
    container_spec = ContainerSpec(image=image, env=env, args=list(cmd), mounts=mounts)
    bs = ByteSpecification()
    mem_limit = c.SwarmSpawner.get("mem_limit")
    mem_guarantee = c.SwarmSpawner.get("mem_guarantee")
    cpu_limit = c.SwarmSpawner.get("cpu_limit")
    cpu_guarantee = c.SwarmSpawner.get("cpu_guarantee")
    resources = Resources(  # docs/upstream.md S1
        mem_limit=bs.validate(None, mem_limit) if mem_limit else None,
        mem_reservation=bs.validate(None, mem_guarantee) if mem_guarantee else None,
        cpu_limit=int(cpu_limit * 1e9) if cpu_limit else None,
        cpu_reservation=int(cpu_guarantee * 1e9) if cpu_guarantee else None,
    )
    placement = dict(constraints=None, preferences=None, platforms=None)
    placement.update(c.SwarmSpawner.get("extra_placement_spec", {}))
    network = c.SwarmSpawner.get("network_name", "")
    task = TaskTemplate(  # docs/upstream.md S1
        container_spec=container_spec,
        resources=resources,
        networks=[network] if network else [],
        placement=Placement(**placement),
    )
    endpoint = {}
    if not c.SwarmSpawner.get("use_internal_ip", False):
        endpoint["ports"] = {None: (8888, "tcp")}
    endpoint.update(c.SwarmSpawner.get("extra_endpoint_spec", {}))  # docs/upstream.md S1
    client.create_service(task_template=task, endpoint_spec=EndpointSpec(**endpoint), name=service_name)

    # Wait as camphub's spawner does (camphub_spawner.py's start_object): its own Watch decides
    # when the swarm has given up on the task, found it no seat, or has no worker ready.
    sp = spawner_module(req["spawner_module"])
    # the generated settings: the loaded config's, or (a real hub calling in) camphub.json's
    s = cfg_ns["s"] if cfg_ns else hub_module().load_settings()
    watch = sp.Watch(bs.validate(None, mem_guarantee) if mem_guarantee else None, cpu_guarantee,
                     class_hours=s.get("class_hours", ""), workers_from=s.get("workers_from", ""))
    deadline = time.monotonic() + req.get("timeout", 120)
    state, status, task, reason = "none", {}, None, None
    while time.monotonic() < deadline:
        tasks = sorted(client.tasks(filters={"service": service_name}), key=lambda t: t["CreatedAt"])
        running = [t for t in tasks if t["Status"]["State"] == "running"]
        task = (running or tasks or [None])[0]
        if task is not None:
            status = task["Status"]
            state = status["State"]
        workers = None
        if not running:  # as CampSwarmSpawner.start_object asks
            workers = sp.ready(client.nodes(filters={"node.label": s["worker_label"], "role": "worker"}))
        try:
            if watch.check(tasks, time.monotonic(), workers):
                break
        except RuntimeError as e:
            reason = str(e)
            break
        time.sleep(0.5)
    node = ""
    if task is not None and task.get("NodeID"):
        node = client.inspect_node(task["NodeID"])["Status"]["Addr"]
    return {
        "service": service_name,
        "escaped": escaped,
        "state": state,
        "error": reason or status.get("Err", ""),
        "node": node,
        "mounts": [{"source": m["Source"], "target": m["Target"], "read_only": m.get("ReadOnly", False)} for m in mounts],
        "args": list(cmd),
    }


def spawner_module(path):
    """camphub_spawner.py, imported with dockerspawner replaced by a bare stand-in: only its
    Watch (and first_failure) is used here, and that needs nothing of dockerspawner."""
    import importlib.util
    import types

    stub = types.ModuleType("dockerspawner")
    stub.SwarmSpawner = object
    sys.modules.setdefault("dockerspawner", stub)
    spec = importlib.util.spec_from_file_location("camphub_spawner", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    c, ns = load(sys.argv[1])
    req = json.load(sys.stdin)
    op = req["op"]
    if op == "traits":
        out = {cls: {k: plain(v) for k, v in traits.items()} for cls, traits in c.items()}
    elif op == "escape":
        from escapism import escape

        safe = set(string.ascii_lowercase + string.digits)
        out = []
        for n in req["names"]:
            escaped, service, _ = names(c, n)
            out.append({"name": n, "escaped": escaped, "service": service,
                        "default": escape(n, safe, escape_char="-").lower()})
    elif op == "make_home":
        escaped = escaper(c)(req["user"])
        home = os.path.join(req["homes"], escaped)
        hub_module().make_home(home, ns["s"]["uid"], ns["s"]["gid"])
        hub_module().record_name(req["homes"], escaped, req["user"])
        out = {"home": home}
    elif op == "hook":
        # The config's own pre_spawn_hook on HOMES=homes; fault "timeout" makes the file server
        # hang past a short HOME_TIMEOUT (the hook must give up, not wait).
        # the config's hook function (camphub_hub.home_hook), on HOMES=homes
        s = ns["s"]
        kw = {}
        if req.get("fault") == "timeout":
            kw = {"timeout": 0.5, "make": lambda home, uid, gid, slots: time.sleep(3)}
        hook = hub_module().home_hook(req["homes"], ns["COURSE"], s["uid"], s["gid"], s["probe_prefix"], **kw)
        spawner = Spawner(c, req["user"], False)
        started = time.monotonic()
        try:
            asyncio.run(hook(spawner))
            out = {"error": "", "seconds": time.monotonic() - started}
        except Exception as e:
            out = {"error": str(e), "seconds": time.monotonic() - started}
    elif op == "spec":
        out = spawn(c, ns, req)
    else:
        raise SystemExit("unknown op %r" % op)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
