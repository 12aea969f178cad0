"""Defaults of the `[database]` table, shared by the validated settings and status-quick's pydantic-free path."""

DEFAULT_MODE = "local"
DEFAULT_PORT = 5433
DEFAULT_NAME = "tasker"
# The seed's arithmetic: 10 services x pool max 30 = 300 connections, plus head-room.
DEFAULT_MAX_CONNECTIONS = 500
