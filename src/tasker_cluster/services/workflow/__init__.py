"""Task templates (DAGs of named steps) and the step handlers they name."""
