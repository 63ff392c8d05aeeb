#!/usr/bin/python3
"""The rehearsal image's start-notebook.py: what docker-stacks' script of the same name does
under JupyterHub, written for this image (docs/upstream.md, "Notebook image").

docker-stacks (images/base-notebook/start-notebook.py and start-singleuser.py): when JupyterHub
started the container (JUPYTERHUB_API_TOKEN is set), it runs `jupyterhub-singleuser` with
NOTEBOOK_ARGS split as a shell would, then its own arguments; otherwise `jupyter lab`. The image's
entrypoint is tini, so the server is not PID 1. Here the container already runs as jovyan
(1000:100), which is what docker-stacks' start.sh ends in when started without root.
"""
import os
import shlex
import sys

if "JUPYTERHUB_API_TOKEN" in os.environ:
    command = ["jupyterhub-singleuser"]
else:
    command = ["jupyter", os.environ.get("DOCKER_STACKS_JUPYTER_CMD", "lab")]
command += shlex.split(os.environ.get("NOTEBOOK_ARGS", ""))
command += sys.argv[1:]
print("Executing: " + " ".join(command), flush=True)
os.execvp(command[0], command)
