"""The local server's two passwords, kept in a libpq password file inside its data folder.

The file lives and dies with the server it opens: a copied or moved data folder keeps working, a removed one takes
its passwords along. It is mode 0600, owned by the server's account (the data folder around it is 0700), so only
that account and root can read it; libpq itself reads it (`PGPASSFILE=...` or `passfile=` in a URL), which is why it
uses the pgpass format (https://www.postgresql.org/docs/15/libpq-pgpass.html). Free of psycopg: status-quick reads it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

SUPERUSER = "postgres"
# The role the services connect as: it owns the project's database and PGMQ's schema, and is no superuser.
APP_ROLE = "tasker"
PASSWORD_FILE = "tasker_cluster.pgpass"
# 32 random bytes; URL-safe characters need no escaping in a URL or in the pgpass format.
_PASSWORD_BYTES = 32


class Credentials(NamedTuple):
    superuser_password: str
    app_password: str

    def password_of(self, role: str) -> str:
        return self.superuser_password if role == SUPERUSER else self.app_password


def password_file(data_dir: Path) -> Path:
    return data_dir / PASSWORD_FILE


def generate_credentials() -> Credentials:
    import secrets  # here: status-quick imports this module to read the file, and never generates

    return Credentials(secrets.token_urlsafe(_PASSWORD_BYTES), secrets.token_urlsafe(_PASSWORD_BYTES))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def _unescape(value: str) -> str:
    out, chars = [], iter(value)
    for char in chars:
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)


def read_credentials(data_dir: Path) -> Credentials | None:
    """The passwords `db up` generated for this data folder; None when it has none (never created, or created with
    trust auth by a version before passwords)."""
    try:
        text = password_file(data_dir).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or line.count(":") < 4:
            continue
        # Our lines match any host, port and database: `*:*:*:role:password`.
        _host, _port, _database, role, password = line.split(":", 4)
        found[_unescape(role)] = _unescape(password)
    if SUPERUSER not in found or APP_ROLE not in found:
        return None
    return Credentials(found[SUPERUSER], found[APP_ROLE])


def write_credentials(data_dir: Path, credentials: Credentials) -> Path:
    """Write the password file, 0600 from its first byte (never readable by others, not even for a moment)."""
    path = password_file(data_dir)
    lines = ["# Written by tasker-cluster's `cluster db up`: the passwords of this server's roles."]
    lines += [f"*:*:*:{role}:{_escape(credentials.password_of(role))}" for role in (SUPERUSER, APP_ROLE)]
    temporary = path.with_name(f".{PASSWORD_FILE}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(temporary, path)
    return path
