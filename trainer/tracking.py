"""A running run's link to its database row: progress, heartbeat, loss curve and the cancel request.

Only the main process of a launch records the run (RunTracker); every other process follows the steps and
writes nothing (QuietTracker).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from ftbot.storage.db import Database
from ftbot.storage.runs import SUCCEEDED, RunCancelled, RunLost, beat, finish

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int, float | None], None]  # (phase, done, total, loss)

# How often a running run writes its heartbeat, even during a long step or while loading the model: the
# reaper fails runs silent for settings.worker_heartbeat_timeout_s (300 s by default).
HEARTBEAT_SECONDS = 10.0
# Step progress is written, and a cancel request read, at most this often (and on the first and last step).
SYNC_SECONDS = 1.0
# The loss curve saved with the run (and drawn in Slack) keeps at most this many points.
MAX_CURVE_POINTS = 1000


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
