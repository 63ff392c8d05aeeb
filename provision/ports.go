package provision

// The cluster's fixed ports, the one place each is written: the security groups
// (components.IngressRules), the units' and scripts' arguments (the templates' Paths) and the
// check of camphub:hubPort (ReservedPorts) all read them here.
const (
	SSHPort = 22
	NFSPort = 2049
	// SwarmPort is the swarm's management port (to managers); SwarmGossipPort (tcp and udp) and
	// SwarmVXLANPort (udp, the overlay's data) are between every two nodes.
	SwarmPort       = 2377
	SwarmGossipPort = 7946
	SwarmVXLANPort  = 4789
	// HubAPIPort is the hub container's API on the overlay network (notebooks and the proxy).
	HubAPIPort = 8081
	// ProxyAPIPort is the proxy container's REST API (the hub adds and removes routes there).
	ProxyAPIPort = 8001
)

// ReservedPorts are the ports the cluster uses for itself, by what uses them: the public hub
// port may be none of them.
var ReservedPorts = map[int]string{
	SSHPort:         "SSH",
	NFSPort:         "NFS",
	SwarmPort:       "swarm management",
	SwarmGossipPort: "swarm gossip",
	SwarmVXLANPort:  "swarm overlay",
	HubAPIPort:      "the hub's internal API",
	ProxyAPIPort:    "the proxy's API",
}
