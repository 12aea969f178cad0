"""The Typer app, built from the declarations in `cli/commands.py`: Typer parses and writes help; a usage error
becomes a ClusterError (exit 2) naming the command's help, so it is printed like every other error.

Each command becomes a Typer callback whose signature is made from its parameters, so Typer sees exactly what an
idiomatic `def command(ctx, as_json: bool = typer.Option(...))` would show it.

No `from __future__ import annotations` here: Typer reads the callbacks' annotations, which must be real objects.
"""

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import typer

from tasker_cluster.cli.commands import APP_HELP, COMMANDS, GROUPS, ROOT
from tasker_cluster.cli.spec import Command, Flag, Param, Positional
from tasker_cluster.errors import ClusterError
from tasker_cluster.project import Project

# `-h` as well as `--help`, on the app, every group and every command (Click passes context settings down).
_CONTEXT = {"help_option_names": ["-h", "--help"]}

# How a parsed command is run: the declared body by default; a test may capture the values instead.
Invoke = Callable[[Command, Project, dict[str, Any]], int]


class CliContext(NamedTuple):
    project: Project
    debug: bool


def run_body(command: Command, project: Project, values: dict[str, Any]) -> int:
    body: Any = command.body()
    return int(body(project, **values))


def build_app(invoke: Invoke = run_body, commands: Sequence[Command] = COMMANDS) -> typer.Typer:
    """The root app with every command and group registered."""
    app = typer.Typer(
        name="cluster",
        help=APP_HELP,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings=_CONTEXT,
    )
    app.callback()(_root_callback())
    groups: dict[str, typer.Typer] = {}
    for command in commands:
        target = app
        if command.group is not None:
            if command.group not in groups:
                groups[command.group] = typer.Typer(help=GROUPS[command.group], no_args_is_help=True)
                app.add_typer(groups[command.group], name=command.group)
            target = groups[command.group]
        target.command(command.name, help=command.help)(_callback(command, invoke))
    return app


def _command_path(argv: Sequence[str]) -> str:
    """`cluster [GROUP] COMMAND` as `argv` names it, for an error Click raised without its context (an option
    missing its value)."""
    words = iter(argv)
    path = ["cluster"]
    takes_value = {name for param in ROOT if not isinstance(param, Flag) for name in param.names}
    for word in words:
        if word in takes_value:
            next(words, None)
        elif not word.startswith("-"):
            group = path[1] if len(path) > 1 else None
            known = {c.name for c in COMMANDS if c.group == group} | (set(GROUPS) if group is None else set())
            if word not in known:
                break
            path.append(word)
            if word not in GROUPS:
                break
    return " ".join(path)


def _root_callback() -> Callable[..., None]:
    def root(ctx: typer.Context, **values: Any) -> None:
        explicit = values["project_dir"]
        ctx.obj = CliContext(project=Project.discover(explicit), debug=values["debug"])

    root = _with_signature(root, ROOT)
    # --version is Typer's alone: eager, it answers before a command is required; it never reaches a body.
    version = inspect.Parameter(
        "version",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(
            False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version, metavar=""
        ),
        annotation=bool,
    )
    signature = root.__signature__  # type: ignore[attr-defined]
    root.__signature__ = signature.replace(parameters=[*signature.parameters.values(), version])  # type: ignore[attr-defined]
    root.__annotations__["version"] = bool
    return root


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"cluster {version('tasker-cluster')}")
        raise typer.Exit(0)


def _callback(command: Command, invoke: Invoke) -> Callable[..., None]:
    def callback(ctx: typer.Context, **values: Any) -> None:
        for param in command.params:
            if isinstance(param, Positional):
                values[param.dest] = values.pop(_name(param))
                if param.many and values[param.dest] is None:
                    values[param.dest] = []
        raise typer.Exit(invoke(command, ctx.obj.project, values))

    callback.__name__ = command.name.replace("-", "_")
    return _with_signature(callback, command.params)


def _with_signature(function: Callable[..., None], params: Sequence[Param]) -> Callable[..., None]:
    parameters = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)]
    parameters += [
        inspect.Parameter(
            _name(param), inspect.Parameter.KEYWORD_ONLY, default=_typer_param(param), annotation=_type(param)
        )
        for param in params
    ]
    function.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    function.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    return function


def _name(param: Param) -> str:
    """The callback's parameter name: Typer shows a positional by it (`NAME...` in help, `{NAME}...` in usage)."""
    if isinstance(param, Positional) and param.metavar.isidentifier():
        return param.metavar
    return param.dest


