"""Step 2 of loading: the schema of config/cluster.toml, and one clear error naming file, key and fix per mistake.

Checked by the small rules below rather than by pydantic: the schema is two tables of a few keys, and importing
pydantic costs more CPU than a whole `status-quick` (bench/README.md, "Validation"). Numbers must be TOML numbers, as
pydantic's strict mode wants them: `count = "3"` or `count = true` is a mistake to point out, not a value to guess
at (a whole float such as 2.0 still counts as 2, and a number in `command` is its text). Problems are worded as
pydantic words them, as the README and the tests quote them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from string import Formatter
from typing import Any, NamedTuple

from tasker_cluster.config.model import PROBE_KINDS, DatabaseSpec, LogRotation
from tasker_cluster.config.sources import DEFAULT_TOPOLOGY
from tasker_cluster.errors import ConfigError

PLACEHOLDERS = ("python", "port", "index", "name", "project_dir")
# Ports a service's range may start at: its RANGE_SIZE ports must fit below 65536.
RANGE_SIZE = 10
# The user's file may have no comments (it need not be a copy of the default); the packaged default has them.
DEFAULT_TOPOLOGY_HINT = f"each key is explained in the default topology, {DEFAULT_TOPOLOGY}"
_SERVICE_NAME = r"^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*$"
_REQUIRED: Any = object()

Location = tuple[str | int, ...]
Check = Callable[[Any], Any]


class Invalid(Exception):
    """A value breaks its key's rule; `at` continues the key path into a list index or a table key. `unquoted`:
    the number a quoted value holds ("3" for `"3"`), which the fix then suggests."""

    def __init__(self, message: str, at: Location = (), unquoted: str = "", as_list: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.at = at
        self.unquoted = unquoted
        # A string where an argv list belongs, as the TOML list the fix suggests.
        self.as_list = as_list


class Problem(NamedTuple):
    """One mistake: where (`loc`), which kind ("missing", "unknown", "service-name", "quoted", "invalid" or
    "combination": keys that do not go together), what, for a quoted number the number itself, and for a
    combination its own fix."""

    loc: Location
    kind: str
    message: str
    unquoted: str = ""
    fix: str = ""


class Field(NamedTuple):
    """One key of a table: the rule its value must meet, and its default (none: the key is required)."""

    name: str
    check: Check
    default: Any = _REQUIRED


class ServiceTable(NamedTuple):
    """One `[services.NAME]` table as written, checked. Units: seconds."""

    role: str
    count: int
    base_port: int | None
    command: list[str]
    env: dict[str, str]
    health_path: str
    ready_path: str
    startup_timeout: float
    stop_grace: float
    probe: str
    probe_command: list[str] | None
    probe_timeout: float | None


class ClusterFile(NamedTuple):
    """The whole file, checked: services in file order; the database without its DATABASE_URL yet."""

    database: DatabaseSpec
    services: dict[str, ServiceTable]
    logs: LogRotation


def integer(*, ge: int | None = None, le: int | None = None) -> Check:
    def check(value: Any) -> int:
        _refuse_non_numbers(value, "integer", int)
        if isinstance(value, float):
            if not value.is_integer():
                raise Invalid("Input should be a valid integer, got a number with a fractional part")
            value = int(value)
        return _bounded(value, ge=ge, le=le)

    return check


def number(*, gt: float | None = None) -> Check:
    def check(value: Any) -> float:
        _refuse_non_numbers(value, "number", float)
        result = float(value)
        if gt is not None and not result > gt:
            raise Invalid(f"Input should be greater than {gt:g}")
        return result

    return check


def string(*, pattern: str | None = None, numbers: bool = False) -> Check:
    """A string; with `numbers`, an integer or float is taken as its text (never a boolean)."""

    def check(value: Any) -> str:
        if numbers and isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise Invalid("Input should be a valid string")
        if pattern is not None and not re.search(pattern, value):
            raise Invalid(f"String should match pattern '{pattern}'")
        return value

    return check


def _refuse_non_numbers(value: Any, kind: str, parse: Callable[[str], object]) -> None:
    """Invalid unless `value` is a TOML integer or float (a boolean is neither, though Python says it is an int)."""
    if isinstance(value, bool):
        raise Invalid(f"Input should be a valid {kind}, not a boolean")
    if isinstance(value, str):
        try:
            parse(value.strip())
        except ValueError:
            raise Invalid(f"Input should be a valid {kind}, not a string") from None
        raise Invalid(f"Input should be a valid {kind}, not a string", unquoted=value.strip())
    if not isinstance(value, int | float):
        raise Invalid(f"Input should be a valid {kind}")


def one_of(*choices: str) -> Check:
    quoted = [f"'{choice}'" for choice in choices]
    described = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else quoted[0]

    def check(value: Any) -> str:
        if value not in choices or not isinstance(value, str):
            raise Invalid(f"Input should be {described}")
        return value

    return check


_SIZE_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
_SIZE = re.compile(r"\s*([0-9]+)\s*(B|KiB|MiB|GiB)\s*")


def size(*, ge: int) -> Check:
    """A size in bytes: an integer, or a string of an integer and a unit ("512KiB", "10MiB"; units B, KiB, MiB,
    GiB: powers of 1024)."""

    def check(value: Any) -> int:
        if isinstance(value, str):
            matched = _SIZE.fullmatch(value)
            if matched is None:
                raise Invalid("Input should be a size: a number of bytes or a string like '10MiB' (B, KiB, MiB, GiB)")
            value = int(matched[1]) * _SIZE_UNITS[matched[2]]
        return integer(ge=ge)(value)

    return check


def optional(inner: Check) -> Check:
    return lambda value: None if value is None else inner(value)


def string_list(*, min_length: int = 0) -> Check:
    item = string(numbers=True)

    def check(value: Any) -> list[str]:
        if not isinstance(value, list):
            raise Invalid("Input should be a valid list", as_list=_argv_suggestion(value))
        if len(value) < min_length:
            raise Invalid(f"List should have at least {min_length} item after validation, not {len(value)}")
        return [_at(position, item, element) for position, element in enumerate(value)]

    return check


def _argv_suggestion(value: Any) -> str:
    """A command written as one string, split as a shell would split it, written as a TOML list: for the fix only,
    since a command is never run through a shell. Empty for anything but a string."""
    import json
    import shlex

    if not isinstance(value, str):
        return ""
    try:
        words = shlex.split(value)
    except ValueError:  # an unclosed quote
        words = value.split()
    # A JSON list of strings is a TOML array.
    return json.dumps(words)


def string_table() -> Check:
    item = string(numbers=True)

    def check(value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise Invalid("Input should be a valid dictionary")
        return {key: _at(key, item, element) for key, element in value.items()}

    return check


SERVICE_FIELDS = (
    Field("role", one_of("orchestration", "worker")),
    Field("count", integer(ge=0)),
    Field("base_port", optional(integer(ge=1024, le=65536 - RANGE_SIZE)), None),
    Field("command", string_list(min_length=1)),
    Field("env", string_table(), {}),
    Field("health_path", string(pattern="^/", numbers=True), "/health"),
    Field("ready_path", string(pattern="^/", numbers=True), "/health/ready"),
    Field("startup_timeout", number(gt=0), 30.0),
    Field("stop_grace", number(gt=0), 10.0),
    Field("probe", one_of(*PROBE_KINDS), "http"),
    Field("probe_command", optional(string_list(min_length=1)), None),
    # None: each kind's own default (`proc/probes.attempt_timeout`).
    Field("probe_timeout", optional(number(gt=0)), None),
)
# Keys that mean something for one probe kind only: given with another kind, they would be silently ignored.
_HTTP_ONLY = ("health_path", "ready_path")
# The seed's arithmetic for max_connections: 10 services x pool max 30 = 300 connections, plus head-room.
DATABASE_FIELDS = (
    Field("mode", one_of("local", "none"), "local"),
    Field("port", integer(ge=1024, le=65535), 5433),
    Field("name", string(pattern=r"^[a-z_][a-z0-9_]*$"), "tasker"),
    Field("max_connections", integer(ge=20, le=10000), 500),
)
# A log of a few KiB rotates on almost every line; below that a limit is surely a mistake.
LOGS_FIELDS = (
    Field("max_bytes", size(ge=4096), LogRotation().max_bytes),
    Field("keep", integer(ge=0, le=1000), LogRotation().keep),
)
TOP_LEVEL_KEYS = ("database", "logs", "services")


def check_file(path: Path, document: Mapping[str, Any]) -> ClusterFile:
    """The whole document checked; ConfigError naming `path`, every key at fault and the fix."""
    problems = _unknown_keys((), document, TOP_LEVEL_KEYS)
    database = _database(document, problems)
    logs = _table(("logs",), document.get("logs", {}), LOGS_FIELDS, problems)
    services = _services(document, problems)
    _raise_if_any(path, problems)
    assert database is not None and logs is not None
    for name, table in services.items():
        _check_placeholders(path, name, table)
    return ClusterFile(database, services, LogRotation(**logs))


def check_database(path: Path, document: Mapping[str, Any]) -> DatabaseSpec:
    """The `[database]` table alone (the `db` commands need no more); defaults for what is absent."""
    problems: list[Problem] = []
    database = _database(document, problems)
    _raise_if_any(path, problems)
    assert database is not None
    return database


def _database(document: Mapping[str, Any], problems: list[Problem]) -> DatabaseSpec | None:
    values = _table(("database",), document.get("database", {}), DATABASE_FIELDS, problems)
    return None if values is None else DatabaseSpec(**values)


def _services(document: Mapping[str, Any], problems: list[Problem]) -> dict[str, ServiceTable]:
    if "services" not in document:
        problems.append(Problem(("services",), "missing", "required key missing"))
        return {}
    tables = document["services"]
    if not isinstance(tables, dict):
        problems.append(Problem(("services",), "invalid", "Input should be a valid dictionary"))
        return {}
    if not tables:
        message = "Dictionary should have at least 1 item after validation, not 0"
        problems.append(Problem(("services",), "invalid", message))
    services = {}
    for name, table in tables.items():
        if not re.search(_SERVICE_NAME, name):
            problems.append(
                Problem(("services", name), "service-name", f"String should match pattern '{_SERVICE_NAME}'")
            )
        values = _table(("services", name), table, SERVICE_FIELDS, problems)
        if values is not None:
            found = _probe_combination(name, table, values)
            problems += found
            if not found:
                services[name] = ServiceTable(**values)
    return services


def _probe_combination(name: str, table: Mapping[str, Any], values: Mapping[str, Any]) -> list[Problem]:
    """Problems of the probe keys taken together: `probe_command` is the exec probe's, and required by it; the
    paths are the HTTP probe's; `probe_timeout` times a probe, which "none" never runs."""
    kind, loc = values["probe"], ("services", name)
    if kind == "exec" and values["probe_command"] is None:
        fix = (
            f"add `services.{name}.probe_command`, the check to run as an argv list (exit 0 = ready), e.g. "
            '["{python}", "check.py", "--port", "{port}"]'
        )
        return [Problem((*loc, "probe_command"), "combination", 'required with probe = "exec"', fix=fix)]
    problems = []
    if kind == "none" and values["probe_timeout"] is not None:
        fix = f"remove `services.{name}.probe_timeout`, or set services.{name}.probe to the kind of check to time"
        message = 'only used with a probe, and this service\'s probe is "none"'
        problems.append(Problem((*loc, "probe_timeout"), "combination", message, fix=fix))
    if kind != "exec" and values["probe_command"] is not None:
        fix = f'set services.{name}.probe = "exec" to run it, or remove `services.{name}.probe_command`'
        message = f'only used with probe = "exec", and this service\'s probe is "{kind}"'
        problems.append(Problem((*loc, "probe_command"), "combination", message, fix=fix))
    if kind != "http":
        for key in (key for key in _HTTP_ONLY if key in table):
            fix = f'remove `services.{name}.{key}`, or set services.{name}.probe = "http" to probe it'
            message = f'only used with probe = "http", and this service\'s probe is "{kind}"'
            problems.append(Problem((*loc, key), "combination", message, fix=fix))
    return problems


