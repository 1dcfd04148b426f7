"""`ftbot train`, `worker`, `runs`, `cancel`: training runs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from ftbot.cli.app import Context, app, console, err, friendly_errors

if TYPE_CHECKING:
    from ftbot.storage.runs import RunSummary


@app.command()
def train(
    resume: Annotated[
        bool,
        typer.Option(
            "--resume/--fresh",
            help="Continue from the checkpoint an interrupted run of the same data and settings left, or start over.",
        ),
    ] = True,
) -> None:
    """Train a new adapter now (foreground); it becomes active if it beats the active version."""
    with friendly_errors():
        ctx = Context()
        if not train_in_foreground(ctx, resume):
            raise typer.Exit(1)


def train_in_foreground(ctx: Context, resume: bool = True) -> bool:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

    from ftbot.storage.runs import RunAlreadyPending, RunCancelled
    from trainer.distributed import accelerator_for
    from trainer.pipeline import run_training

    # Under `accelerate launch` every process trains; the main process alone speaks.
    main = accelerator_for(ctx.settings.device).is_main_process
    out = console if main else Console(quiet=True)
    errors = err if main else Console(stderr=True, quiet=True)

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[loss]}"),
    )
    with Progress(*columns, console=out) as bar:
        tasks: dict[str, TaskID] = {}

        def on_progress(phase: str, done: int, total: int, loss: float | None) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total, loss="")
            bar.update(tasks[phase], completed=done, total=total, loss=f"loss {loss:.3f}" if loss is not None else "")

        try:
            outcome = run_training(ctx.settings, ctx.db, on_progress, resume=resume)
        except RunAlreadyPending as pending:
            errors.print(f"[red]error:[/red] {pending}; `ftbot runs` shows it, `ftbot cancel` stops it")
            return False
        except RunCancelled as cancelled:
            errors.print(f"[yellow]cancelled:[/yellow] {cancelled}; nothing was promoted")
            return False
        except Exception as error:  # the run is recorded as failed; say why in one line
            logging.getLogger(__name__).exception("training failed")
            errors.print(f"[red]training failed:[/red] {type(error).__name__}: {error}")
            return False
    m = outcome.metrics
    verdict = "promoted to active" if outcome.promoted else f"not promoted (active {m['active_version']} is better)"
    active_loss = f", active {m['active_val_loss']:.4f}" if m["active_val_loss"] is not None else ""
    val_loss = f"{m['val_loss']:.4f}" if m["val_loss"] is not None else "n/a"
    resumed = f" (continued from step {m['resumed_at_step']} of an interrupted run)" if m["resumed_at_step"] else ""
    out.print(
        f"version {outcome.version}: {verdict}{resumed}\n"
        f"val loss {val_loss}{active_loss}; {m['train_examples']} examples, {m['steps']} steps, "
        f"{m['tokens_per_second']} tokens/s, {m['train_seconds']} s on {m['device']}"
    )
    return True


@app.command()
def worker(
    schedule: Annotated[
        bool, typer.Option("--schedule/--no-schedule", help="Also keep the retraining schedule (one replica leads).")
    ] = True,
    poll: Annotated[float, typer.Option(help="Seconds between looks at the queue while idle.")] = 2.0,
) -> None:
    """Train queued runs (from /finetune or the schedule) until Ctrl-C; a GPU host runs only this."""
    with friendly_errors():
        import threading

        from trainer.distributed import accelerator_for
        from trainer.schedule import RetrainScheduler
        from trainer.worker import Worker

        ctx = Context()
        # Under `accelerate launch` every process trains; the main process alone keeps the schedule and speaks.
        main = accelerator_for(ctx.settings.device).is_main_process
        out = console if main else Console(quiet=True)
        scheduler = RetrainScheduler(ctx.settings, ctx.db) if schedule and main else None
        training = Worker(ctx.settings, ctx.db, on_finished=lambda summary: out.print(_run_line(summary)))
        out.print(f"worker {training.worker_id} is waiting for runs (Ctrl-C stops it)")
        if scheduler is not None:
            role = "this process runs it" if scheduler.is_leader else "another replica runs it; this one stands by"
            out.print(f"retraining schedule {scheduler.describe()} ({role})")
        try:
            training.run_forever(threading.Event(), poll_seconds=poll)
        except KeyboardInterrupt:
            out.print("worker stopped")
        finally:
            if scheduler is not None:
                scheduler.close()


@app.command("runs")
def list_runs(limit: Annotated[int, typer.Option(help="How many runs to show.")] = 10) -> None:
    """Recent training runs, newest first: state, progress, outcome."""
    with friendly_errors():
        from ftbot.storage.runs import history

        ctx = Context()
        with ctx.db.session() as s:
            recent = history(s, limit)
        if not recent:
            console.print("no training runs yet (`ftbot train`, or `/finetune start` in Slack)")
            return
        table = Table("run", "status", "trigger", "created (UTC)", "steps", "val loss", "version", "note")
        for column in table.columns[:2]:
            column.no_wrap = True  # a narrow terminal folds the note, never the run's id or state
        for r in recent:
            val_loss = r.metrics.get("val_loss")
            table.add_row(
                f"#{r.run_id}",
                r.status,
                r.trigger,
                f"{r.created_at:%Y-%m-%d %H:%M}",
                f"{r.step}/{r.total_steps}" if r.total_steps else "-",
                f"{val_loss:.4f}" if isinstance(val_loss, float) else "-",
                r.version or "-",
                _run_note(r),
            )
        console.print(table)


@app.command()
def cancel() -> None:
    """Cancel the queued or running run; a running one stops after its current step and nothing is promoted."""
    with friendly_errors():
        from ftbot.storage.runs import request_cancel

        ctx = Context()
        with ctx.db.session() as s:
            run = request_cancel(s)
            state = (run.id, run.status) if run else None
        if state is None:
            err.print("nothing to cancel: no run is queued or running")
            raise typer.Exit(1)
        run_id, status_now = state
        if status_now == "cancelled":
            console.print(f"run #{run_id} cancelled before it started")
        elif status_now == "failed":
            console.print(f"run #{run_id} had already stopped (its worker process is gone): failed, nothing promoted")
        else:
            console.print(f"run #{run_id} is stopping: it ends after its current step, and nothing is promoted")


def _run_note(run: RunSummary) -> str:
    if run.status == "succeeded":
        return "promoted" if run.promoted else "not promoted"
    if run.status == "running":
        eta = f"about {run.eta_seconds / 60:.0f} min left" if run.eta_seconds is not None else "starting"
        return f"{eta}, cancelling" if run.cancel_requested else eta
    return run.error or ""


def _run_line(run: RunSummary) -> str:
    version = f", version {run.version}" if run.version else ""
    return f"run #{run.run_id} {run.status}{version}: {_run_note(run)}"
