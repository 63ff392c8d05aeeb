# camphub hub image: JupyterHub with its proxy, plus the Google authenticator, the swarm spawner
# and the idle culler, all pinned.
FROM quay.io/jupyterhub/jupyterhub:5.5.0
RUN python3 -m pip install --no-cache-dir \
    oauthenticator==17.4.0 \
    dockerspawner==14.0.0 \
    jupyterhub-idle-culler==2.0.0 \
    && python3 -m pip check
WORKDIR /srv/jupyterhub
EXPOSE 8443
CMD ["jupyterhub", "-f", "/srv/jupyterhub/jupyterhub_config.py"]
