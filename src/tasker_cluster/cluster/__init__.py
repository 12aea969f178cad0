"""What the cluster commands do: start, stop, observe, set up the environment, read logs, export to other engines.
Never prints."""
