"""The worker: claims and trains queued runs, reports every ending, and survives a killed worker."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ftbot.storage import runs
from ftbot.storage.models import ModelVersion, TrainingRun
from ftbot.storage.versions import active_version
from trainer.pipeline import run_training
from trainer.worker import Worker


def _enqueue(db, trigger: str = "slack") -> int:
    with db.session() as s:
        return runs.enqueue(s, trigger=trigger).id


def _summary(db, run_id: int) -> runs.RunSummary:
    with db.session() as s:
        return runs.summarize(s, run_id)


def test_when_nothing_is_queued_then_run_once_returns_none(tiny_settings, db) -> None:
    assert Worker(tiny_settings, db).run_once() is None


def test_when_a_run_fails_then_on_finished_hears_it_and_the_worker_carries_on(tiny_settings, db) -> None:
    heard: list[runs.RunSummary] = []
    worker = Worker(tiny_settings, db, on_finished=heard.append)
    run_id = _enqueue(db)
    summary = worker.run_once()  # nothing ingested: the run fails at the dataset step
    assert summary is not None and summary.run_id == run_id and summary.status == "failed"
    assert heard == [summary] and summary.worker_id == worker.worker_id
    assert worker.run_once() is None and _enqueue(db) != run_id


def test_when_on_finished_raises_then_the_error_is_logged_and_the_worker_survives(
    tiny_settings, db, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: runs.RunSummary) -> None:
        raise ConnectionError("Slack is down")

    worker = Worker(tiny_settings, db, on_finished=broken)
    _enqueue(db)
    assert worker.run_once() is not None
    assert "reporting run 1 failed" in caplog.text
    _enqueue(db)
    assert worker.run_once() is not None


def test_when_stop_is_set_then_run_forever_returns(tiny_settings, db) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=Worker(tiny_settings, db).run_forever, args=(stop, 0.05))
    thread.start()
    time.sleep(0.2)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_when_a_worker_is_killed_mid_run_then_its_run_fails_the_active_version_serves_and_the_next_run_works(
    tiny_settings, ingested, tmp_path: Path
) -> None:
    first = run_training(tiny_settings, ingested)
    run_id = _enqueue(ingested)
    # A real `ftbot worker` process, training long enough to be killed halfway.
    env = {**os.environ, "FTBOT_TRAINING__EPOCHS": "5000"}
    command = [sys.executable, "-m", "ftbot.cli", "worker", "--no-schedule", "--poll", "0.1"]
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while (progress := _summary(ingested, run_id)).step < 2:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, f"the worker never started training: {progress}"
            time.sleep(0.1)
    finally:
        process.kill()  # SIGKILL: no handler runs, nothing is written
        process.wait(timeout=30)
    # Nobody told the database, but the process is gone from this host: the first look fails the run,
    # without waiting for the heartbeat timeout.
    killed = _summary(ingested, run_id)
    assert killed.status == "failed" and f"worker process {process.pid}" in (killed.error or "")
    with ingested.session() as s:
        assert active_version(s).name == first.version  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(ModelVersion)) == 1
    assert killed.version is None and killed.promoted is None

    heard: list[runs.RunSummary] = []
    next_id = _enqueue(ingested)
    summary = Worker(tiny_settings, ingested, on_finished=heard.append).run_once()
    assert summary is not None and summary.run_id == next_id and summary.status == "succeeded"
    assert heard == [summary] and summary.version == f"v{next_id}"
    with ingested.session() as s:
        assert s.scalar(select(func.count()).select_from(TrainingRun).where(TrainingRun.pending.is_(True))) == 0
