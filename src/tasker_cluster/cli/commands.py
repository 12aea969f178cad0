"""Every command of `cluster`, declared once: name, help, parameters, body (see `cli/spec.py`).

The database is part of the cluster: started before the instances, shown first, stopped on `stop --with-db`.
"""

from __future__ import annotations

from pathlib import Path

from tasker_cluster.cli.spec import Command, Flag, Positional, Value

APP_HELP = "Run, inspect and test a local multi-instance cluster."
GROUPS = {
    "db": "Manage the project's PostgreSQL database.",
    "export": "Write the configuration as files for another engine (compose, Kubernetes).",
}

ROOT = (
    Value(
        "project_dir",
        ("--project-dir",),
        Path,
        "Project folder (default: the nearest with config/cluster.toml).",
        envvar="TASKER_PROJECT_DIR",
    ),
    Flag("debug", ("--debug",), "Print a traceback for unexpected errors."),
)

_RESTART_COUNTS = (
    "restart takes no counts: it restarts what runs, an extra instance by its name (`cluster restart worker-a-3`); "
    "to change how many run, use `cluster start-all {flag} N`"
)
_JSON = Flag("as_json", ("--json",), "Print JSON instead of a table.")
_START = (
    Flag("wait", ("--wait",), "Wait until every instance answers its ready path.", default=True, off=("--no-wait",)),
    Value(
        "timeout",
        ("--timeout",),
        float,
        "Seconds to wait for readiness (default: each service's startup_timeout).",
        min=0.1,
    ),
    Value(
        "orchestration",
        ("--orchestration",),
        int,
        "Orchestration instances (beats TASKER_ORCHESTRATION_INSTANCES and .env).",
        min=0,
    ),
    Value(
        "workers",
        ("--workers",),
        int,
        "Worker instances, split over the worker types (beats TASKER_WORKER_INSTANCES).",
        min=0,
    ),
)
_EXPORT = (
    Value("output", ("--output", "-o"), Path, "Folder to write into (default: deploy/<engine> in the project)."),
    Value(
        "image",
        ("--image",),
        str,
        "The services' image (built from the repository's Containerfile).",
        default="localhost/tasker-cluster:latest",
        metavar="IMAGE",
    ),
    *_START[2:],
)
_YES_EXTERNAL = Flag("yes", ("--yes", "-y"), "Also stop an external DATABASE_URL server (loopback only).")

