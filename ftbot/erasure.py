"""The right to erasure, end to end: `ftbot forget`, `/finetune forget` and retention all come through here.

What is deleted (ftbot/storage/erasure.py finds it): the records, answers and votes that held the value, the
training examples and dataset lines made from them, their pseudonym-vault entries, the adapters of versions
trained on them that are not serving, and any checkpoint of a run that may have read them. What is kept: an
erasure log entry (kinds of value and counts, never the value), and the active version until a version
trained without the data replaces it: the worker queues that retrain at once (trainer/worker.py), and when
it finishes the marked adapters are deleted whatever its gate says (retire_erased).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from ftbot.config import Settings
from ftbot.records import source_uri
from ftbot.storage.db import Database
from ftbot.storage.erasure import ErasureReport, erase, find_expired, find_values, retrain_needed
from ftbot.storage.runs import RunAlreadyPending, enqueue

log = logging.getLogger(__name__)


class Vault(Protocol):
    """The pseudonym vault as erasure sees it (connectors.anonymize.vault.PseudonymVault)."""

    def delete_records(self, source_uri: str, external_ids: Iterable[str]) -> None: ...


def forget(
    settings: Settings,
    db: Database,
    values: list[str],
    *,
    requested_by: str,
    vault: Vault | None = None,
    name_parts: bool = True,
) -> ErasureReport:
    """Erase every row that held any of `values` (emails, phone numbers, names, Slack user ids)."""
    keys = settings.personal_keys()
    with db.session() as session:
        selection = find_values(session, keys, values, name_parts=name_parts)
        report = erase(
            session, selection, reason="request", requested_by=requested_by, datasets_dir=settings.datasets_dir
        )
    _after_commit(settings, report, vault)
    log.info("erasure by %s: %s", requested_by, report.counts())  # counts only, never the value
    return report


def queue_retrain_after_erasure(db: Database) -> int | None:
    """Queue a run when the active version was trained on erased data and none is pending; its id, or None."""
    with db.session() as session:
        if not retrain_needed(session):
            return None
        # Refused while a run is queued (it builds its dataset after the erasure: it is the retrain) or running
        # (the erasure cancelled it): the worker's loop asks again once that run has ended.
        try:
            run = enqueue(session, trigger="erasure", requested_by="erasure")
        except RunAlreadyPending:
            return None
        log.info("queued run %d: the active version was trained on erased data", run.id)
        return run.id


def apply_retention(settings: Settings, db: Database, *, vault: Vault | None = None) -> ErasureReport | None:
    """Erase what is older than its retention (per source, else settings.retention_days); None if nothing is."""
    per_source = {source_uri(s.name): s.retention_days for s in settings.sources if s.retention_days is not None}
    if not per_source and settings.retention_days is None:
        return None
    with db.session() as session:
        selection = find_expired(session, per_source, settings.retention_days)
        if not selection:
            return None
        report = erase(
            session,
            selection,
            reason="retention",
            requested_by="retention",
            datasets_dir=settings.datasets_dir,
            reach_models=False,
        )
    _after_commit(settings, report, vault)
    log.info("retention: %s", report.counts())
    return report


def _after_commit(settings: Settings, report: ErasureReport, vault: Vault | None) -> None:
    """Files follow the database once it has committed: vault entries, unused adapters, stale checkpoints."""
    if vault is not None:
        by_source: dict[str, list[str]] = {}
        for uri, external_id in report.stored_records:
            by_source.setdefault(uri, []).append(external_id)
        for uri, external_ids in by_source.items():
            vault.delete_records(uri, external_ids)
    delete_adapters(report.adapters_to_delete)
    if report.runs_cancelled or report.versions_marked:
        # A checkpoint holds the weights of a run that may have read the erased rows: it never resumes.
        shutil.rmtree(settings.checkpoints_dir, ignore_errors=True)


def delete_adapters(paths: Iterable[Path]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def describe(report: ErasureReport) -> str:
    """One paragraph for the admin: what went, which versions are marked (counts and names, never the value)."""
    lines = [
        f"erased: {report.records} records, {report.answers} answers, {report.feedback} votes, "
        f"{report.training_examples} training examples ({report.dataset_lines} dataset file lines)"
    ]
    if report.runs_cancelled:
        lines.append("cancelled: run " + ", ".join(f"#{run}" for run in report.runs_cancelled) + " (it read the data)")
    if report.versions_marked:
        lines.append("marked as trained on erased data: " + ", ".join(report.versions_marked))
    if report.adapters_to_delete:
        lines.append(f"adapters deleted: {len(report.adapters_to_delete)}")
    if not (report.records or report.answers or report.feedback):
        lines[0] = "nothing stored held that value (the erasure is logged)"
    return "\n".join(lines)
