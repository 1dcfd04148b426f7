"""/finetune's subcommands as plain functions over the database (the Slack wiring is in test_slack_bot.py)."""

from __future__ import annotations

import pytest

from bot.commands import USAGE, FinetuneCommand
from ftbot.storage import runs
from ftbot.storage.models import ModelVersion, utcnow
from ftbot.storage.versions import active_version, promote

pytestmark = pytest.mark.both_backends  # every test here runs on SQLite and on PostgreSQL


def _version(db, name: str, *, active: bool) -> None:
    with db.session() as session:
        version = ModelVersion(name=name, base_model="tiny", adapter_path=f"/x/{name}", dataset_hash="h")
        session.add(version)
        session.flush()
        if active:
            promote(session, version)
        else:
            version.promoted_at = utcnow()


def _finished(db, status: str, error: str | None = None) -> int:
    with db.session() as session:
        run_id = runs.enqueue(session, trigger="slack").id
    runs.claim(db, run_id, "w")
    with db.session() as session:
        runs.finish(session, run_id, "w", status, error=error, metrics={"val_loss": 0.5, "promoted": False})
    return run_id


@pytest.mark.parametrize("text", ["", "help", "launch"])
def test_when_the_subcommand_is_unknown_then_usage_is_shown(db, text: str) -> None:
    assert FinetuneCommand(db).handle("U1", text) == USAGE


def test_when_start_queues_a_run_then_where_it_was_asked_is_remembered(db) -> None:
    command = FinetuneCommand(db)
    assert "Queued training run #1" in command.handle("U1", "start", "C1")
    assert command.requested_in == {1: ("C1", "U1")}


def test_when_there_is_history_then_it_lists_runs_newest_first(db) -> None:
    _finished(db, "failed", error="ValueError: nothing to train on")
    _finished(db, "cancelled")
    reply = FinetuneCommand(db).handle("U1", "history")
    assert reply.index("#2 cancelled") < reply.index("#1 failed")
    assert "nothing to train on" in reply


def test_when_there_is_no_run_then_history_and_cancel_say_so(db) -> None:
    command = FinetuneCommand(db)
    assert "No training runs yet" in command.handle("U1", "history")
    assert "Nothing to cancel" in command.handle("U1", "cancel")


def test_when_an_admin_rolls_back_then_the_earlier_version_is_active(db) -> None:
    _version(db, "v1", active=False)
    _version(db, "v2", active=True)
    command = FinetuneCommand(db)
    assert "Model v1 is active again" in command.handle("U1", "rollback v1")
    with db.session() as session:
        assert active_version(session).name == "v1"  # type: ignore[union-attr]
    assert "Can't roll back: no model version named v9" in command.handle("U1", "rollback v9")


def test_when_an_admin_sets_the_schedule_then_it_is_shown_and_a_bad_one_is_refused(tiny_settings, db) -> None:
    from trainer.schedule import RetrainScheduler

    scheduler = RetrainScheduler(tiny_settings, db)
    try:
        command = FinetuneCommand(db, scheduler)
        assert "0 3 * * mon" in command.handle("U1", "schedule")
        assert "0 4 * * tue" in command.handle("U1", "schedule 0 4 * * tue")
        assert "Not a valid schedule" in command.handle("U1", "schedule every monday")
        assert "0 4 * * tue" in command.handle("U1", "schedule")
    finally:
        scheduler.close()


def test_when_no_scheduler_runs_here_then_schedule_says_so(db) -> None:
    assert "isn't running in this process" in FinetuneCommand(db).handle("U1", "schedule")