COMMANDS = (
    Command(
        "setup-env",
        "Write .env (URLs, counts, DATABASE_URL) and config/generated/<instance>.toml; keeps your own keys.",
        "env:setup_env",
        (
            Value(
                "orchestration",
                ("--orchestration",),
                int,
                "Orchestration instances (default: .env, then the topology file).",
                min=0,
            ),
            Value("workers", ("--workers",), int, "Worker instances, split over the worker types in order.", min=0),
        ),
    ),
    Command(
        "config",
        "Print the resolved topology: every instance, port, command and env key, and where each count comes from.",
        "env:config",
        (
            _JSON,
            Value("orchestration", ("--orchestration",), int, "Orchestration instances, as start-all takes it.", min=0),
            Value("workers", ("--workers",), int, "Worker instances, as start-all takes it.", min=0),
        ),
    ),
    Command(
        "start-all",
        "Start every configured instance that is not running, then show the cluster's status.",
        "start:start_all",
        _START,
        fast=True,
    ),
    Command(
        "start",
        "Start the named instances unless they are running.",
        "start:start",
        (
            Positional(
                "names",
                "NAME",
                "Instance names (orchestration-1) or service names (worker-a).",
                many=True,
                required=True,
                completes="instances",
            ),
            *_START,
        ),
        fast=True,
    ),
    Command(
        "status",
        "Query the database and probe every instance's health and ready paths; exit 0 only when all are healthy.",
        "status:status",
        (
            _JSON,
            Value("timeout", ("--timeout",), float, "Seconds for all health probes together.", 2.0, min=0.05),
            Flag("watch", ("--watch",), "Refresh the table until Ctrl-C, highlighting what changed."),
            Value("interval", ("--interval",), float, "Seconds between refreshes with --watch.", 2.0, min=0.1),
        ),
        fast=True,
    ),
    Command(
        "status-quick",
        "Process states from PID files alone, no network; exit 0 only when all are running.",
        "status:status_quick",
        (_JSON,),
        fast=True,
    ),
    Command(
        "stop",
        "SIGTERM each instance's process group, SIGKILL what outlives the grace period, remove PID files.",
        "stop:stop",
        (
            Positional(
                "names",
                "NAME",
                "Instance or service names (default: every running one).",
                many=True,
                completes="instances",
            ),
            Value(
                "timeout",
                ("--timeout",),
                float,
                "Seconds between SIGTERM and SIGKILL (default: each service's stop_grace); 0 kills at once, as "
                "`docker compose stop -t 0`.",
                min=0.0,
            ),
            Flag("with_db", ("--with-db",), "Then stop the project's local PostgreSQL too."),
            Flag("yes", ("--yes", "-y"), "With --with-db: also stop an external DATABASE_URL server (loopback only)."),
        ),
        fast=True,
    ),
    Command(
        "restart",
        "Stop, then start the named instances (default: all) and wait until each is ready; --rolling: one at a time.",
        "restart:restart",
        (
            Positional(
                "names",
                "NAME",
                "Instance or service names (default: every configured instance and every running extra one).",
                many=True,
                completes="instances",
            ),
            Flag(
                "rolling",
                ("--rolling",),
                "One instance at a time, orchestration first, each ready before the next is stopped: with 2 or more "
                "orchestration instances the API keeps answering. Ends at the first instance that fails.",
            ),
            Value(
                "timeout",
                ("--timeout",),
                float,
                "Seconds to wait for each start's readiness (default: each service's startup_timeout).",
                min=0.1,
            ),
            Value(
                "grace",
                ("--grace",),
                float,
                "Seconds between SIGTERM and SIGKILL (default: each service's stop_grace); 0 kills at once, as "
                "`docker compose stop -t 0`.",
                min=0.0,
            ),
        ),
        # Counts say how many instances run, which start-all settles (as `docker compose up --scale`, not
        # `restart`); restart restarts what runs, an extra instance by its name.
        instead=tuple((flag, _RESTART_COUNTS.format(flag=flag)) for flag in ("--workers", "--orchestration")),
    ),
    Command(
        "logs",
        "Show instance logs behind an instance prefix; -f follows them and picks up logs that appear later.",
        "logs:logs",
        (
            Positional("names", "NAME", "Instances or services (default: all).", many=True, completes="instances"),
            Flag("orchestration", ("--orchestration",), "Orchestration instances only."),
            Flag("workers", ("--workers",), "Worker instances only."),
            Flag("follow", ("--follow", "-f"), "Keep printing new lines until Ctrl-C."),
            Value(
                "lines",
                ("--lines", "-n"),
                int,
                "Lines to show from the end of each log, reaching into rotated files (default: 20; with --since: all).",
                min=0,
            ),
            Value(
                "since",
                ("--since",),
                str,
                "Only lines written since then: a duration back from now (30s, 10m, 2h, 1d) or a local time "
                "(2026-11-29T10:00:00).",
                metavar="WHEN",
            ),
            Value(
                "grep",
                ("--grep",),
                str,
                "Only lines matching this regular expression (Python syntax), also with -f.",
                metavar="PATTERN",
            ),
            Flag("timestamps", ("--timestamps", "-t"), "Prefix each line with the time it was written (ms)."),
        ),
    ),
    Command(
        "up",
        "Start the project's PostgreSQL (initdb on first use), install PGMQ, record DATABASE_URL in .env.",
        "db:up",
        group="db",
    ),
    Command(
        "down",
        "Stop the local server: fast shutdown, immediate after a grace period. External servers need --yes.",
        "db:down",
        (_YES_EXTERNAL,),
        group="db",
    ),
    Command(
        "status",
        "Running?, pid, port, version, data folder, size, connections, PGMQ version and queue depths; exit 0 only "
        "when the server runs and answers, 1 otherwise (stopped, unreachable, or no database configured).",
        "db:status",
        (Flag("as_json", ("--json",), "Print one JSON object instead of a table."),),
        group="db",
    ),
    Command(
        "url",
        "Print the DATABASE_URL the cluster uses (external, or the local server's), password included for scripts.",
        "db:url",
        (Flag("masked", ("--masked",), "Show the password as *** (for display, logs, screenshots)."),),
        group="db",
    ),
    Command(
        "reset",
        "Drop and recreate the database with PGMQ: every task, step and queue message is lost.",
        "db:reset",
        (Flag("yes", ("--yes", "-y"), "Do not ask; required for an external DATABASE_URL."),),
        group="db",
    ),
    Command(
        "compose",
        "compose.yaml (one service per instance, PostgreSQL, probes, graceful stop) and its .env.",
        "export:compose",
        (
            *_EXPORT,
            Value(
                "database_image",
                ("--database-image",),
                str,
                "PostgreSQL image taking the official image's settings.",
                default="docker.io/library/postgres:17",
                metavar="IMAGE",
            ),
        ),
        group="export",
    ),
    Command(
        "kubernetes",
        "<service>.yaml per service (StatefulSet, headless Service, orchestration's Service) and cluster.env.",
        "export:kubernetes",
        (
            *_EXPORT,
            Value(
                "database_secret",
                ("--database-secret",),
                str,
                "The Secret holding the database URL (never inlined).",
                default="tasker-database",
                metavar="NAME",
            ),
            Value(
                "database_secret_key",
                ("--database-secret-key",),
                str,
                "Its key (`uri` for a CloudNativePG application Secret).",
                default="DATABASE_URL",
                metavar="KEY",
            ),
        ),
        group="export",
    ),
    Command(
        "test",
        "Run the test suite up to TIER with pytest and print a summary per tier.",
        "testing:test",
        (
            Positional(
                "tier",
                "TIER",
                "unit | db | messaging | services | cluster (each includes the ones before it, unless --only) | "
                "compose (the cluster tier on a podman-compose deployment) | all (every tier, then the cluster tier on "
                "compose)",
                required=True,
                completes="tiers",
            ),
            Positional("pytest_args", "[-- PYTEST_ARGS...]", "Passed to pytest as is, after `--`.", many=True),
            Value(
                "workers",
                ("--workers", "-n"),
                int,
                "xdist workers below the cluster tier (default: one per core).",
                min=0,
            ),
            Flag("only", ("--only",), "Run TIER alone, not the tiers below it."),
            Flag("keep", ("--keep",), "Leave a cluster the tests started running afterwards."),
            Flag(
                "running",
                ("--running",),
                "Run the cluster tier against your running cluster (TASKER_TEST_ORCHESTRATION_URLS, from "
                "`cluster setup-env`), writing tasks into its database; fault scenarios then need `-- --allow-faults`. "
                "Default: a throwaway cluster on free ports, stopped at the end.",
            ),
            Value(
                "env_file",
                ("--env-file",),
                Path,
                "Set the variables FILE holds for this run only, over the environment: a deployment's test.env from "
                "`cluster export` (its TASKER_TEST_* URLs, DATABASE_URL) with --running.",
                metavar="FILE",
            ),
            Value(
                "report_dir", ("--report-dir",), Path, "Keep the JUnit XML reports here (default: a temporary folder)."
            ),
        ),
    ),
)
