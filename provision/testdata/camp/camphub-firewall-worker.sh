#!/usr/bin/env bash
# camphub-firewall (worker): keep this node's containers off the cluster. Installed by camphub
# as /usr/local/sbin/camphub-firewall and run by camphub-firewall.service before Docker starts
# (and again whenever Docker restarts). Safe to run again: it rebuilds its own chains only.
#   Forwarded traffic from containers (chain DOCKER-USER, which Docker never flushes): DNS to
#   the VPC resolver is allowed; the metadata service and every other link-local address, and
#   the whole VPC (10.42.0.0/16: NFS, swarm, SSH, Docker API of every node) are dropped; the
#   internet is allowed. Notebooks reach the hub over the overlay network, whose packets the host
#   itself sends (VXLAN, IPsec), so these rules leave it alone.
#   Traffic from containers to this node itself (chain INPUT, from Docker's bridges): dropped.
set -euo pipefail
ipt() { iptables -w 10 "$@"; }
# jump CHAIN RULE...: make RULE (a jump) the first rule of CHAIN, once.
jump() {
  local from=$1
  shift
  ipt -C "$from" "$@" 2>/dev/null || ipt -I "$from" 1 "$@"
}

# camphub's chains, replaced in one commit (declaring a chain empties it): never a moment with
# half a rule set. DOCKER-USER is Docker's (made here if Docker has not run yet), never emptied.
ipt -N DOCKER-USER 2>/dev/null || true
iptables-restore -w 10 --noflush <<'RULES'
*filter
:CAMPHUB-CONTAINERS - [0:0]
:CAMPHUB-NODE - [0:0]
-A CAMPHUB-CONTAINERS -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
-A CAMPHUB-CONTAINERS -d 10.42.0.2/32 -p udp -m udp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 10.42.0.2/32 -p tcp -m tcp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 169.254.169.253/32 -p udp -m udp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 169.254.169.253/32 -p tcp -m tcp --dport 53 -j RETURN
-A CAMPHUB-CONTAINERS -d 169.254.0.0/16 -j DROP
-A CAMPHUB-CONTAINERS -d 10.42.0.0/16 -j DROP
-A CAMPHUB-NODE -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
-A CAMPHUB-NODE -j DROP
COMMIT
RULES
jump DOCKER-USER -j CAMPHUB-CONTAINERS
for bridge in docker0 docker_gwbridge br-+; do
  jump INPUT -i "$bridge" -j CAMPHUB-NODE
done
