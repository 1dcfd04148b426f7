"""From a trained adapter to a version: what the gate weighs it against (the active version, when comparable),
the answer gate's scores, and the version recorded, and promoted if the gate says so, as the run ends.

Only the main process of a launch calls these (through trainer.distributed.on_main).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftbot.config import Settings
from ftbot.erasure import delete_adapters
from ftbot.storage.db import Database
from ftbot.storage.erasure import is_erased, retire_erased
from ftbot.storage.models import ModelVersion
from ftbot.storage.versions import active_version, promote
from trainer.dataset import Dataset
from trainer.gate import ActiveModel, AnswerScores, gate_questions, score_answers
from trainer.tracking import RunTracker


def gate_plan(db: Database, base_model: str, tracker: RunTracker) -> tuple[str | None, str | None, str]:
    """(active version, the adapter to score against, what the gate did)."""
    with db.session() as session:
        active = active_version(session)
        if active is None:
            return None, None, "no active version"
        active_name, active_path, active_base = active.name, active.adapter_path, active.base_model
        adapter = comparable_adapter(active)
    if is_erased(active):
        # It goes whatever this run's verdict (retire_erased): the candidate need only beat base+retrieval.
        return active_name, None, f"skipped: the active version {active_name} was trained on erased data"
    if adapter is None:
        return active_name, None, f"skipped: the active version {active_name} has no adapter at {active_path}"
    if active_base is not None and active_base != base_model:
        # Losses of two base models (two tokenizers) are not comparable: a change of base model is the
        # operator's decision, and its first version is promoted like a first version.
        return active_name, None, f"skipped: the active version {active_name} is on another base model ({active_base})"
    tracker.phase("gate", 0, 1)
    return active_name, active_path, "compared on this run's validation set"


def comparable_adapter(active: ModelVersion) -> Path | None:
    """The active version's adapter when a candidate may be weighed against it: on disk, and not trained on
    erased data (that one goes whatever the verdict, so the candidate need only beat base+retrieval)."""
    path = Path(active.adapter_path) if active.adapter_path else None
    return path if path is not None and path.is_dir() and not is_erased(active) else None


def answer_gate(
    settings: Settings, db: Database, tracker: RunTracker, dataset: Dataset, base_model: str, adapter_dir: Path
) -> AnswerScores | None:
    """The answer gate's scores, or None when there is nothing held out to ask."""
    config = settings.training
    items = gate_questions(dataset, config.eval_file, config.gate_questions)
    if not items:
        return None
    tracker.phase("answers", 0, 1)
    with db.session() as session:
        active = active_version(session)
        adapter = comparable_adapter(active) if active else None
        current = ActiveModel(active.name, active.base_model, adapter) if active and adapter else None
    try:
        scores = score_answers(settings, db, items, base_model, adapter_dir, current)
    except BaseException:
        shutil.rmtree(adapter_dir, ignore_errors=True)  # no version row will point at it
        raise
    tracker.phase("answers", 1, 1)
    return scores


@dataclass(frozen=True)
class NewVersion:
    name: str
    run_id: int
    base_model: str
    adapter_dir: Path
    dataset_hash: str
    metrics: dict[str, Any]
    promoted: bool


def record_version(db: Database, tracker: RunTracker, new: NewVersion) -> None:
    """The adapter's description beside it, then the version, its promotion and the run's end in one transaction."""
    (new.adapter_dir / "ftbot.json").write_text(
        json.dumps(
            {
                "version": new.name,
                "base_model": new.base_model,
                "dataset_hash": new.dataset_hash,
                "metrics": new.metrics,
            },
            indent=2,
        )
    )
    try:
        with db.session() as session:
            # First: a run cancelled or reaped meanwhile raises here, and nothing below is written.
            verdict = "promoted" if new.promoted else "not promoted"
            tracker.finish_succeeded(
                session, f"version {new.name} {verdict}", {**new.metrics, "promoted": new.promoted}
            )
            version = ModelVersion(
                name=new.name,
                run_id=new.run_id,
                base_model=new.base_model,
                adapter_path=str(new.adapter_dir),
                dataset_hash=new.dataset_hash,
                metrics=new.metrics,
            )
            session.add(version)
            if new.promoted:
                promote(session, version)
            # Any run that succeeds trained without erased data (an erasure cancels the run in progress):
            # versions trained on it stop serving now and lose their adapters.
            retired = retire_erased(session)
    except BaseException:
        shutil.rmtree(new.adapter_dir, ignore_errors=True)  # no version row points at it
        raise
    delete_adapters(retired)
