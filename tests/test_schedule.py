"""Weekly retraining: one job in the store, one leader among replicas, one run per tick, clear cron errors.
The job store, lease and trigger-key tests (both_backends) run on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select, text

from ftbot.config import Settings, load_settings
from ftbot.storage import runs
from ftbot.storage.models import TrainingRun
from trainer import schedule
from trainer.schedule import InvalidCron, RetrainScheduler, enqueue_scheduled, parse_cron, retrain_job, take_lease

MONDAY_3AM = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


@pytest.fixture
def settings(home) -> Settings:
    return load_settings()


@pytest.fixture
def schedulers(settings, db) -> Iterator:
    """Builds RetrainSchedulers that renew their lease quickly, and closes them all afterwards."""
    made: list[RetrainScheduler] = []

    def make(holder: str) -> RetrainScheduler:
        made.append(RetrainScheduler(settings, db, holder=holder, lease_seconds=2.0, renew_seconds=0.05))
        return made[-1]

    yield make
    for scheduler in made:
        scheduler.close()


def _jobs(db) -> list[str]:
    with db.engine.connect() as connection:
        return list(connection.execute(text("SELECT id FROM apscheduler_jobs")).scalars())


def _runs(db) -> list[TrainingRun]:
    with db.session() as s:
        return list(s.scalars(select(TrainingRun).order_by(TrainingRun.id)))


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.both_backends
def test_when_the_scheduler_is_constructed_twice_then_the_job_store_holds_one_job(schedulers, db) -> None:
    first = schedulers("replica-a")
    assert first.is_leader and _jobs(db) == ["ftbot-retrain"]
    first.close()
    restarted = schedulers("replica-a")
    assert restarted.is_leader and _jobs(db) == ["ftbot-retrain"]


@pytest.mark.both_backends
def test_when_two_replicas_share_a_database_then_only_one_leads_and_the_standby_takes_over(schedulers) -> None:
    a, b = schedulers("replica-a"), schedulers("replica-b")
    time.sleep(0.2)  # several renewals: leadership stays put
    assert a.is_leader and not b.is_leader
    a.close()  # releases the lease
    _wait_for(lambda: b.is_leader)
    assert "ftbot-retrain" in {job.id for job in b._scheduler.get_jobs()}  # type: ignore[union-attr]


@pytest.mark.both_backends
def test_when_a_lease_expires_then_another_holder_takes_it(db) -> None:
    assert take_lease(db, "lease", "a", seconds=0.2)
    assert not take_lease(db, "lease", "b", seconds=0.2)
    assert take_lease(db, "lease", "a", seconds=0.2)  # renewing one's own lease
    time.sleep(0.3)
    assert take_lease(db, "lease", "b", seconds=0.2)
    assert not take_lease(db, "lease", "a", seconds=0.2)


@pytest.mark.both_backends
def test_when_the_job_fires_twice_for_one_tick_then_one_run_is_queued(schedulers, db) -> None:
    schedulers("replica-a")
    first, again = retrain_job(), retrain_job()
    assert first is not None and again is None
    [run] = _runs(db)
    assert run.trigger == "schedule" and run.trigger_key is not None and run.trigger_key.startswith("schedule:")


@pytest.mark.parametrize(
    ("fired_at", "key"),
    [
        (MONDAY_3AM, "schedule:2026-11-23T03:00Z"),
        (MONDAY_3AM + timedelta(seconds=2), "schedule:2026-11-23T03:00Z"),  # a retry, or another replica
        (MONDAY_3AM + timedelta(hours=2), "schedule:2026-11-23T03:00Z"),  # late, within the misfire grace
    ],
)
def test_when_a_tick_fires_late_then_it_still_names_the_same_tick(db, fired_at: datetime, key: str) -> None:
    run_id = enqueue_scheduled(db, "0 3 * * mon", now=fired_at)
    assert run_id is not None and _runs(db)[0].trigger_key == key
    assert enqueue_scheduled(db, "0 3 * * mon", now=MONDAY_3AM + timedelta(minutes=1)) is None


@pytest.mark.both_backends
def test_when_a_run_is_pending_at_the_tick_then_the_tick_is_skipped(db) -> None:
    with db.session() as s:
        runs.enqueue(s, trigger="slack")
    assert enqueue_scheduled(db, "0 3 * * mon", now=MONDAY_3AM) is None
    assert len(_runs(db)) == 1


def test_when_the_job_is_due_then_the_running_scheduler_queues_a_run(schedulers, db) -> None:
    leader = schedulers("replica-a")
    leader._scheduler.modify_job("ftbot-retrain", next_run_time=datetime.now(UTC))  # type: ignore[union-attr]
    _wait_for(lambda: len(_runs(db)) == 1)
    assert _runs(db)[0].trigger == "schedule"


@pytest.mark.both_backends
def test_when_a_tick_was_missed_while_no_replica_ran_then_the_next_leader_still_queues_it(schedulers, db) -> None:
    schedulers("replica-a").close()
    # While every replica is down, the stored job's run time passes (written through APScheduler's own store).
    store = SQLAlchemyJobStore(engine=db.engine)
    store.start(BackgroundScheduler(timezone=UTC), "default")
    job = store.lookup_job("ftbot-retrain")
    job.next_run_time = datetime.now(UTC) - timedelta(hours=1)
    store.update_job(job)
    schedulers("replica-b")
    _wait_for(lambda: len(_runs(db)) == 1)


@pytest.mark.parametrize(
    ("cron", "reason"),
    [
        ("0 3 * *", "has 4 fields"),
        ("0 25 * * mon", "not a valid schedule"),
        ("0 3 * * funday", "not a valid schedule"),
        ("0 3 * * 5-1", "runs backwards"),
        ("0 3 * * */2", "as names"),
    ],
)
def test_when_a_cron_is_bad_then_it_is_rejected_with_the_expected_form(schedulers, cron: str, reason: str) -> None:
    with pytest.raises(InvalidCron, match=reason) as rejected:
        parse_cron(cron)
    assert "e.g. '0 3 * * mon' (UTC)" in str(rejected.value)
    scheduler = schedulers("replica-a")
    with pytest.raises(ValueError, match=reason):
        scheduler.set_cron(cron)
    assert scheduler.cron == "0 3 * * mon"


@pytest.mark.parametrize(
    ("cron", "weekdays"),
    [
        ("0 3 * * mon", {"Mon"}),
        ("0 3 * * 1", {"Mon"}),  # crontab counts from Sunday = 0; APScheduler 3 would read 1 as Tuesday
        ("0 3 * * 0", {"Sun"}),
        ("0 3 * * 7", {"Sun"}),
        ("0 3 * * 1-5", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
        ("0 3 * * sat,0", {"Sat", "Sun"}),
    ],
)
def test_when_a_cron_names_weekdays_then_they_mean_what_crontab_means(cron: str, weekdays: set[str]) -> None:
    trigger, when, seen = parse_cron(cron), MONDAY_3AM, set()
    for _ in range(14):
        when = trigger.get_next_fire_time(None, when + timedelta(minutes=1))
        assert when.hour == 3 and when.minute == 0 and when.utcoffset() == timedelta(0)
        seen.add(f"{when:%a}")
    assert seen == weekdays


def test_when_an_admin_sets_the_cron_then_it_survives_a_restart_and_wins_over_the_setting(
    schedulers, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = schedulers("replica-a")
    assert first.describe().startswith("`0 3 * * mon` (FTBOT_RETRAIN_CRON); next run Mon ")
    first.set_cron("0 4 * * tue", changed_by="admin")
    assert "next run Tue" in first.describe() and "04:00 UTC" in first.describe()
    first.close()

    restarted = schedulers("replica-a")
    assert restarted.cron == "0 4 * * tue" and "set by an admin" in restarted.describe()
    job = restarted._scheduler.get_job("ftbot-retrain")  # type: ignore[union-attr]
    assert job is not None and f"{job.next_run_time:%a %H:%M}" == "Tue 04:00"
    restarted.set_cron("default")
    assert restarted.cron == "0 3 * * mon" and "(FTBOT_RETRAIN_CRON)" in restarted.describe()


def test_when_an_admin_sets_the_cron_on_a_standby_then_the_leader_applies_it(schedulers) -> None:
    leader, standby = schedulers("replica-a"), schedulers("replica-b")
    standby.set_cron("30 2 * * sun")
    _wait_for(lambda: leader.cron == "30 2 * * sun")
    job = leader._scheduler.get_job("ftbot-retrain")  # type: ignore[union-attr]
    assert f"{job.next_run_time:%a %H:%M}" == "Sun 02:30"


def test_when_the_scheduler_is_closed_then_the_job_function_does_nothing(schedulers, db) -> None:
    schedulers("replica-a").close()
    assert schedule._leader is None and retrain_job() is None
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(TrainingRun)) == 0
