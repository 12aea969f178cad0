"""tasker-cluster: local multi-instance cluster lifecycle manager and test harness."""

__version__ = "0.1.0"
