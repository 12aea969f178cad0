"""Who runs the server: the invoking user, or the `postgres` system user when the CLI runs as root.

initdb and pg_ctl refuse to run as root, so as root every server command goes through `runuser -u postgres`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from tasker_cluster.errors import ClusterError

SERVER_USER_AS_ROOT = "postgres"
_RUNUSER_FALLBACKS = ("/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser")


def running_as_root() -> bool:
    return os.geteuid() == 0


def _runuser() -> str:
    found = shutil.which("runuser")
    if found:
        return found
    for candidate in _RUNUSER_FALLBACKS:
        if os.access(candidate, os.X_OK):
            return candidate
    raise ClusterError(
        "running as root, but `runuser` (util-linux) is missing, so the server cannot run as `postgres`",
        "install util-linux, or run the command as a normal user",
    )


def server_account() -> pwd.struct_passwd:
    """The account the server runs as; as root it must be the `postgres` system user."""
    if not running_as_root():
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(SERVER_USER_AS_ROOT)
    except KeyError:
        raise ClusterError(
            "running as root, but there is no `postgres` system user to run the server as",
            "install the distribution's `postgresql` package (it creates the user), or run as a normal user",
        ) from None


def as_server_user(argv: list[str]) -> list[str]:
    """argv prefixed so that it runs as the server's account."""
    if not running_as_root():
        return argv
    return [_runuser(), "-u", SERVER_USER_AS_ROOT, "--", *argv]


def server_user_can_reach(folder: Path) -> bool:
    """True when the server's account can traverse `folder` and every parent (checked by the kernel, not mode bits,
    so ACLs and group membership count)."""
    if not running_as_root():
        return os.access(folder, os.X_OK)
    test = shutil.which("test") or "/usr/bin/test"
    result = subprocess.run(as_server_user([test, "-x", str(folder)]), capture_output=True, timeout=10)
    return result.returncode == 0


def give_to_server_user(path: Path) -> None:
    """Hand a folder this process created to the server's account (postgres requires it to own its data folder)."""
    if running_as_root():
        account = server_account()
        os.chown(path, account.pw_uid, account.pw_gid)
