// Package rehearsal runs, for real and on this machine, what camphub's machines run: the
// rendered hub configuration in a real JupyterHub behind configurable-http-proxy as its own
// process, the roster applied to the running hub, and on a two-node swarm of real Docker engines
// (each in a network namespace of its own, iptables on) the spawn path, the firewall and a hub
// replacement. Every stand-in says, where it is made, what the real part does that it hides
// and where that is covered instead. Its tests need root; under CI=true a missing tool fails
// them instead of skipping them.
package rehearsal
