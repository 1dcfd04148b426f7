"""The `ftbot` command line. Importing the command modules registers their commands on the one Typer app, in the
order `ftbot --help` lists them."""

from ftbot.cli import ingest, train, ask, admin, serve  # noqa: F401, I001  (registers the commands, in order)
from ftbot.cli.app import app, main

__all__ = ["app", "main"]
