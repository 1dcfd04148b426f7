"""`ftbot ingest`, `ftbot sources`: files and configured sources into the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ftbot.cli.app import Context, app, console, err, friendly_errors
from ftbot.config import ConfigError, Settings

# Skipped items printed per source; a first backfill can skip thousands of chatter messages.
SKIPS_SHOWN = 50


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
    with friendly_errors():
        if paths:
            missing = [str(p) for p in paths if not p.exists()]
            if missing:
                raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
            if not ingest_paths(Context(), paths):
                raise typer.Exit(1)
            return
        if not _sync_sources(Context(), source or [], full=full):
            raise typer.Exit(1)


def ingest_paths(ctx: Context, paths: list[Path]) -> bool:
    from connectors.ingest import Ingestor

    vault = open_vault(ctx.settings)  # first: a missing key should not wait for the models to load
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
    vault = open_vault(ctx.settings)
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
    from connectors.anonymize import anonymizer_for
    from ftbot.retrieval import Embedder

    with console.status("loading the anonymizer and embedding model..."):
        anonymizer = anonymizer_for(ctx.settings, known_names=_directory_names(ctx.settings))
        return anonymizer, Embedder(ctx.settings.embedding_model)


def open_vault(settings: Settings) -> Any:
    """The pseudonym vault in reversible mode, else None (and no vault file is created)."""
    from connectors.anonymize.vault import VaultKeyError, vault_for

    try:
        return vault_for(settings)
    except VaultKeyError as error:
        raise ConfigError(str(error)) from None


def _directory_names(settings: Settings) -> list[str]:
    """Names from Slack's member directory, when a Slack source is configured and a token is set."""
    from ftbot.source_config import SlackSourceConfig

    if settings.slack_bot_token is None or not any(isinstance(s, SlackSourceConfig) for s in settings.sources):
        return []
    from connectors.slack_directory import directory_names
    from connectors.slack_history import slack_client

    return directory_names(slack_client(settings))


@app.command()
def sources() -> None:
    """The configured sources with their last sync: when, how many records, what was skipped, any error."""
    with friendly_errors():
        from ftbot.records import source_uri
        from ftbot.storage.queries import source_by_uri

        ctx = Context()
        if not ctx.settings.sources:
            console.print("no [[sources]] in ftbot.toml; `ftbot ingest PATH` ingests files directly")
            return
        table = Table("source", "type", "last sync (UTC)", "records", "skipped", "cursor", "status")
        errors = []
        with ctx.db.session() as s:
            for config in ctx.settings.sources:
                row = source_by_uri(s, source_uri(config.name))
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
