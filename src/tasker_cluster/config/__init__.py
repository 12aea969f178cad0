"""config/cluster.toml and .env -> the cluster's configuration: instances, ports, commands, the database."""
