"""config/cluster.toml and .env -> one ClusterConfig, by named steps (see `load.py`); read once per command."""