def _table(loc: Location, table: Any, fields: Sequence[Field], problems: list[Problem]) -> dict[str, Any] | None:
    """The table's values by field, defaults filled in; None (and the problems noted) when any is wrong."""
    if not isinstance(table, dict):
        problems.append(Problem(loc, "invalid", "Input should be a valid dictionary"))
        return None
    found = len(problems)
    values = {}
    for field in fields:
        if field.name not in table:
            if field.default is _REQUIRED:
                problems.append(Problem((*loc, field.name), "missing", "required key missing"))
            values[field.name] = field.default
            continue
        try:
            values[field.name] = field.check(table[field.name])
        except Invalid as invalid:
            kind = "quoted" if invalid.unquoted else "invalid"
            fix = f"write it as a list of arguments: `{field.name} = {invalid.as_list}`" if invalid.as_list else ""
            problems.append(Problem((*loc, field.name, *invalid.at), kind, invalid.message, invalid.unquoted, fix))
    problems += _unknown_keys(loc, table, [field.name for field in fields])
    return values if len(problems) == found else None


def _unknown_keys(loc: Location, table: Mapping[str, Any], accepted: Sequence[str]) -> list[Problem]:
    return [Problem((*loc, key), "unknown", "unknown key") for key in table if key not in accepted]


def _at(key: str | int, check: Check, value: Any) -> Any:
    try:
        return check(value)
    except Invalid as invalid:
        raise Invalid(invalid.message, (key, *invalid.at)) from None


