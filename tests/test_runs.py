"""The run queue: one pending run, atomic claims, cancel, stale runs, lifecycle events and summaries.
The queue's own tests (both_backends) run on SQLite and on PostgreSQL; those that train stay on SQLite."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from connectors.ingest import Ingestor
from ftbot.cli import app
from ftbot.storage import runs
from ftbot.storage.db import Database
from ftbot.storage.models import ModelVersion, Source, TrainingRun, utcnow
from ftbot.storage.workers import new_worker_id, worker_process_gone
from trainer import tracking
from trainer.pipeline import run_training

FAQ = """question,answer
How many vacation days do I get?,Full-time employees get 28 vacation days per year.
Which Slack channel is the IT helpdesk?,Ask the IT helpdesk in #it-helpdesk.
How big is the learning budget?,Everyone gets a learning budget of EUR 1500 per year.
"""


@pytest.fixture
def ingested(db, tmp_path: Path, anonymizer, embedder):
    (tmp_path / "faq.csv").write_text(FAQ)
    Ingestor(db, anonymizer, embedder).ingest([tmp_path / "faq.csv"])
    return db


def _count_runs(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(TrainingRun)) or 0


def _queued_runs(db, n: int) -> list[int]:
    """n queued rows inserted directly: pending stays NULL, so the one-pending rule doesn't apply to them."""
    with db.session() as s:
        rows = [TrainingRun(status="queued", trigger="test") for _ in range(n)]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# The queue ---------------------------------------------------------------------------------------------------


@pytest.mark.both_backends
def test_when_a_run_is_pending_then_enqueue_refuses_a_second_and_keeps_one_row(db) -> None:
    with db.session() as s:
        first = runs.enqueue(s, trigger="slack", requested_by="u1").id
    expected = f"run #{first} is already queued/running"
    with pytest.raises(runs.RunAlreadyPending, match=expected) as refused, db.session() as s:
        runs.enqueue(s, trigger="slack")
    assert refused.value.run_id == first
    assert _count_runs(db) == 1


@pytest.mark.both_backends
def test_when_enqueue_loses_a_race_then_the_database_refuses_it_and_names_the_winner(
    db, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session() as s:
        first = runs.enqueue(s, trigger="cli").id
    original, checks = runs._refuse, []

    def racy(session, key) -> None:  # the first check misses the other run, as in a race between replicas
        checks.append(key)
        if len(checks) > 1:
            original(session, key)

    monkeypatch.setattr(runs, "_refuse", racy)
    with pytest.raises(runs.RunAlreadyPending) as refused, db.session() as s:
        s.add(Source(uri="rolled-back.csv", kind="qa", content_hash="h"))
        runs.enqueue(s, trigger="cli")
    assert refused.value.run_id == first and _count_runs(db) == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Source)) == 0  # the caller's transaction rolled back


@pytest.mark.both_backends
def test_when_enqueue_is_the_first_write_then_a_caller_rollback_undoes_it(db) -> None:
    with pytest.raises(RuntimeError), db.session() as s:
        runs.enqueue(s, trigger="cli")
        raise RuntimeError("the caller changes its mind")
    assert _count_runs(db) == 0


@pytest.mark.both_backends
def test_when_a_trigger_key_was_used_then_enqueue_raises_duplicate_trigger_even_after_the_run_ended(db) -> None:
    with db.session() as s:
        first = runs.enqueue(s, trigger="schedule", trigger_key="schedule:2026-11-23T03:00Z").id
        runs.request_cancel(s)
    with pytest.raises(runs.DuplicateTrigger, match=f"already made run #{first}"), db.session() as s:
        runs.enqueue(s, trigger="schedule", trigger_key="schedule:2026-11-23T03:00Z")
    assert _count_runs(db) == 1


@pytest.mark.both_backends
def test_when_a_queued_run_is_cancelled_then_it_ends_at_once_and_the_next_enqueue_works(db) -> None:
    with db.session() as s:
        run_id = runs.enqueue(s, trigger="slack").id
    with db.session() as s:
        cancelled = runs.request_cancel(s)
        assert cancelled is not None and cancelled.id == run_id and cancelled.status == "cancelled"
        assert cancelled.pending is None and cancelled.finished_at is not None
    assert runs.claim_next(db, "w") is None
    with db.session() as s:
        assert [kind for _, kind, _ in runs.summarize(s, run_id).events] == ["queued", "cancelled"]
        assert runs.request_cancel(s) is None  # nothing pending any more
        assert runs.enqueue(s, trigger="slack").id != run_id


