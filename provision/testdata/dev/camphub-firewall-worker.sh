#!/usr/bin/env bash
# camphub-firewall (worker): keep this node's containers off the cluster. Installed by camphub
# as /usr/local/sbin/camphub-firewall and run by docker.service before the engine starts, at
# boot and at every restart (ExecStartPre): if it fails, Docker does not start and no container
# runs unfiltered. Safe to run again: it rebuilds its own chains only.
#   Packets from containers (chain CAMPHUB-CONTAINERS of the mangle table, jumped to first
#   thing in PREROUTING from Docker's bridges, before any routing or filter rule; Docker never
#   touches that chain, unlike FORWARD, where it puts its own rules ahead of DOCKER-USER while it
#   starts): DNS to the VPC resolver is allowed; the metadata service and every other link-local
#   address, and the whole VPC (10.42.0.0/16: NFS, swarm, SSH, Docker API of every node) are
#   dropped; the internet is allowed. Notebooks reach the hub over the overlay network, whose
#   packets the host itself sends (VXLAN, IPsec), so these rules leave it alone.
#   Traffic from containers to this node itself (chain CAMPHUB-NODE, from INPUT): dropped.
#   IPv6: containers have no IPv6 network; whatever they send over it (link-local too) is
#   dropped the same way.
set -euo pipefail
# first COMMAND TABLE CHAIN RULE...: make RULE (a jump) the first rule of TABLE's CHAIN, once.
first() {
  local cmd=$1 table=$2 chain=$3
  shift 3
  "$cmd" -w 10 -t "$table" -C "$chain" "$@" 2>/dev/null || "$cmd" -w 10 -t "$table" -I "$chain" 1 "$@"
}

# camphub's chains, replaced in one commit (declaring a chain empties it): never a moment with
# half a rule set.
iptables-restore -w 10 --noflush <<'RULES'
*mangle
:CAMPHUB-CONTAINERS - [0:0]
-A CAMPHUB-CONTAINERS -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
-A CAMPHUB-CONTAINERS -d 10.42.0.2/32 -p udp -m udp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 10.42.0.2/32 -p tcp -m tcp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 169.254.169.253/32 -p udp -m udp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 169.254.169.253/32 -p tcp -m tcp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 169.254.0.0/16 -j DROP
-A CAMPHUB-CONTAINERS -d 10.42.0.0/16 -j DROP
COMMIT
*filter
:CAMPHUB-NODE - [0:0]
-A CAMPHUB-NODE -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
-A CAMPHUB-NODE -j DROP
COMMIT
RULES
for bridge in docker0 docker_gwbridge br-+; do
  first iptables mangle PREROUTING -i "$bridge" -j CAMPHUB-CONTAINERS
  first iptables filter INPUT -i "$bridge" -j CAMPHUB-NODE
  if [ -e /proc/net/if_inet6 ]; then
    first ip6tables mangle PREROUTING -i "$bridge" -j DROP
  fi
done
