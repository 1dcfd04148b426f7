"""The `ftbot` command: parse arguments, call one function, print the result. Heavy imports stay inside."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ftbot.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from bot.answer import Answerer, AnswerResult
    from ftbot.storage.db import Database
    from trainer.runs import RunSummary

app = typer.Typer(
    help="ftbot: a Slack bot that learns your company's answers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
DEMO_INPUTS = ("handbook", "faq.csv", "support_faq.md", "support_transcripts.jsonl")
DEMO_QUESTIONS = (
    "How many vacation days do full-time employees get?",
    "Where do I report a lost laptop?",
    "How much is the yearly learning budget?",
    "What does the Business plan cost per month?",
    "What is the capital of Australia?",
)


# Skipped items printed per source; a first backfill can skip thousands of chatter messages.
SKIPS_SHOWN = 50


class Context:
    """Settings and the database, opened once per command."""

    def __init__(self) -> None:
        self.settings: Settings = load_settings()
        _configure_logging(self.settings)
        from ftbot.storage.db import Database

        self.db: Database = Database(self.settings.db_url)


def _configure_logging(settings: Settings) -> None:
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
def _friendly_errors() -> Iterator[None]:
    """A wrong setting or input gives one line and a non-zero exit, not a traceback."""
    try:
        yield
    except ConfigError as error:
        err.print(f"[red]configuration error:[/red] {error}")
        raise typer.Exit(2) from None
    except (ValueError, OSError) as error:  # a bad input, a missing file, a port already in use
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders; none: sync the sources in ftbot.toml.")
    ] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Sync only this configured source (repeatable).")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Re-read sources whole, removing what was deleted upstream.")
    ] = False,
) -> None:
    """Ingest files and folders, or sync the configured sources: anonymize, store. Nothing unchanged is redone."""
    from ftbot.memory import return_freed_memory

    return_freed_memory()  # ingest only: it slows generation (see ftbot/memory.py)
    with _friendly_errors():
        if paths:
            missing = [str(p) for p in paths if not p.exists()]
            if missing:
                raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
            if not _ingest(Context(), paths):
                raise typer.Exit(1)
            return
        if not _sync_sources(Context(), source or [], full=full):
            raise typer.Exit(1)


def _ingest(ctx: Context, paths: list[Path]) -> bool:
    from connectors.ingest import Ingestor

    vault = _vault(ctx.settings)  # first: a missing key should not wait for the models to load
    anonymizer, embedder = _ingest_models(ctx)
    ingestor = Ingestor(ctx.db, anonymizer, embedder, vault=vault, keys=ctx.settings.personal_keys())
    with console.status("ingesting..."):
        report = ingestor.ingest(paths)
    for skipped in report.skipped:
        console.print(f"[yellow]skipped[/yellow] {skipped.where}: {skipped.reason}")
    console.print(
        f"files: {report.files_seen} seen = {report.files_stored} stored + {report.files_unchanged} unchanged"
        f" + {report.files_skipped} skipped\n"
        f"records: {report.records_seen} seen = {report.records_stored} stored + {report.records_skipped} skipped"
    )
    _keep_retention(ctx, vault)
    return report.reconciles


def _keep_retention(ctx: Context, vault: Any) -> None:
    """After an ingest, what is past its retention_days goes (the worker also checks hourly)."""
    from ftbot.erasure import apply_retention, describe

    report = apply_retention(ctx.settings, ctx.db, vault=vault)
    if report is not None:
        console.print("retention: " + describe(report))


def _sync_sources(ctx: Context, names: list[str], *, full: bool) -> bool:
    """Sync each configured source (or the named ones); False when any of them stopped with an error."""
    from connectors.base import SourceUnavailable
    from connectors.registry import build_connector
    from connectors.sync import SourceSync

    configured = {config.name: config for config in ctx.settings.sources}
    if not configured:
        raise ValueError("no paths given and no [[sources]] in ftbot.toml (see README: Sources)")
    unknown = [name for name in names if name not in configured]
    if unknown:
        raise ValueError(f"no source named {', '.join(unknown)} in ftbot.toml (configured: {', '.join(configured)})")
    vault = _vault(ctx.settings)
    anonymizer, embedder = _ingest_models(ctx)
    syncer, ok = SourceSync(ctx.db, anonymizer, embedder, vault=vault, keys=ctx.settings.personal_keys()), True
    for name in names or list(configured):
        try:
            connector = build_connector(configured[name], ctx.settings)
        except SourceUnavailable as error:
            err.print(f"[red]{name}:[/red] {error}")
            ok = False
            continue
        with console.status(f"syncing {name}..."):
            report = syncer.run(name, connector, full=full)
        for skipped in report.skipped[:SKIPS_SHOWN]:
            console.print(f"[yellow]skipped[/yellow] {name} {skipped.where}: {skipped.reason}")
        if len(report.skipped) > SKIPS_SHOWN:
            console.print(f"… and {len(report.skipped) - SKIPS_SHOWN} more skipped (every one is in logs/ftbot.log)")
        mode = "full" if report.full else "incremental"
        console.print(
            f"{name} ({connector.kind}, {mode}): {report.records_seen} seen = {report.records_stored} stored"
            f" + {report.records_unchanged} unchanged + {report.records_skipped} skipped;"
            f" {report.records_deleted} deleted"
        )
        if report.error:
            err.print(f"[red]{name} stopped:[/red] {report.error} (the next sync resumes from here)")
        ok = ok and report.error is None and report.reconciles
    _keep_retention(ctx, vault)
    return ok


def _ingest_models(ctx: Context) -> tuple[Any, Any]:
    """The anonymizer (with the Slack member directory's names when Slack is connected) and the embedder."""
    from connectors.anonymize import Anonymizer
    from ftbot.retrieval import Embedder

    with console.status("loading the anonymizer and embedding model..."):
        anonymizer = Anonymizer(
            spacy_model=ctx.settings.spacy_model,
            allow_list=ctx.settings.allow_list,
            known_names=_directory_names(ctx.settings),
        )
        return anonymizer, Embedder(ctx.settings.embedding_model)


def _vault(settings: Settings) -> Any:
    """The pseudonym vault in reversible mode, else None (and no vault file is created)."""
    from connectors.pseudonym_vault import VaultKeyError, vault_for

    try:
        return vault_for(settings)
    except VaultKeyError as error:
        raise ConfigError(str(error)) from None


def _directory_names(settings: Settings) -> list[str]:
    """Names from Slack's member directory, when a Slack source is configured and a token is set."""
    from ftbot.config import SlackSourceConfig

    if settings.slack_bot_token is None or not any(isinstance(s, SlackSourceConfig) for s in settings.sources):
        return []
    from connectors.slack_directory import directory_names
    from connectors.slack_history import slack_client

    return directory_names(slack_client(settings))


@app.command()
def sources() -> None:
    """The configured sources with their last sync: when, how many records, what was skipped, any error."""
    with _friendly_errors():
        from sqlalchemy import select

        from ftbot.records import source_uri
        from ftbot.storage.models import Source

        ctx = Context()
        if not ctx.settings.sources:
            console.print("no [[sources]] in ftbot.toml; `ftbot ingest PATH` ingests files directly")
            return
        table = Table("source", "type", "last sync (UTC)", "records", "skipped", "cursor", "status")
        errors = []
        with ctx.db.session() as s:
            for config in ctx.settings.sources:
                row = s.scalar(select(Source).where(Source.uri == source_uri(config.name)))
                if row is None:
                    table.add_row(config.name, config.type, "never", "", "", "", "")
                    continue
                if row.last_error:
                    errors.append(f"[red]{config.name}:[/red] {row.last_error}")
                table.add_row(
                    config.name,
                    config.type,
                    f"{row.last_synced_at:%Y-%m-%d %H:%M}",
                    str(row.record_count),
                    str(row.skipped_count),
                    "yes" if row.cursor else "",
                    "stopped early" if row.last_error else "ok",
                )
        console.print(table)
        for line in errors:  # below the table: an error message is too long for a column
            console.print(line)


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
    with _friendly_errors():
        ctx = Context()
        if not _train(ctx, resume):
            raise typer.Exit(1)


def _train(ctx: Context, resume: bool = True) -> bool:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

    from trainer.distributed import accelerator_for
    from trainer.pipeline import run_training
    from trainer.runs import RunAlreadyPending, RunCancelled

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
    with _friendly_errors():
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
    with _friendly_errors():
        from trainer.runs import history

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
    with _friendly_errors():
        from trainer.runs import request_cancel

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


@app.command()
def ask(
    question: Annotated[list[str], typer.Argument(help="The question, or - to read one per line from stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Answer questions with the active model and retrieval; prints each answer and its sources."""
    with _friendly_errors():
        ctx = Context()
        questions = _questions(question)
        answerer = _answerer(ctx)
        for text in questions:
            _print_answer(answerer.answer(text), as_json)


def _questions(words: list[str]) -> Iterator[str]:
    if words == ["-"]:
        return (line.strip() for line in sys.stdin if line.strip())
    return iter([" ".join(words)])


def _answerer(ctx: Context, **options: Any) -> Answerer:
    from bot.answer import Answerer

    with console.status("loading models..."):
        return Answerer(ctx.settings, ctx.db, **options)


def _print_answer(result: AnswerResult, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "question": result.question,
                    "answer": result.answer,
                    "sources": result.sources,
                    "model_version": result.model_version,
                    "latency_ms": round(result.latency_ms, 1),
                }
            ),
            flush=True,
        )
        return
    console.print(f"[bold]Q:[/bold] {result.question}")
    console.print(f"[bold]A:[/bold] {result.answer}")
    sources = ", ".join(result.sources) if result.sources else "none"
    console.print(f"[dim]sources: {sources} · model {result.model_version} · {result.latency_ms:.0f} ms[/dim]\n")


@app.command("eval")
def evaluate(
    file: Annotated[
        Path, typer.Argument(help='JSONL lines of {"question", "must": [regex, ...]} or {"question", "expected"}')
    ],
    baseline: Annotated[bool, typer.Option(help="Also score the base model, with and without retrieval.")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print every answer.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object with every score.")] = False,
) -> None:
    """Accuracy on the same questions and retrieval: the tuned version, the base model with retrieval (no
    adapter) and the base model alone; and retrieval recall (the key facts were in the context)."""
    with _friendly_errors():
        from trainer.evaluate import read_eval_file

        ctx = Context()
        items = list(read_eval_file(file))
        modes = {"tuned + retrieval": {"use_adapter": True, "use_retrieval": True}}
        if baseline:
            modes["base + retrieval"] = {"use_adapter": False, "use_retrieval": True}
            modes["base, no retrieval"] = {"use_adapter": False, "use_retrieval": False}
        rows = [_score(ctx, items, label, verbose and not as_json, **options) for label, options in modes.items()]
        if as_json:
            print(json.dumps({"file": str(file), "questions": len(items), "scores": rows}, indent=2))
            return
        title = f"{file.name}: {len(items)} questions"
        table = Table("", "accuracy", "right", "retrieval recall", "model", title=title)
        for row in rows:
            recall = row["retrieval_recall"]
            table.add_row(
                row["mode"],
                f"{row['accuracy']:.1%}",
                f"{row['right']}/{len(items)}",
                "-" if recall is None else f"{recall:.1%}",
                row["model"],
            )
        console.print(table)


def _score(ctx: Context, items: list, label: str, verbose: bool, **options: bool) -> dict[str, Any]:
    from trainer.evaluate import Graded, accuracy, evaluate, retrieval_recall

    answerer = _answerer(ctx, store=False, **options)

    def answer(question: str) -> tuple[str, list[str] | None]:
        result = answerer.answer(question)
        return result.answer, (result.contexts if options["use_retrieval"] else None)

    def show(graded: Graded) -> None:
        if verbose:
            mark = "[green]✓[/green]" if graded.correct else "[red]✗[/red]"
            found = {None: "", True: " [dim](fact in context)[/dim]", False: " [dim](fact not in context)[/dim]"}
            console.print(f"{mark} {label}: {graded.item.question} → {graded.answer}{found[graded.fact_in_context]}")
            console.print(f"   [dim]key facts: {graded.item.key_facts}[/dim]")

    with console.status(f"evaluating {label} ({answerer.generator.version})..."):
        graded = evaluate(items, answer, show)
    return {
        "mode": label,
        "model": answerer.generator.version,
        "accuracy": accuracy(graded),
        "right": sum(g.correct for g in graded),
        "retrieval_recall": retrieval_recall(graded),
        "answers": [
            {"question": g.item.question, "answer": g.answer, "correct": g.correct, "in_context": g.fact_in_context}
            for g in graded
        ],
    }


@app.command()
def status() -> None:
    """What is stored, the active model, and the last training run."""
    with _friendly_errors():
        from sqlalchemy import func, select

        from ftbot.storage.models import Answer, Record, Source, TrainingRun
        from trainer.registry import active_version

        ctx = Context()
        with ctx.db.session() as s:
            counts = {kind: n for kind, n in s.execute(select(Record.kind, func.count()).group_by(Record.kind))}
            sources = s.scalar(select(func.count()).select_from(Source))
            answers = s.scalar(select(func.count()).select_from(Answer))
            active = active_version(s)
            last = s.scalar(select(TrainingRun).order_by(TrainingRun.id.desc()).limit(1))
            console.print(f"home: {ctx.settings.home_dir}\ndatabase: {_redact(ctx.db.url)}")
            console.print(f"sources: {sources}; records: {sum(counts.values())} {counts or ''}; answers: {answers}")
            console.print(f"active model: {active.name if active else 'none (base model)'}")
            if last:
                progress = f" step {last.step}/{last.total_steps}" if last.status == "running" else ""
                error = f": {last.error}" if last.error else ""
                console.print(f"last run: #{last.id} {last.status}{progress}{error}")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def models() -> None:
    """Model versions with their metrics; the active one is marked."""
    with _friendly_errors():
        from trainer.registry import list_versions

        ctx = Context()
        table = Table("version", "active", "answers right", "val loss", "examples", "created", "dataset", "erasure")
        with ctx.db.session() as s:
            for v in list_versions(s):
                loss = v.metrics.get("val_loss")
                answers = v.metrics.get("answers") or {}
                table.add_row(
                    v.name,
                    "●" if v.is_active else "",
                    _answers_cell(answers),
                    f"{loss:.4f}" if loss is not None else "-",
                    str(v.metrics.get("train_examples", "-")),
                    f"{v.created_at:%Y-%m-%d %H:%M}",
                    v.dataset_hash[:12],
                    _erasure_cell(v),
                )
        console.print(table)


def _erasure_cell(version: Any) -> str:
    """Whether the version was trained on data erased since, and whether its adapter is gone."""
    if version.trained_on_erased_at is None:
        return ""
    state = "adapter deleted" if version.adapter_deleted_at else "adapter deleted after the retrain"
    return f"trained on erased data ({state})"


def _answers_cell(answers: dict[str, Any]) -> str:
    """The gate's scores: the version's, then base+retrieval's ("78% (base 61%, 40 q)")."""
    if not answers.get("questions"):
        return "-"
    return f"{answers['candidate']:.0%} (base {answers['base']:.0%}, {answers['questions']} q)"


@app.command()
def rollback(
    version: Annotated[str | None, typer.Argument(help="Version to activate; default: the previous.")] = None,
) -> None:
    """Make an earlier version active again."""
    with _friendly_errors():
        from trainer.registry import RegistryError
        from trainer.registry import rollback as do_rollback

        ctx = Context()
        try:
            with ctx.db.session() as s:
                target = do_rollback(s, version)
                console.print(f"active model is now {target.name}")
        except RegistryError as error:
            err.print(f"[red]error:[/red] {error}")
            raise typer.Exit(1) from None


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
    with _friendly_errors():
        from bot.serve import ServeOptions
        from bot.serve import serve as serve_bot

        ctx = Context()
        console.print("loading the models ...")
        serve_bot(
            ctx.settings,
            ctx.db,
            ServeOptions(http=http, host=host, port=port, worker=worker, scheduler=schedule),
            console.print,
        )


@app.command()
def forget(
    values: Annotated[
        list[str] | None,
        typer.Argument(help="Emails, phone numbers, names or Slack user ids to erase everywhere."),
    ] = None,
    exact: Annotated[
        bool, typer.Option("--exact", help="A full name only: not the rows that use the first or last name alone.")
    ] = False,
    expired: Annotated[
        bool, typer.Option("--expired", help="Erase what is past its retention_days now (the worker does hourly).")
    ] = False,
) -> None:
    """Erase personal data: every record, answer, vote and training example that held it; retrain without it."""
    with _friendly_errors():
        from ftbot.erasure import apply_retention, describe
        from ftbot.erasure import forget as erase_values
        from trainer.worker import queue_retrain_after_erasure

        if not values and not expired:
            raise ValueError("name a value to forget (ftbot forget jana@example.com), or pass --expired")
        ctx = Context()
        vault = _vault(ctx.settings)
        if values:
            report = erase_values(ctx.settings, ctx.db, values, requested_by="cli", vault=vault, name_parts=not exact)
            console.print(describe(report))
        if expired:
            expired_report = apply_retention(ctx.settings, ctx.db, vault=vault)
            console.print(describe(expired_report) if expired_report else "nothing is past its retention")
        run_id = queue_retrain_after_erasure(ctx.db)
        if run_id is not None:
            console.print(
                f"retrain queued as run #{run_id}: the worker trains it, or run `ftbot train`; until it finishes "
                "the active version keeps answering"
            )


@app.command()
def feedback(limit: Annotated[int, typer.Option(help="How many answers to show.")] = 20) -> None:
    """Answers people voted on: 👍 ones are trained on; 👎 ones without a correction wait for review."""
    with _friendly_errors():
        from ftbot.storage.queries import voted_answers

        ctx = Context()
        with ctx.db.session() as s:
            votes = voted_answers(s)[:limit]
        if not votes:
            console.print("no feedback yet: people vote with 👍/👎 on the bot's answers in Slack")
            return
        table = Table("answer", "score", "used in training", "question", "answer given", "reasons")
        for v in votes:
            use = "correction" if v.corrected else ("yes (weighted)" if v.score > 0 else "no: needs review")
            table.add_row(f"#{v.answer_id}", f"{v.score:+d}", use, v.question, v.answer, "; ".join(v.reasons))
        console.print(table)


@app.command()
def demo(examples: Annotated[Path, typer.Option(help="The demo company's data.")] = EXAMPLES_DIR) -> None:
    """Ingest the bundled fictional company, train, and answer a few questions."""
    with _friendly_errors():
        ctx = Context()
        console.rule("1. ingest (anonymized at the boundary)")
        _ingest(ctx, [examples / name for name in DEMO_INPUTS])
        console.rule("2. train a LoRA adapter")
        if not _train(ctx):
            raise typer.Exit(1)
        console.rule("3. ask")
        answerer = _answerer(ctx)
        for question in DEMO_QUESTIONS:
            _print_answer(answerer.answer(question, channel="demo"), as_json=False)
        console.rule("4. in Slack (the local Slack stand-in)")
        from bot.local_demo import slack_scene

        slack_scene(ctx.settings, ctx.db, answerer, list(DEMO_QUESTIONS[:2]), console.print)
        console.print("\nTalk to the bot yourself: [bold]make serve[/bold], then open http://127.0.0.1:3999/")


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


if __name__ == "__main__":
    main()
