"""tasker-cluster: local multi-instance cluster lifecycle manager and test harness.

Layers, each importing only those below it (README, "Architecture"): `cli` parses a command line and maps errors to
exit codes; `cluster` starts, stops and observes instances; `config` turns config/cluster.toml and .env into one
ClusterConfig; `proc` is the OS (PID records, spawning, process groups, probes, ports); `db` runs the local
PostgreSQL; `ui` writes every line the user sees; `project` and `errors` are shared by all.

Records on the way of start, stop and status are NamedTuples, not dataclasses: importing `dataclasses` (and the
`inspect` it pulls in) costs more CPU than status-quick's own work (bench/README.md, "NamedTuples").
"""

__version__ = "0.1.0"