@pytest.mark.both_backends
def test_when_a_running_run_is_cancelled_then_its_worker_learns_it_at_the_next_beat(db) -> None:
    with db.session() as s:
        run_id = runs.enqueue(s, trigger="slack").id
    assert runs.claim_next(db, "w1") == run_id
    with db.session() as s:
        assert runs.beat(s, run_id, "w1", step=1, total_steps=10) is False
        asked = runs.request_cancel(s)
        assert asked is not None and asked.status == "running" and asked.cancel_requested
        runs.request_cancel(s)  # asking twice records one event
    with db.session() as s:
        assert runs.beat(s, run_id, "w1", step=2) is True
        with pytest.raises(runs.RunCancelled):
            runs.finish(s, run_id, "w1", runs.SUCCEEDED)
    with db.session() as s:
        kinds = [kind for _, kind, _ in runs.summarize(s, run_id).events]
    assert kinds == ["queued", "started", "cancel_requested"]


# Claims ------------------------------------------------------------------------------------------------------


@pytest.mark.both_backends
def test_when_four_threads_claim_ten_queued_runs_then_each_is_claimed_exactly_once(db) -> None:
    ids = _queued_runs(db, 10)
    claimed: dict[str, list[int]] = {}
    start = threading.Barrier(4, timeout=30)

    def work(name: str) -> None:
        mine = claimed.setdefault(name, [])
        own = Database(db.url, migrate=False)  # an engine of its own, as a worker process has
        start.wait()
        while (run_id := runs.claim_next(own, name)) is not None:
            mine.append(run_id)
        own.engine.dispose()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    everything = [run_id for mine in claimed.values() for run_id in mine]
    assert sorted(everything) == ids  # none twice, none missed
    with db.session() as s:
        owners = dict(s.execute(select(TrainingRun.id, TrainingRun.worker_id)).all())
        assert all(owners[run_id] == name for name, mine in claimed.items() for run_id in mine)
        assert s.scalar(select(func.count()).select_from(TrainingRun).where(TrainingRun.status == "running")) == 10


CLAIM_ALL = """
import json, sys
from ftbot.storage.db import Database
from ftbot.storage.runs import claim_next
db = Database(sys.argv[1], migrate=False)
mine = []
while (run_id := claim_next(db, sys.argv[2])) is not None:
    mine.append(run_id)
print(json.dumps(mine))
"""


@pytest.mark.both_backends
def test_when_three_processes_claim_ten_queued_runs_then_each_is_claimed_exactly_once(db) -> None:
    ids = _queued_runs(db, 10)
    processes = [
        subprocess.Popen([sys.executable, "-c", CLAIM_ALL, db.url, f"p{i}"], stdout=subprocess.PIPE, text=True)
        for i in range(3)
    ]
    claimed = [json.loads(p.communicate(timeout=120)[0]) for p in processes]
    assert sorted(run_id for mine in claimed for run_id in mine) == ids


# Stale runs --------------------------------------------------------------------------------------------------


@pytest.mark.both_backends
def test_when_a_worker_stops_beating_then_reap_stale_fails_its_run_and_frees_the_queue(db) -> None:
    with db.session() as s:
        run_id = runs.enqueue(s, trigger="slack").id
    runs.claim_next(db, "dead-worker")
    with db.session() as s:
        assert runs.reap_stale(s, timeout_s=60) == []  # it beat just now
        s.execute(update(TrainingRun).values(heartbeat_at=utcnow() - timedelta(seconds=120)))
        assert runs.reap_stale(s, timeout_s=60) == [run_id]
    with db.session() as s:
        summary = runs.summarize(s, run_id)
        assert summary.status == "failed" and "worker stopped responding" in (summary.error or "")
        assert [kind for _, kind, _ in summary.events] == ["queued", "started", "failed"]
        with pytest.raises(runs.RunLost):  # the worker, if it was only slow, learns and writes nothing
            runs.beat(s, run_id, "dead-worker", step=5)
        runs.enqueue(s, trigger="slack")


