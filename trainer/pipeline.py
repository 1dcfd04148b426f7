"""One training run end to end: dataset → train → gate against the active version → save → promote."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftbot.config import Settings
from ftbot.retrieval import Embedder, RetrievalIndex
from ftbot.storage.db import Database
from ftbot.storage.models import ModelVersion, TrainingExample, TrainingRun, utcnow
from trainer.dataset import Dataset, DatasetBuilder
from trainer.registry import active_version, promote, should_promote

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int, float | None], None]  # (phase, done, total, loss)


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    version: str
    promoted: bool
    metrics: dict[str, Any]


def run_training(
    settings: Settings, db: Database, progress: Progress | None = None, trigger: str = "cli"
) -> RunOutcome:
    """Train a new adapter now; the run is recorded whether it succeeds or fails (then it re-raises)."""
    with db.session() as session:
        run = TrainingRun(
            status="running",
            trigger=trigger,
            started_at=utcnow(),
            base_model=settings.base_model,
            config=settings.training.model_dump(mode="json"),
        )
        session.add(run)
        session.flush()
        run_id = run.id
    try:
        outcome = _train(settings, db, run_id, progress or (lambda *_: None))
    except BaseException as error:
        with db.session() as session:
            failed = session.get_one(TrainingRun, run_id)
            failed.status = "cancelled" if isinstance(error, KeyboardInterrupt) else "failed"
            failed.error = f"{type(error).__name__}: {error}"
            failed.finished_at = utcnow()
        raise
    return outcome


def _train(settings: Settings, db: Database, run_id: int, progress: Progress) -> RunOutcome:
    from ftbot.llm import load_base_model, load_tokenizer, pick_device
    from trainer.lora import evaluate_loss, save_adapter, train_lora, val_batches_for

    config = settings.training
    # 1. Data: every stored record becomes an example whose prompt looks like answering time.
    progress("dataset", 0, 1, None)
    dataset = build_dataset(settings, db)
    if all(e.origin == "refusal" for e in dataset.examples):
        raise ValueError("nothing to train on: ingest Q&A files or documents first (ftbot ingest PATH)")
    _save_dataset(settings, db, run_id, dataset)
    progress("dataset", 1, 1, None)

    # 2. Model.
    device = pick_device(settings.device)
    tokenizer = load_tokenizer(settings.base_model, settings.cache_dir)
    model = load_base_model(settings.base_model, settings.cache_dir, device)

    # 3. Train.
    def on_step(step: int, total: int, loss: float) -> None:
        progress("train", step, total, loss)
        if step == 1 or step % 5 == 0 or step == total:
            with db.session() as session:
                run = session.get_one(TrainingRun, run_id)
                run.step, run.total_steps = step, total

    chats = lambda examples: [(e.messages, e.weight) for e in examples]  # noqa: E731
    peft_model, result = train_lora(
        model, tokenizer, chats(dataset.train), chats(dataset.val), config, device, on_step=on_step
    )

    # 4. Gate: score the active adapter on this run's validation set, the same data the candidate saw.
    with db.session() as session:
        active = active_version(session)
        active_name, active_path = (active.name, active.adapter_path) if active else (None, None)
    active_val_loss = None
    if active_path and Path(active_path).is_dir():
        progress("gate", 0, 1, None)
        peft_model.load_adapter(active_path, adapter_name="active")
        peft_model.set_adapter("active")
        active_val_loss = evaluate_loss(peft_model, val_batches_for(tokenizer, chats(dataset.val), config), device)
        peft_model.set_adapter("default")
        peft_model.delete_adapter("active")
        progress("gate", 1, 1, None)

    # 5. Save the adapter, then record the version and promote it in one transaction.
    name = f"v{run_id}"  # the run id makes the name unique forever
    adapter_dir = settings.adapters_dir / name
    settings.adapters_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(adapter_dir, ignore_errors=True)
    save_adapter(peft_model, adapter_dir)
    metrics = {
        "train_loss": result.train_loss,
        "val_loss": result.val_loss,
        "active_version": active_name,
        "active_val_loss": active_val_loss,
        "train_examples": result.examples,
        "val_examples": len(dataset.val),
        "skipped_too_long": result.skipped_too_long,
        "steps": result.steps,
        "epochs": round(result.epochs, 2),
        "tokens": result.tokens,
        "tokens_per_second": round(result.tokens_per_second, 1),
        "train_seconds": round(result.seconds, 1),
        "device": str(device),
    }
    promoted = should_promote(result.val_loss, active_val_loss, config.promotion_margin)
    (adapter_dir / "ftbot.json").write_text(
        json.dumps(
            {"version": name, "base_model": settings.base_model, "dataset_hash": dataset.hash, "metrics": metrics},
            indent=2,
        )
    )
    with db.session() as session:
        version = ModelVersion(
            name=name,
            run_id=run_id,
            base_model=settings.base_model,
            adapter_path=str(adapter_dir),
            dataset_hash=dataset.hash,
            metrics=metrics,
        )
        session.add(version)
        if promoted:
            promote(session, version)
        run = session.get_one(TrainingRun, run_id)
        run.status, run.finished_at, run.metrics = "succeeded", utcnow(), {**metrics, "promoted": promoted}
        run.dataset_hash = dataset.hash
    log.info("run %d finished: version %s, val_loss %s, promoted %s", run_id, name, result.val_loss, promoted)
    return RunOutcome(run_id, name, promoted, metrics)


def build_dataset(settings: Settings, db: Database) -> Dataset:
    """The examples a run would train on now, from everything stored."""
    started = time.perf_counter()
    embedder = Embedder(settings.embedding_model)
    with db.session() as session:
        index = RetrievalIndex.from_database(session, embedder)
        builder = DatasetBuilder(
            index,
            top_k=settings.retrieval.top_k,
            max_units=settings.retrieval.max_units,
            context_chars=settings.retrieval.context_chars,
            validation_fraction=settings.training.validation_fraction,
            seed=settings.training.seed,
        )
        dataset = builder.build(session)
    log.info("dataset: %d examples in %.1f s", len(dataset.examples), time.perf_counter() - started)
    return dataset


def _save_dataset(settings: Settings, db: Database, run_id: int, dataset: Dataset) -> None:
    """Lineage: the run's examples go to the database and to a JSONL file named by the dataset hash."""
    settings.datasets_dir.mkdir(parents=True, exist_ok=True)
    (settings.datasets_dir / f"{dataset.hash}.jsonl").write_text(dataset.to_jsonl())
    with db.session() as session:
        session.add_all(
            TrainingExample(
                run_id=run_id,
                record_id=e.record_id,
                origin=e.origin,
                split=e.split,
                messages=e.messages,
                weight=e.weight,
            )
            for e in dataset.examples
        )
        run = session.get_one(TrainingRun, run_id)
        run.dataset_hash = dataset.hash