def _bounded(value: int, *, ge: int | None, le: int | None) -> int:
    if ge is not None and value < ge:
        raise Invalid(f"Input should be greater than or equal to {ge}")
    if le is not None and value > le:
        raise Invalid(f"Input should be less than or equal to {le}")
    return value


def _raise_if_any(path: Path, problems: Sequence[Problem]) -> None:
    if not problems:
        return
    lines = [f"{key_path(problem.loc)}: {problem.message}" for problem in problems]
    if len(lines) == 1:
        raise ConfigError(f"{path}: {lines[0]}", _fix_for(problems[0]))
    listed = "\n  ".join(lines)
    raise ConfigError(f"{path} has {len(lines)} problems:\n  {listed}", "correct each key listed above")


def key_path(loc: Location) -> str:
    """("services", "a", "command", 1) -> "services.a.command[1]"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _fix_for(problem: Problem) -> str:
    key = key_path(problem.loc)
    if problem.fix:
        return problem.fix
    if problem.kind == "unknown":
        table = key.rpartition(".")[0] or "the top level"
        return f"remove `{key}` or correct its spelling; {table} accepts: {', '.join(_accepted(problem.loc[:-1]))}"
    if problem.kind == "missing":
        return f"add `{key}` ({DEFAULT_TOPOLOGY_HINT})"
    if problem.kind == "quoted":
        return f"write the number without quotes: `{problem.loc[-1]} = {problem.unquoted}`"
    if problem.kind == "service-name":
        return "name services in lower case letters and digits separated by single dashes, e.g. worker-a"
    return f"correct `{key}` ({DEFAULT_TOPOLOGY_HINT})"


def _accepted(table_loc: Location) -> list[str]:
    if not table_loc:
        return list(TOP_LEVEL_KEYS)
    tables = {("database",): DATABASE_FIELDS, ("logs",): LOGS_FIELDS}
    return [field.name for field in tables.get(table_loc, SERVICE_FIELDS)]


def _check_placeholders(path: Path, name: str, table: ServiceTable) -> None:
    values = [(f"services.{name}.command[{i}]", arg) for i, arg in enumerate(table.command)]
    values += [(f"services.{name}.env.{key}", value) for key, value in table.env.items()]
    values += [(f"services.{name}.probe_command[{i}]", arg) for i, arg in enumerate(table.probe_command or ())]
    for key, value in values:
        _check_template(path, key, value)


def _check_template(path: Path, key: str, template: str) -> None:
    allowed = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    try:
        fields = [field for _, field, _, _ in Formatter().parse(template) if field is not None]
    except ValueError as error:
        raise ConfigError(
            f"{path}: {key}: bad placeholder syntax in {template!r} ({error})",
            f"placeholders are {allowed}; write {{{{ and }}}} for literal braces",
        ) from None
    for field in fields:
        if field not in PLACEHOLDERS:
            raise ConfigError(
                f"{path}: {key}: unknown placeholder {{{field}}} in {template!r}",
                f"use one of {allowed}; write {{{{ and }}}} for literal braces",
            )
