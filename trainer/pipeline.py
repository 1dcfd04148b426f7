"""One training run end to end: dataset → train → gate against the active version → save → promote.

The run is a row in the queue (ftbot.storage.runs): execute_run trains one a worker has claimed, writing its
progress, heartbeat and loss curve as it goes; run_training queues, claims and executes one in place.

Under `accelerate launch` every process runs this same code. Only the main process touches the database and
the files (the claim, heartbeat, progress, lineage, adapter, version); it hands the others what they need
(the run id, the dataset, the gate's plan) through trainer.distributed.on_main.

The steps' helpers live beside it: trainer/run_dataset.py builds the dataset and saves its lineage,
trainer/tracking.py records progress, heartbeat and cancel, trainer/promotion.py gates the adapter against
the active version and records the new version.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from accelerate import Accelerator

from ftbot.config import Settings
from ftbot.storage.db import Database
from ftbot.storage.models import TrainingRun
from ftbot.storage.runs import (
    CANCELLED,
    FAILED,
    RUNNING,
    RunAlreadyPending,
    RunCancelled,
    RunLost,
    claim,
    enqueue,
    reap_stale,
)
from ftbot.storage.versions import should_promote
from ftbot.storage.workers import new_worker_id
from trainer.checkpoint import CheckpointStore, training_key
from trainer.dataset import Dataset
from trainer.gate import decide
from trainer.promotion import NewVersion, answer_gate, gate_plan, record_version
from trainer.run_dataset import build_dataset, save_dataset
from trainer.tracking import HEARTBEAT_SECONDS, Progress, QuietTracker, RunTracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    version: str
    promoted: bool
    metrics: dict[str, Any]


def run_training(
    settings: Settings,
    db: Database,
    progress: Progress | None = None,
    trigger: str = "cli",
    requested_by: str | None = None,
    resume: bool = True,
) -> RunOutcome:
    """Queue a run and train it here and now (`ftbot train`). Raises RunAlreadyPending while another run is
    queued or running; otherwise as execute_run."""
    from trainer.distributed import accelerator_for, on_main

    def queue_and_claim() -> tuple[int, str]:
        with db.session() as session:  # a run whose process died (kill -9, a reboot) must not block this one
            reap_stale(session, settings.worker_heartbeat_timeout_s)
        with db.session() as session:
            run_id = enqueue(session, trigger=trigger, requested_by=requested_by).id
        worker_id = new_worker_id()
        if not claim(db, run_id, worker_id):
            raise RunAlreadyPending(run_id)  # a worker (or a cancel) got to it first
        return run_id, worker_id

    run_id, worker_id = on_main(accelerator_for(settings.device), queue_and_claim)
    return execute_run(settings, db, run_id, progress=progress, worker_id=worker_id, resume=resume)


def execute_run(
    settings: Settings,
    db: Database,
    run_id: int,
    *,
    progress: Progress | None = None,
    worker_id: str | None = None,
    resume: bool = True,
) -> RunOutcome:
    """Train a run already claimed (running); with resume, from the checkpoint an interrupted run of the same
    training left (trainer/checkpoint.py). Every ending is recorded with an event and clears `pending`,
    then re-raises: RunCancelled when cancelled, the error itself when it failed, RunLost when the run was
    reaped meanwhile (its record is then left as the reaper wrote it). Every process of a launch calls it."""
    from trainer.distributed import accelerator_for, on_main

    accelerator = accelerator_for(settings.device)

    def start() -> str:
        with db.session() as session:
            run = session.get_one(TrainingRun, run_id)
            if run.status != RUNNING:
                raise ValueError(f"run #{run_id} is {run.status}; claim it before executing it")
            run.config = settings.training.model_dump(mode="json")
            return worker_id or run.worker_id or new_worker_id()

    owner = on_main(accelerator, start)
    # Beat well within the reaper's timeout, however short an operator sets it.
    heartbeat = min(HEARTBEAT_SECONDS, settings.worker_heartbeat_timeout_s / 3)
    tracker = (
        RunTracker(db, run_id, owner, progress, heartbeat_seconds=heartbeat)
        if accelerator.is_main_process
        else QuietTracker(db, run_id, owner)
    )
    try:
        with tracker:
            return _train(settings, db, tracker, accelerator, resume)
    except RunLost:
        log.warning("run %d was marked failed elsewhere (no heartbeat?); its result is discarded", run_id)
        raise
    except RunCancelled:
        tracker.end(CANCELLED, f"cancelled on request {tracker.position}")
        raise
    except KeyboardInterrupt:
        tracker.end(CANCELLED, f"interrupted (Ctrl-C or shutdown) {tracker.position}")
        raise
    except BaseException as error:
        tracker.end(FAILED, f"{type(error).__name__}: {error}")
        raise


def _train(settings: Settings, db: Database, tracker: RunTracker, accelerator: Accelerator, resume: bool) -> RunOutcome:
    from ftbot.llm import load_model_and_tokenizer
    from trainer.distributed import is_sharded, on_main, training_device
    from trainer.lora import train_lora, training_attention

    config, run_id = settings.training, tracker.run_id
    # 1. Data: every stored record becomes an example whose prompt looks like answering time. The main process
    # builds it and records its lineage; every process trains on that same dataset.
    dataset = on_main(accelerator, lambda: _dataset_for(settings, db, tracker))

    # 2. Model: on CUDA the larger GPU base model (gpu_base_model), on a CPU the bundled one.
    device = training_device(accelerator, settings.device)
    base_model = settings.base_model_for(device.type)
    on_main(accelerator, lambda: _set_base_model(db, run_id, base_model))
    tokenizer, model = load_model_and_tokenizer(
        base_model,
        settings.cache_dir,
        device,
        setting=settings.base_model_setting(device.type),
        attention=training_attention(device),
        keep_on_cpu=is_sharded(accelerator),
    )

    # 3. Train. The main process's tracker records each step and learns of a cancel; every process stops at the
    # same step (train_lora agrees on it), then the main process says why and every process raises that.
    chats = lambda examples: [(e.messages, e.weight) for e in examples]  # noqa: E731
    checkpoints = _checkpoints(settings, dataset.hash, base_model, resume)
    tracker.training_started()
    trained = train_lora(
        model,
        tokenizer,
        chats(dataset.train),
        chats(dataset.val),
        config,
        device,
        on_step=tracker.on_step,
        should_stop=tracker.stop_requested,
        accelerator=accelerator,
        checkpoints=checkpoints,
    )
    result = trained.result
    if result.resumed_at_step:
        log.info("run %d continued from the checkpoint of step %d", run_id, result.resumed_at_step)
    log.info(
        "run %d, process %d/%d: %d steps, %d tokens; adapter checksum %s",
        run_id,
        accelerator.process_index,
        accelerator.num_processes,
        result.steps,
        result.tokens_per_rank[accelerator.process_index],
        trained.checksum(),
    )
    if result.stopped:
        on_main(accelerator, tracker.raise_if_stopped)
        raise RunCancelled(f"run #{run_id} was stopped")  # only if the stop came from elsewhere than the tracker

    # 4. Gate, part one: score the active adapter on this run's validation set, the same rows the candidate saw.
    active_name, active_path, gate = on_main(accelerator, lambda: gate_plan(db, base_model, tracker))
    active_val_loss = trained.validation_loss_of(active_path) if active_path else None

    # 5. Save the adapter; part two of the gate: the candidate answers held-out questions beside the active
    # version and the base model with the same retrieval (trainer/gate.py). Then record the version, promote
    # it if the gate says so and end the run, in one transaction.
    name = f"v{run_id}"  # the run id makes the name unique forever
    adapter_dir = settings.adapters_dir / name
    trained.save(adapter_dir)
    answers = on_main(accelerator, lambda: answer_gate(settings, db, tracker, dataset, base_model, adapter_dir))
    loss_says_promote = should_promote(result.val_loss, active_val_loss, config.promotion_margin)
    verdict = decide(answers, loss_says_promote, config.answer_tolerance)
    metrics = {
        "train_loss": result.train_loss,
        "val_loss": result.val_loss,
        "active_version": active_name,
        "active_val_loss": active_val_loss,
        "gate": gate,
        "promotion_margin": config.promotion_margin,
        "answers": answers.as_metrics() if answers else None,
        "verdict": verdict.reason,
        "train_examples": result.examples,
        "val_examples": len(dataset.val),
        "skipped_too_long": result.skipped_too_long,
        "steps": result.steps,
        "epochs": round(result.epochs, 2),
        "tokens": result.tokens,
        "tokens_per_second": round(result.tokens_per_second, 1),
        "train_seconds": round(result.seconds, 1),
        "device": str(device),
        "processes": accelerator.num_processes,
        "tokens_per_process": list(result.tokens_per_rank),
        "attention": result.attention,
        "gradient_checkpointing": result.gradient_checkpointing,
        "resumed_at_step": result.resumed_at_step,
        "best_step": result.best_step,
        "stopped_early": result.stopped_early,
    }
    version = NewVersion(name, run_id, base_model, adapter_dir, dataset.hash, metrics, verdict.promoted)
    outcome = on_main(accelerator, lambda: _record(db, tracker, version))
    on_main(accelerator, lambda: shutil.rmtree(settings.checkpoints_dir, ignore_errors=True))  # all now stale
    log.info("run %d finished: version %s, val_loss %s: %s", run_id, name, result.val_loss, verdict.reason)
    return outcome


def _checkpoints(settings: Settings, dataset_hash: str, base_model: str, resume: bool) -> CheckpointStore:
    """This training's checkpoints; with resume off, an interrupted run's are discarded and training starts over."""
    key = training_key(dataset_hash, base_model, settings.training)
    store = CheckpointStore(settings.checkpoints_dir / key, settings.training.checkpoint_every_steps)
    if not resume:
        store.clear()
    return store


def _dataset_for(settings: Settings, db: Database, tracker: RunTracker) -> Dataset:
    tracker.phase("dataset", 0, 1)
    dataset = build_dataset(settings, db)
    if all(e.origin == "refusal" for e in dataset.examples):
        raise ValueError("nothing to train on: ingest Q&A files or documents first (ftbot ingest PATH)")
    save_dataset(settings, db, tracker.run_id, dataset)
    tracker.phase("dataset", 1, 1)
    return dataset


def _set_base_model(db: Database, run_id: int, base_model: str) -> None:
    with db.session() as session:
        session.get_one(TrainingRun, run_id).base_model = base_model


def _record(db: Database, tracker: RunTracker, version: NewVersion) -> RunOutcome:
    """Runs on the main process only: every process returns the main process's outcome (on_main)."""
    record_version(db, tracker, version)
    return RunOutcome(version.run_id, version.name, version.promoted, version.metrics)
