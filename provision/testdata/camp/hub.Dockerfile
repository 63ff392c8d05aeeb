# camphub hub image: JupyterHub, plus the Google authenticator, the swarm spawner and the idle
# culler, all pinned. The proxy runs from its own image (camphub-proxy.service).
FROM quay.io/jupyterhub/jupyterhub:5.5.1
RUN python3 -m pip install --no-cache-dir \
    oauthenticator==17.4.0 \
    dockerspawner==14.0.0 \
    jupyterhub-idle-culler==2.0.0 \
    && python3 -m pip check
WORKDIR /srv/jupyterhub
EXPOSE 8081
CMD ["jupyterhub", "-f", "/srv/jupyterhub/jupyterhub_config.py"]
