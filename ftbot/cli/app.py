"""The `ftbot` command: parse arguments, call one function, print the result. Heavy imports stay inside.

This module holds what every command shares (the Typer app, the consoles, settings and database per command,
friendly errors); each command lives in the module of its area, imported by ftbot/cli/__init__.py.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from ftbot.config import ConfigError, Settings, load_settings

app = typer.Typer(
    help="ftbot: a Slack bot that learns your company's answers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class Context:
    """Settings and the database, opened once per command."""

    def __init__(self) -> None:
        self.settings: Settings = load_settings()
        configure_logging(self.settings)
        from ftbot.storage.db import Database

        self.db: Database = Database(self.settings.db_url)


def configure_logging(settings: Settings) -> None:
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(settings.logs_dir / "ftbot.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
    for noisy in ("httpx", "sentence_transformers", "presidio-analyzer", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    import os
    import warnings

    # Library deprecation notices are for us, not for the person running ftbot.
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:
        pass


@contextmanager
def friendly_errors() -> Iterator[None]:
    """A wrong setting or input gives one line and a non-zero exit, not a traceback."""
    try:
        yield
    except ConfigError as error:
        err.print(f"[red]configuration error:[/red] {error}")
        raise typer.Exit(2) from None
    except (ValueError, OSError) as error:  # a bad input, a missing file, a port already in use
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None


def main() -> None:
    import signal

    # `docker stop`, systemd and `timeout` send SIGTERM: end as Ctrl-C does, so a training run in progress is
    # recorded as interrupted rather than left "running".
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        app()
    except ConfigError as error:
        err.print(f"[red]configuration error:[/red] {error}")
        sys.exit(2)