_METAVARS: dict[type, str] = {int: "N", float: "S", Path: "DIR", str: "TEXT"}


def _type(param: Param) -> Any:
    if isinstance(param, Flag):
        return bool
    if isinstance(param, Positional):
        if param.many:
            return list[str] if param.required else list[str] | None
        return str
    return param.kind if param.default is not None else param.kind | None


def _typer_param(param: Param) -> Any:
    if isinstance(param, Flag):
        names = [f"{param.names[0]}/{param.off[0]}"] if param.off else list(param.names)
        # No type column for a flag ("<bool>" says nothing), so that long help keeps its room.
        return typer.Option(param.default, *names, help=param.help, metavar="")
    if isinstance(param, Positional):
        default = ... if param.required else None
        metavar = None if param.metavar.isidentifier() else param.metavar
        completion = _COMPLETIONS[param.completes] if param.completes else None
        return typer.Argument(default, metavar=metavar, help=param.help, show_default=False, autocompletion=completion)
    options: dict[str, Any] = {"help": param.help, "metavar": param.metavar or _METAVARS[param.kind]}
    if param.min is not None:
        options["min"] = param.min
    if param.envvar is not None:
        options["envvar"] = param.envvar
    return typer.Option(param.default, *param.names, **options)


def _instance_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion: the instance and service names `observe()` knows (configured, then recorded). The root
    callback has not run: the project comes from the command line as parsed so far."""
    from tasker_cluster.cluster.state import observe
    from tasker_cluster.config.load import load_config_leniently
    from tasker_cluster.errors import ClusterError

    try:
        project = Project.discover(ctx.find_root().params.get("project_dir"))
        instances = observe(project, load_config_leniently(project).config, check=False).instances
    except ClusterError:
        return []
    names = [*dict.fromkeys(name for i in instances for name in (i.service, i.name) if name)]
    return [name for name in names if name.startswith(incomplete)]


def _tier_names(incomplete: str) -> list[str]:
    from tasker_cluster.testing.tiers import TIER_CHOICES

    return [tier for tier in TIER_CHOICES if tier.startswith(incomplete)]


_COMPLETIONS: dict[str, Callable[..., list[str]]] = {"instances": _instance_names, "tiers": _tier_names}


def typer_main(argv: Sequence[str]) -> int:
    """Parse `argv` (without the program name) with Typer and run the command; its exit code.

    Raises ClusterError (exit 2) for a usage error: Click's message, and the help that shows the right usage.
    """
    # Typer vendors Click and exports none of its usage errors but BadParameter: they are imported from there.
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    command = typer.main.get_command(build_app())
    _untyped_help(command)
    try:
        return int(command.main(args=list(argv), prog_name="cluster", standalone_mode=False) or 0)
    except NoArgsIsHelpError:
        return 2  # the help is printed already; a missing command stays a usage error
    except UsageError as error:
        raise usage_error(error, argv) from None
    except typer.Abort:
        return 1


def _untyped_help(command: Any) -> None:
    """Blank the type column of every flag and argument in `command`'s help and its subcommands'.

    Typer writes the Python type of each parameter there (`--install-completion <bool>`, `--help <bool>`,
    `NAME... <list[str]>`): nothing a user types. A flag takes no value and an argument's name says what it takes, so
    they show none, as Typer's documentation and Click's own help show them; options with a value keep theirs
    (`--timeout S`). Typer adds the completion options and Click the help option, so they are reached here, after
    the app is built, rather than in their declarations.
    """
    help_option = command.get_help_option(typer.Context(command, help_option_names=_CONTEXT["help_option_names"]))
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.param_type_name == "argument":
            param.display_type_rich = _no_type
    for subcommand in getattr(command, "commands", {}).values():
        _untyped_help(subcommand)


def _no_type(ctx: Any) -> None:
    return None


def usage_error(error: Any, argv: Sequence[str]) -> ClusterError:
    """A Click usage error as `error: <what>` / `  fix: run `<command> --help``, exit 2."""
    message = error.format_message()
    where = error.ctx.command_path if error.ctx is not None else _command_path(argv)
    declared = next((c for c in COMMANDS if " ".join(["cluster", *filter(None, (c.group, c.name))]) == where), None)
    instead = dict(declared.instead if declared is not None else ()).get(getattr(error, "option_name", None) or "")
    return ClusterError(
        f"{message[:1].lower()}{message[1:]}", instead or f"run `{where} --help` for its usage", exit_code=2
    )
