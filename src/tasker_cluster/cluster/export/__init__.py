"""`cluster export compose|kubernetes`: the validated configuration as files another engine runs.

Every exporter maps the same things: one named instance per local instance (same names and indexes), the service's
base port as the container port, probes from `health_path` / `ready_path` / `startup_timeout`, a graceful stop from
`stop_grace`, and the placeholders of `command` and `env` (`placeholders`). What cannot be mapped is refused with
an `ExportError` naming the key and the fix, before any file is written.
"""
