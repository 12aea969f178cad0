"""The orchestration: the HTTP API for tasks, and the consumer that advances tasks as step results arrive."""
