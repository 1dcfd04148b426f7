"""Weekly retraining: APScheduler queues a run on a cron (UTC), in exactly one replica, the lease holder.

How the pieces fit:
- The job lives in APScheduler's SQLAlchemyJobStore on the project database (table apscheduler_jobs).
  It is `retrain_job`, a module-level function without arguments, so the job store never holds a
  database URL or password; the job finds the database through `_leader`, set by the running scheduler.
- Each firing queues a run keyed by its scheduled tick ("schedule:2026-11-23T03:00Z"); trigger_key is
  unique, so two firings of one tick (a retry, a second replica) make one run.
- Several replicas: each RetrainScheduler tries to take a database lease (table leases) every
  renew_seconds. Only the holder runs APScheduler; the others stand by and take over when the holder's
  lease expires (it crashed) or is released (close()).
- The cron: an admin's `/finetune schedule ...` (set_cron) is stored in the database and wins over
  FTBOT_RETRAIN_CRON / ftbot.toml, across restarts and replicas, until set_cron("default") removes it.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from ftbot.config import Settings
from ftbot.storage.db import Database
from ftbot.storage.models import AdminSetting, Lease, utcnow
from ftbot.storage.runs import DuplicateTrigger, RunAlreadyPending, enqueue
from ftbot.storage.workers import new_worker_id

log = logging.getLogger(__name__)

JOB_ID = "ftbot-retrain"
JOBS_TABLE = "apscheduler_jobs"
LEASE_NAME = "ftbot-retrain-scheduler"
CRON_KEY = "retrain_cron"
# A tick missed while no replica was up still runs if one starts within this long (coalesced to one run).
MISFIRE_GRACE_SECONDS = 6 * 3600
EXAMPLE = "minute hour day month day-of-week, e.g. '0 3 * * mon' (UTC)"


class InvalidCron(ValueError):
    """A schedule that is not a 5-field crontab expression; the message shows the expected form."""


def parse_cron(cron: str) -> CronTrigger:
    """A crontab expression (UTC) as an APScheduler trigger; raises InvalidCron with the reason."""
    fields = cron.split()
    if len(fields) != 5:
        raise InvalidCron(f"'{cron}' has {len(fields)} fields; a schedule has 5: {EXAMPLE}")
    fields[4] = _day_names(fields[4], cron)
    try:
        return CronTrigger.from_crontab(" ".join(fields), timezone="UTC")
    except ValueError as error:
        raise InvalidCron(f"'{cron}' is not a valid schedule ({error}); expected {EXAMPLE}") from None


_CRONTAB_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _day_names(field: str, cron: str) -> str:
    """crontab numbers weekdays from Sunday = 0 (or 7), APScheduler 3 from Monday = 0: numbers become names,
    which mean the same in both, so '0 3 * * 1' runs on Monday as cron users expect."""
    parts = []
    for part in field.split(","):
        single = re.fullmatch(r"([0-7])(?:-([0-7]))?", part)
        if single:
            first, last = int(single[1]), int(single[2] or single[1])
            if first > last:
                raise InvalidCron(f"'{cron}': day range {part} runs backwards; expected {EXAMPLE}")
            parts += [_CRONTAB_DAYS[day] for day in range(first, last + 1)]
        elif re.search(r"\d", part):
            raise InvalidCron(f"'{cron}': write weekdays with steps as names (mon-fri/2); expected {EXAMPLE}")
        else:
            parts.append(part)
    return ",".join(dict.fromkeys(parts))


def scheduled_tick(trigger: CronTrigger, now: datetime) -> datetime:
    """The latest fire time at or before `now` (UTC): every firing of one tick, however late, agrees on it."""
    tick = None
    candidate = trigger.get_next_fire_time(None, now - timedelta(seconds=MISFIRE_GRACE_SECONDS))
    while candidate is not None and candidate <= now:
        tick = candidate
        candidate = trigger.get_next_fire_time(candidate, candidate)
    return (tick or now).astimezone(UTC).replace(second=0, microsecond=0)


def enqueue_scheduled(db: Database, cron: str, now: datetime | None = None) -> int | None:
    """Queue the run of the tick at `now`; None when that tick already made a run or a run is pending."""
    tick = scheduled_tick(parse_cron(cron), now or datetime.now(UTC))
    key = f"schedule:{tick:%Y-%m-%dT%H:%M}Z"
    try:
        with db.session() as session:
            run_id = enqueue(session, trigger="schedule", requested_by="schedule", trigger_key=key).id
    except DuplicateTrigger as duplicate:
        log.info("scheduled retraining: %s", duplicate)
        return None
    except RunAlreadyPending as pending:
        # The pending run trains on the same data this one would: nothing is lost by skipping.
        log.info("scheduled retraining %s skipped: %s", key, pending)
        return None
    log.info("scheduled retraining %s queued run %d", key, run_id)
    return run_id


_leader: RetrainScheduler | None = None
_leader_lock = threading.Lock()


def retrain_job() -> int | None:
    """The job APScheduler stores and fires. It takes no arguments: the job store keeps no credentials."""
    with _leader_lock:
        scheduler = _leader
    if scheduler is None:
        log.warning("retraining job fired with no scheduler running in this process; ignored")
        return None
    return enqueue_scheduled(scheduler.db, scheduler.cron)


class RetrainScheduler:
    """Queues a retraining run on the cron. Ready on construction; close() stops it and frees the lease."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        holder: str | None = None,
        lease_seconds: float = 60.0,
        renew_seconds: float | None = None,
    ) -> None:
        self.settings, self.db = settings, db
        self.holder = holder or new_worker_id()
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds or lease_seconds / 4
        self.cron = self._effective_cron()[0]
        self._scheduler: BackgroundScheduler | None = None
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._tick()  # leads at once when the lease is free, so is_leader is right when this returns
        self._thread = threading.Thread(target=self._keep_lease, name="ftbot-retrain-lease", daemon=True)
        self._thread.start()

    @property
    def is_leader(self) -> bool:
        """Whether this process holds the lease and runs the schedule."""
        return self._scheduler is not None

    def describe(self) -> str:
        """The cron, where it comes from, and the next run time, in UTC."""
        cron, source = self._effective_cron()
        next_run = parse_cron(cron).get_next_fire_time(None, datetime.now(UTC))
        with self._lock:
            job = self._scheduler.get_job(JOB_ID) if self._scheduler else None
            if job is not None and job.next_run_time is not None and cron == self.cron:
                next_run = job.next_run_time  # includes a missed tick still within the grace time
        when = f"{next_run.astimezone(UTC):%a %Y-%m-%d %H:%M} UTC" if next_run else "never"
        return f"`{cron}` ({source}); next run {when}"

    def set_cron(self, cron: str, *, changed_by: str | None = None) -> None:
        """Change the schedule for every replica, until changed again; "default" goes back to
        FTBOT_RETRAIN_CRON. Raises InvalidCron (a ValueError) with the reason."""
        cron = " ".join(cron.split())
        with self.db.session() as session:
            stored = session.get(AdminSetting, CRON_KEY)
            if cron.lower() == "default":
                if stored is not None:
                    session.delete(stored)
            else:
                parse_cron(cron)
                if stored is None:
                    session.add(AdminSetting(key=CRON_KEY, value=cron, updated_by=changed_by))
                else:
                    stored.value, stored.updated_at, stored.updated_by = cron, utcnow(), changed_by
        log.info("retraining schedule set to %r", cron)
        self._tick()  # the leader applies it now; the others on their next renewal

    def close(self) -> None:
        """Stop scheduling here and free the lease, so a standby replica takes over at once."""
        self._closed.set()
        self._thread.join()
        with self._lock:
            self._stop_scheduler()
            release_lease(self.db, LEASE_NAME, self.holder)

    def _keep_lease(self) -> None:
        while not self._closed.wait(self.renew_seconds):
            try:
                self._tick()
            except Exception:  # this thread must outlive any one failure, or this replica never leads again
                log.exception("retraining scheduler %s: lease check failed; retrying", self.holder)

    def _tick(self) -> None:
        """Take or renew the lease; start, stop or re-cron the scheduler to match."""
        with self._lock:
            if self._closed.is_set():
                return
            try:
                leading = take_lease(self.db, LEASE_NAME, self.holder, self.lease_seconds)
                cron = self._effective_cron()[0]
            except Exception:  # the database is unreachable: stop scheduling until it is back
                log.warning("retraining scheduler %s cannot reach the database", self.holder, exc_info=True)
                leading, cron = False, self.cron
            if not leading:
                self._stop_scheduler()
            elif self._scheduler is None:
                self._start_scheduler(cron)
            elif cron != self.cron:
                self._schedule(self._scheduler, cron)

    def _start_scheduler(self, cron: str) -> None:
        global _leader
        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.db.engine, tablename=JOBS_TABLE)}, timezone=UTC
        )
        with _leader_lock:
            _leader = self
        scheduler.start(paused=True)  # nothing fires until the stored job is replaced with the current cron
        try:
            self._schedule(scheduler, cron)
        except BaseException:
            scheduler.shutdown(wait=False)
            with _leader_lock:
                _leader = None
            raise
        self._scheduler = scheduler
        scheduler.resume()
        log.info("retraining scheduler %s leads: %s", self.holder, self.describe())

    def _schedule(self, scheduler: BackgroundScheduler, cron: str) -> None:
        trigger = parse_cron(cron)
        options: dict[str, Any] = {}
        try:
            existing = scheduler.get_job(JOB_ID)
        except Exception:  # stored by another version of ftbot and no longer loadable: it is replaced below
            log.warning("the stored retraining job could not be loaded; replacing it", exc_info=True)
            existing = None
        if existing is not None and str(existing.trigger) == str(trigger) and existing.next_run_time is not None:
            # Keep the stored next run time: a tick missed while no replica led still fires (misfire grace).
            options["next_run_time"] = existing.next_run_time
        scheduler.add_job(
            retrain_job,
            trigger,
            id=JOB_ID,
            name="ftbot weekly retraining",
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
            max_instances=1,
            **options,
        )
        self.cron = cron

    def _stop_scheduler(self) -> None:
        global _leader
        if self._scheduler is None:
            return
        # Detach the job store first: APScheduler 3 may process due jobs once more after shutdown() has
        # stopped the executors, and would then advance the stored run time past a tick it never ran.
        self._scheduler.remove_jobstore("default")
        self._scheduler.shutdown(wait=True)
        self._scheduler = None
        with _leader_lock:
            if _leader is self:
                _leader = None
        log.info("retraining scheduler %s stands by", self.holder)

    def _effective_cron(self) -> tuple[str, str]:
        with self.db.session() as session:
            stored = session.get(AdminSetting, CRON_KEY)
            if stored is not None:
                return stored.value, f"set by an admin on {stored.updated_at:%Y-%m-%d}; FTBOT_RETRAIN_CRON is ignored"
        return self.settings.retrain_cron, "FTBOT_RETRAIN_CRON"


# The lease ----------------------------------------------------------------------------------------------------


def take_lease(db: Database, name: str, holder: str, seconds: float) -> bool:
    """Acquire or renew a lease: ours when it is free, expired, or already ours. Atomic across replicas:
    a conditional UPDATE, or an INSERT the primary key lets only one replica win."""
    now = utcnow()
    expires = now + timedelta(seconds=seconds)
    with db.session() as session:
        renewed = session.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
            .values(holder=holder, expires_at=expires)
        )
        if cast(CursorResult[Any], renewed).rowcount:
            return True
        if session.scalar(select(Lease.name).where(Lease.name == name)) is not None:
            return False  # held by another replica, and not expired
    try:
        with db.session() as session:
            session.add(Lease(name=name, holder=holder, expires_at=expires))
    except IntegrityError:
        return False  # another replica inserted it first
    return True


def release_lease(db: Database, name: str, holder: str) -> None:
    """Give the lease up (only if ours), so a standby needs not wait for it to expire."""
    with db.session() as session:
        session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
