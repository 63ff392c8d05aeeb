// Package rehearsal runs, for real and on this machine, what camphub's machines run: the
// rendered hub configuration in a real JupyterHub behind a real configurable-http-proxy, and the
// swarm steps against real Docker engines, one of them in a network namespace of its own.
// Its tests need root; under CI=true a missing tool fails them instead of skipping them.
package rehearsal
