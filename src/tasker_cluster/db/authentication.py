"""pg_hba.conf of the local server: who may connect, over what, proving it how.

Every connection, over TCP on loopback or over the unix socket, must give its role's password (scram-sha-256);
nothing else matches, so everything else (replication included) is refused. Files without our first line were
written by initdb with `trust` (this project before passwords) and are converted by `cluster db up`.
"""

from __future__ import annotations

from pathlib import Path

HBA_FILE = "pg_hba.conf"
MARKER = "# Written by tasker-cluster: every connection must give its role's password (scram-sha-256)."
METHOD = "scram-sha-256"
_RULES = (
    ("local", "all", "all", "", METHOD),
    ("host", "all", "all", "127.0.0.1/32", METHOD),
    ("host", "all", "all", "::1/128", METHOD),
)


def hba_text() -> str:
    lines = [MARKER, "# TYPE  DATABASE  USER  ADDRESS        METHOD"]
    lines += [
        f"{kind:<7} {database:<9} {user:<5} {address:<14} {method}" for kind, database, user, address, method in _RULES
    ]
    return "\n".join(lines) + "\n"


def requires_passwords(data_dir: Path) -> bool:
    """True when the folder's pg_hba.conf is ours; False for initdb's (trust) or a missing one."""
    try:
        with (data_dir / HBA_FILE).open(encoding="utf-8") as handle:
            return handle.readline().rstrip("\n") == MARKER
    except (FileNotFoundError, PermissionError):
        return False


def write_hba(data_dir: Path) -> Path:
    path = data_dir / HBA_FILE
    path.write_text(hba_text(), encoding="utf-8")
    return path
