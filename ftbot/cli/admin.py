"""`ftbot status`, `models`, `rollback`, `feedback`, `forget`: what an admin looks at and decides."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from ftbot.cli.app import Context, app, console, err, friendly_errors
from ftbot.cli.ingest import open_vault


@app.command()
def status() -> None:
    """What is stored, the active model, and the last training run."""
    with friendly_errors():
        from ftbot.storage.queries import store_counts
        from ftbot.storage.versions import active_version

        ctx = Context()
        with ctx.db.session() as s:
            stored = store_counts(s)
            active, last, counts = active_version(s), stored.last_run, stored.records_by_kind
            console.print(f"home: {ctx.settings.home_dir}\ndatabase: {_redact(ctx.db.url)}")
            console.print(
                f"sources: {stored.sources}; records: {sum(counts.values())} {counts or ''}; answers: {stored.answers}"
            )
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
    with friendly_errors():
        from ftbot.storage.versions import list_versions

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
    with friendly_errors():
        from ftbot.storage.versions import RegistryError
        from ftbot.storage.versions import rollback as do_rollback

        ctx = Context()
        try:
            with ctx.db.session() as s:
                target = do_rollback(s, version)
                console.print(f"active model is now {target.name}")
        except RegistryError as error:
            err.print(f"[red]error:[/red] {error}")
            raise typer.Exit(1) from None


@app.command()
def feedback(limit: Annotated[int, typer.Option(help="How many answers to show.")] = 20) -> None:
    """Answers people voted on: 👍 ones are trained on; 👎 ones without a correction wait for review."""
    with friendly_errors():
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
def forget(
    values: Annotated[
        list[str] | None,
        typer.Argument(
            help="Emails, phone numbers, names or Slack user ids to erase everywhere; `-` reads one per line from "
            "stdin (kept out of the shell history and the process list)."
        ),
    ] = None,
    exact: Annotated[
        bool, typer.Option("--exact", help="A full name only: not the rows that use the first or last name alone.")
    ] = False,
    expired: Annotated[
        bool, typer.Option("--expired", help="Erase what is past its retention_days now (the worker does hourly).")
    ] = False,
) -> None:
    """Erase personal data: every record, answer, vote and training example that held it; retrain without it."""
    with friendly_errors():
        from ftbot.erasure import apply_retention, describe, queue_retrain_after_erasure
        from ftbot.erasure import forget as erase_values

        if values == ["-"]:
            values = [line.strip() for line in sys.stdin if line.strip()]
        if not values and not expired:
            raise ValueError("name a value to forget (ftbot forget jana@example.com), or pass --expired")
        ctx = Context()
        vault = open_vault(ctx.settings)
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