@pytest.mark.both_backends
def test_when_a_step_is_long_then_the_heartbeat_thread_keeps_the_run_alive_until_it_is_reaped(db) -> None:
    with db.session() as s:
        run_id = runs.enqueue(s, trigger="cli").id
    runs.claim(db, run_id, "w")
    with tracking.RunTracker(db, run_id, "w", progress=None, heartbeat_seconds=0.05) as tracker:
        time.sleep(0.5)  # one long step: no on_step call
        with db.session() as s:
            assert runs.reap_stale(s, timeout_s=0.3) == []
        with db.session() as s:  # one transaction: as if the worker had hung for a minute
            s.execute(update(TrainingRun).values(heartbeat_at=utcnow() - timedelta(seconds=60)))
            assert runs.reap_stale(s, timeout_s=30) == [run_id]
        time.sleep(0.3)
        with pytest.raises(runs.RunLost):
            tracker.phase("gate", 0, 1)  # the worker learns it at its next check and writes nothing


def _worker_in(process: subprocess.Popen[bytes]) -> str:
    """A worker id as that process would have made it."""
    place, _, rest = new_worker_id().partition(":")
    return f"{place}:{process.pid}:{rest.partition(':')[2]}"


@pytest.mark.both_backends
def test_when_a_worker_process_is_killed_then_any_look_at_the_runs_fails_its_run_at_once(db) -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with db.session() as s:
        run_id = runs.enqueue(s, trigger="cli").id
    worker_id = _worker_in(process)
    runs.claim(db, run_id, worker_id)
    with db.session() as s:
        assert runs.history(s)[0].status == "running"  # alive: left alone
    process.kill()  # SIGKILL: no handler runs, no heartbeat stops gracefully
    try:
        # A zombie (killed, not yet waited for) is as dead; the kernel takes a moment to deliver the signal.
        deadline = time.monotonic() + 5
        while True:
            with db.session() as s:
                status = runs.history(s)[0].status
            if status == "failed" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert status == "failed"
    finally:
        process.wait()
    with db.session() as s:
        summary = runs.summarize(s, run_id)
        assert f"worker process {process.pid}" in (summary.error or "") and "gone" in (summary.error or "")
        assert summary.eta_seconds is None
        runs.enqueue(s, trigger="cli")  # the queue is free at once, not after the heartbeat timeout


@pytest.mark.both_backends
def test_when_the_dead_run_is_cancelled_then_it_ends_failed_at_once(db) -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    with db.session() as s:
        run_id = runs.enqueue(s, trigger="cli").id
    runs.claim(db, run_id, _worker_in(process))
    with db.session() as s:
        run = runs.request_cancel(s)
        assert run is not None and (run.id, run.status) == (run_id, "failed")
    with db.session() as s:
        assert runs.pending_run(s) is None


@pytest.mark.both_backends
def test_a_run_on_another_host_is_left_to_the_heartbeat_timeout(db) -> None:
    with db.session() as s:
        runs.enqueue(s, trigger="cli")
    runs.claim_next(db, "elsewhere:999999:abcd1234")  # no such process here, but it ran on another host
    with db.session() as s:
        assert runs.history(s)[0].status == "running"
        assert runs.reap_dead(s) == []
    assert not worker_process_gone("elsewhere:999999:abcd1234")
    assert not worker_process_gone(new_worker_id())  # this very process


# Runs that train (tiny model) ---------------------------------------------------------------------------------


def test_when_a_run_succeeds_then_its_lifecycle_progress_and_loss_curve_are_recorded(tiny_settings, ingested) -> None:
    outcome = run_training(tiny_settings, ingested, trigger="cli", requested_by="tester")
    with ingested.session() as s:
        summary = runs.summarize(s, outcome.run_id)
        assert runs.pending_run(s) is None
        assert runs.last_finished(s) == summary
    assert [kind for _, kind, _ in summary.events] == ["queued", "started", "succeeded"]
    assert [at for at, _, _ in summary.events] == sorted(at for at, _, _ in summary.events)
    assert summary.status == "succeeded" and summary.promoted is True and summary.version == outcome.version
    assert summary.requested_by == "tester" and summary.eta_seconds is None
    assert summary.step == summary.total_steps == outcome.metrics["steps"] > 0
    assert [step for step, _ in summary.loss_curve] == list(range(1, summary.total_steps + 1))
    assert summary.loss == pytest.approx(summary.loss_curve[-1][1], abs=1e-4)
    assert "loss_curve" not in summary.metrics and summary.metrics["val_loss"] is not None


