"""The project's own exception type: every expected failure carries what went wrong and how to fix it."""


class ClusterError(Exception):
    """An expected failure. The CLI prints `message` and `fix` and exits with `exit_code`, never a traceback."""

    exit_code: int = 1

    def __init__(self, message: str, fix: str = "", *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.fix}" if self.fix else self.message


class ConfigError(ClusterError):
    """Bad configuration (topology, .env, templates): exit code 2, like a usage error."""

    exit_code = 2
