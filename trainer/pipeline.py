"""One training run end to end: dataset → train → gate against the active version → save → promote.

The run is a row in the queue (trainer.runs): execute_run trains one a worker has claimed, writing its
progress, heartbeat and loss curve as it goes; run_training queues, claims and executes one in place.

Under `accelerate launch` every process runs this same code. Only the main process touches the database and
the files (the claim, heartbeat, progress, lineage, adapter, version); it hands the others what they need
(the run id, the dataset, the gate's plan) through trainer.distributed.on_main.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from accelerate import Accelerator

from ftbot.config import Settings
from ftbot.erasure import delete_adapters
from ftbot.retrieval import Embedder, RetrievalIndex, embed_missing
from ftbot.storage.db import Database
from ftbot.storage.erasure import is_erased, retire_erased
from ftbot.storage.models import ModelVersion, TrainingExample, TrainingRun
from trainer.checkpoint import CheckpointStore, training_key
from trainer.dataset import Dataset, DatasetBuilder
from trainer.gate import ActiveModel, AnswerScores, decide, gate_questions, score_answers
from trainer.registry import active_version, promote, should_promote
from trainer.runs import (
    CANCELLED,
    FAILED,
    RUNNING,
    SUCCEEDED,
    RunAlreadyPending,
    RunCancelled,
    RunLost,
    beat,
    claim,
    enqueue,
    finish,
    new_worker_id,
    reap_stale,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int, float | None], None]  # (phase, done, total, loss)

# How often a running run writes its heartbeat, even during a long step or while loading the model: the
# reaper fails runs silent for settings.worker_heartbeat_timeout_s (300 s by default).
HEARTBEAT_SECONDS = 10.0
# Step progress is written, and a cancel request read, at most this often (and on the first and last step).
SYNC_SECONDS = 1.0
# The loss curve saved with the run (and drawn in Slack) keeps at most this many points.
MAX_CURVE_POINTS = 1000


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
    active_name, active_path, gate = on_main(accelerator, lambda: _gate_plan(db, base_model, tracker))
    active_val_loss = trained.validation_loss_of(active_path) if active_path else None

    # 5. Save the adapter; part two of the gate: the candidate answers held-out questions beside the active
    # version and the base model with the same retrieval (trainer/gate.py). Then record the version, promote
    # it if the gate says so and end the run, in one transaction.
    name = f"v{run_id}"  # the run id makes the name unique forever
    adapter_dir = settings.adapters_dir / name
    trained.save(adapter_dir)
    answers = on_main(accelerator, lambda: _score_answers(settings, db, tracker, dataset, base_model, adapter_dir))
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
    version = _NewVersion(name, run_id, base_model, adapter_dir, dataset.hash, metrics, verdict.promoted)
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
    _save_dataset(settings, db, tracker.run_id, dataset)
    tracker.phase("dataset", 1, 1)
    return dataset


def _score_answers(
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
        current = (
            ActiveModel(active.name, active.base_model, Path(active.adapter_path))
            if active and not is_erased(active) and active.adapter_path and Path(active.adapter_path).is_dir()
            else None
        )
    try:
        scores = score_answers(settings, db, items, base_model, adapter_dir, current)
    except BaseException:
        shutil.rmtree(adapter_dir, ignore_errors=True)  # no version row will point at it
        raise
    tracker.phase("answers", 1, 1)
    return scores


def _set_base_model(db: Database, run_id: int, base_model: str) -> None:
    with db.session() as session:
        session.get_one(TrainingRun, run_id).base_model = base_model


def _gate_plan(db: Database, base_model: str, tracker: RunTracker) -> tuple[str | None, str | None, str]:
    """(active version, the adapter to score against, what the gate did)."""
    with db.session() as session:
        active = active_version(session)
        active_name, active_path = (active.name, active.adapter_path) if active else (None, None)
        active_base = active.base_model if active else None
        active_erased = active is not None and is_erased(active)
    if not active_name:
        return None, None, "no active version"
    if active_erased:
        # It goes whatever this run's verdict (retire_erased): the candidate need only beat base+retrieval.
        return active_name, None, f"skipped: the active version {active_name} was trained on erased data"
    if not (active_path and Path(active_path).is_dir()):
        return active_name, None, f"skipped: the active version {active_name} has no adapter at {active_path}"
    if active_base is not None and active_base != base_model:
        # Losses of two base models (two tokenizers) are not comparable: a change of base model is the
        # operator's decision, and its first version is promoted like a first version.
        return active_name, None, f"skipped: the active version {active_name} is on another base model ({active_base})"
    tracker.phase("gate", 0, 1)
    return active_name, active_path, "compared on this run's validation set"


@dataclass(frozen=True)
class _NewVersion:
    name: str
    run_id: int
    base_model: str
    adapter_dir: Path
    dataset_hash: str
    metrics: dict[str, Any]
    promoted: bool


def _record(db: Database, tracker: RunTracker, new: _NewVersion) -> RunOutcome:
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
    return RunOutcome(new.run_id, new.name, new.promoted, new.metrics)


class RunTracker:
    """A running run's link to its database row: step progress and the loss curve, a heartbeat thread that
    keeps the reaper away during long steps, and the cancel request, which stops training before its next step
    (stop_requested) and then ends the run with RunCancelled (raise_if_stopped)."""

    def __init__(
        self,
        db: Database,
        run_id: int,
        worker_id: str,
        progress: Progress | None,
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.db, self.run_id, self.worker_id, self.heartbeat_seconds = db, run_id, worker_id, heartbeat_seconds
        self._progress = progress or (lambda *_: None)
        self.step, self.total = 0, 0
        self.loss: float | None = None
        self.curve: list[list[float]] = []
        self._stride = 1  # the curve keeps steps that are multiples of this
        self._lock = threading.Lock()  # the curve is read by the heartbeat thread
        self._train_started: float | None = None
        self._last_sync = 0.0
        self._cancelled = self._lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"ftbot-heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> RunTracker:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def position(self) -> str:
        return f"at step {self.step}/{self.total}" if self.total else "before training started"

    def phase(self, name: str, done: int, total: int) -> None:
        """Report a phase's progress; a cancel requested meanwhile stops the run here."""
        self._progress(name, done, total, None)
        self.raise_if_stopped()

    def training_started(self) -> None:
        self._train_started = time.monotonic()

    def on_step(self, step: int, total: int, loss: float) -> None:
        """train_lora's callback after each optimizer step."""
        self._progress("train", step, total, loss)
        with self._lock:
            self.step, self.total, self.loss = step, total, loss
            if step % self._stride == 0:
                self.curve.append([step, round(loss, 5)])
            if len(self.curve) > MAX_CURVE_POINTS:  # a long run keeps every other point, so every write stays small
                self.curve, self._stride = self.curve[1::2], self._stride * 2
        if step == 1 or step == total or time.monotonic() - self._last_sync >= SYNC_SECONDS:
            try:
                self.sync()
            except RunLost:  # not raised here: training stops at the next step, on every process at once
                self._lost = True

    def sync(self) -> None:
        """Write heartbeat and progress; learn whether a cancel was requested."""
        with self._lock:
            step, total, loss, metrics = self.step, self.total, self.loss, self._metrics()
        with self.db.session() as session:
            cancel = beat(
                session, self.run_id, self.worker_id, step=step, total_steps=total, loss=loss, metrics=metrics
            )
        self._cancelled = self._cancelled or cancel
        self._last_sync = time.monotonic()

    def finish_succeeded(self, session: Session, message: str, metrics: dict[str, Any]) -> None:
        with self._lock:
            final = {**metrics, **self._metrics()}
        finish(session, self.run_id, self.worker_id, SUCCEEDED, message, metrics=final)

    def end(self, status: str, error: str) -> None:
        """Record a cancelled or failed ending; a run reaped meanwhile is left as the reaper wrote it."""
        try:
            with self._lock:
                metrics = self._metrics()
            with self.db.session() as session:
                finish(session, self.run_id, self.worker_id, status, error=error, metrics=metrics)
        except RunLost:
            log.warning("run %d was already marked failed elsewhere", self.run_id)

    def _metrics(self) -> dict[str, Any]:
        metrics: dict[str, Any] = {"loss_curve": list(self.curve)}
        if self._train_started is not None and self.step:
            metrics["seconds_per_step"] = round((time.monotonic() - self._train_started) / self.step, 4)
        return metrics

    def stop_requested(self) -> bool:
        """train_lora asks before each step: a cancel was requested, or the run was reaped."""
        return self._cancelled or self._lost

    def raise_if_stopped(self) -> None:
        if self._lost:
            raise RunLost(f"run #{self.run_id} was marked failed while it ran")
        if self._cancelled:
            raise RunCancelled(f"run #{self.run_id} was cancelled")

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                self.sync()
            except RunLost:
                self._lost = True
                return
            except Exception:  # a database hiccup: the next beat retries
                log.warning("heartbeat for run %d failed", self.run_id, exc_info=True)