@pytest.mark.both_backends
def test_when_a_run_has_many_steps_then_its_saved_loss_curve_is_thinned_evenly(
    db, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracking, "MAX_CURVE_POINTS", 10)
    with db.session() as s:
        run_id = runs.enqueue(s, trigger="cli").id
    runs.claim(db, run_id, "w")
    tracker = tracking.RunTracker(db, run_id, "w", progress=None)
    for step in range(1, 101):
        tracker.on_step(step, 100, 1.0 / step)
    steps = [step for step, _ in tracker.curve]
    assert 5 <= len(steps) <= 10 and steps == list(range(steps[0], 101, steps[0]))
    with db.session() as s:
        assert runs.summarize(s, run_id).loss_curve == [(int(a), b) for a, b in tracker.curve]


def test_when_a_running_run_is_cancelled_then_it_stops_at_the_next_step_and_nothing_is_promoted(
    tiny_settings, ingested, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracking, "SYNC_SECONDS", 0.05)
    slow = tiny_settings.model_copy(update={"training": tiny_settings.training.model_copy(update={"epochs": 2000})})
    ended: list[BaseException] = []

    def train() -> None:
        try:
            run_training(slow, ingested)
        except BaseException as error:
            ended.append(error)

    thread = threading.Thread(target=train)
    thread.start()

    def running() -> runs.RunSummary | None:
        with ingested.session() as s:
            pending = runs.pending_run(s)
        return pending if pending and pending.status == "running" and pending.step >= 2 else None

    _wait_for(lambda: running() is not None)
    in_progress = running()
    assert in_progress is not None and in_progress.eta_seconds is not None and in_progress.loss_curve
    with ingested.session() as s:
        runs.request_cancel(s)
    thread.join(timeout=60)
    assert not thread.is_alive() and isinstance(ended[0], runs.RunCancelled)
    with ingested.session() as s:
        summary = runs.summarize(s, in_progress.run_id)
        assert s.scalar(select(func.count()).select_from(ModelVersion)) == 0
    assert summary.status == "cancelled" and summary.version is None and summary.promoted is None
    assert summary.step < summary.total_steps and len(summary.loss_curve) >= summary.step - 1
    assert [kind for _, kind, _ in summary.events] == ["queued", "started", "cancel_requested", "cancelled"]
    assert not (tiny_settings.adapters_dir / f"v{summary.run_id}").exists()


def test_when_a_run_fails_then_pending_is_cleared_and_history_lists_it_first(tiny_settings, db) -> None:
    _queued_runs(db, 1)  # an older, unrelated row
    with pytest.raises(ValueError, match="ingest"):
        run_training(tiny_settings, db)  # nothing ingested: fails at the dataset step
    with db.session() as s:
        latest = runs.history(s)[0]
        assert runs.pending_run(s) is None
    assert latest.status == "failed" and "nothing to train on" in (latest.error or "")
    assert [kind for _, kind, _ in latest.events] == ["queued", "started", "failed"]


# The CLI ------------------------------------------------------------------------------------------------------


def test_when_a_run_is_pending_then_ftbot_train_exits_non_zero_with_one_line(tiny_settings, db) -> None:
    with db.session() as s:
        run_id = runs.enqueue(s, trigger="slack").id
    result = CliRunner().invoke(app, ["train"])
    assert result.exit_code == 1
    assert f"run #{run_id} is already queued/running" in result.output


def test_when_ftbot_cancel_and_runs_are_used_then_they_show_the_queue(tiny_settings, db) -> None:
    cli = CliRunner()
    assert cli.invoke(app, ["cancel"]).exit_code == 1  # nothing to cancel
    with db.session() as s:
        run_id = runs.enqueue(s, trigger="slack").id
    cancelled = cli.invoke(app, ["cancel"])
    assert cancelled.exit_code == 0 and f"run #{run_id} cancelled before it started" in cancelled.output
    listed = cli.invoke(app, ["runs"])
    assert listed.exit_code == 0 and f"#{run_id}" in listed.output and "cancelled" in listed.output
