"""pytest plugin: cluster fixtures. Filled in by the harness issue."""