class QuietTracker(RunTracker):
    """The tracker of every process but the main one in a launch: it follows the steps and writes nothing (no
    heartbeat, no progress, no ending); the main process's tracker records the run, and its cancel reaches this
    process through train_lora's agreement before each step."""

    def __init__(self, db: Database, run_id: int, worker_id: str) -> None:
        super().__init__(db, run_id, worker_id, None)

    def __enter__(self) -> RunTracker:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def sync(self) -> None:
        pass

    def finish_succeeded(self, session: Session, message: str, metrics: dict[str, Any]) -> None:
        pass

    def end(self, status: str, error: str) -> None:
        pass


def build_dataset(settings: Settings, db: Database) -> Dataset:
    """The examples a run would train on now, from everything stored."""
    started = time.perf_counter()
    embedder = Embedder(settings.embedding_model)
    with db.session() as session:
        embed_missing(session, embedder)  # records stored without embeddings: admins' corrections
    with db.session() as session:
        index = RetrievalIndex.from_database(session, embedder, match_questions=False)  # see match_questions
        builder = DatasetBuilder(
            index,
            top_k=settings.retrieval.top_k,
            max_units=settings.retrieval.max_units,
            context_chars=settings.retrieval.context_chars,
            validation_fraction=settings.training.validation_fraction,
            seed=settings.training.seed,
            upvoted_weight=settings.training.upvoted_weight,
            correction_weight=settings.training.correction_weight,
            document_questions=settings.training.document_questions,
            questions_per_sentence=settings.training.questions_per_sentence,
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
