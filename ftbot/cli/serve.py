"""`ftbot serve`: the Slack bot, the training worker and the retraining scheduler, composed side by side."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from ftbot.cli.app import Context, app, console, friendly_errors
from ftbot.config import Settings
from ftbot.storage.db import Database

if TYPE_CHECKING:
    from bot.serve import RunningBot, ServeOptions
    from ftbot.answering.answer import Answerer


@app.command()
def serve(
    http: Annotated[
        bool, typer.Option("--http", help="Serve Slack's Events API over HTTP (else Socket Mode).")
    ] = False,
    host: Annotated[str, typer.Option(help="Address to listen on with --http.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port to listen on with --http.")] = 3000,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker", help="Train queued runs in this process (a GPU host runs `ftbot worker`)."
        ),
    ] = True,
    schedule: Annotated[
        bool,
        typer.Option("--schedule/--no-schedule", help="Keep the weekly retraining schedule (off with a CronJob)."),
    ] = True,
) -> None:
    """Run the Slack bot: Socket Mode with SLACK_APP_TOKEN, HTTP with --http, or the local Slack stand-in."""
    with friendly_errors():
        from bot.serve import ServeOptions

        ctx = Context()
        console.print("loading the models ...")
        options = ServeOptions(http=http, host=host, port=port)
        with running_service(ctx.settings, ctx.db, options, console.print, worker=worker, schedule=schedule) as running:
            try:
                running.transport.serve_forever()
            except KeyboardInterrupt:
                console.print("Stopping.")


@contextmanager
def running_service(
    settings: Settings,
    db: Database,
    options: ServeOptions,
    say: Callable[[str], None] = print,
    answerer: Answerer | None = None,
    *,
    worker: bool = True,
    schedule: bool = True,
) -> Iterator[RunningBot]:
    """The bot on its transport, with the training worker (`worker`) and the weekly scheduler (`schedule`) beside it.

    The bot and the trainer never import each other: they meet here and in the database. The worker trains
    queued runs and tells the bot's announcer how each ended; without a worker here (a GPU host runs
    `ftbot worker`), the scheduler's leader replica announces the runs that end elsewhere.
    """
    from bot.serve import running_bot
    from trainer.schedule import RetrainScheduler
    from trainer.worker import Worker

    with ExitStack() as stack:
        scheduler = RetrainScheduler(settings, db) if schedule else None
        if scheduler is not None:
            stack.callback(scheduler.close)
        running = stack.enter_context(running_bot(settings, db, options, say, answerer, schedule=scheduler))
        if worker:
            stop = threading.Event()
            trainer = Worker(settings, db, on_finished=running.bot.announcer)
            thread = threading.Thread(target=trainer.run_forever, args=(stop,), name="ftbot-worker", daemon=True)
            thread.start()
            stack.callback(thread.join, 5)
            stack.callback(stop.set)
        elif scheduler is not None:  # runs are trained elsewhere: announce them when they end
            running.bot.follow_finished_runs(lambda: scheduler.is_leader)
        yield running
