"""What the cluster commands do: start, stop, observe, set up the environment, read logs. Never prints."""
