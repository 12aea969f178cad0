"""Every console output: tables, progress lines, log lines."""
