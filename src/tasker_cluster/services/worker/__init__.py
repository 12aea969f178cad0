"""The worker: runs the steps of the namespaces it serves."""
