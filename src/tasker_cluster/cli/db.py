"""Placeholder: filled in by its issue."""

import typer

app = typer.Typer(help="Manage the project's PostgreSQL database.", no_args_is_help=True)
