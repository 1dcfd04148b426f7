"""The training-run queue in the database: enqueue, claim, heartbeat, cancel, finish, and run summaries.

A run goes queued → running → succeeded | failed | cancelled, and every transition appends a timestamped
TrainingRunEvent. `pending` is True while a run is queued or running and NULL afterwards: its unique
constraint makes the database itself refuse a second pending run, across every replica.

Every state change is a conditional UPDATE (`... WHERE status = 'queued'`) whose row count says whether
this process won: that is what makes claiming safe with several workers and keeps a reaped run's worker
from overwriting its ending. On PostgreSQL, claim_next first locks its row (FOR UPDATE SKIP LOCKED), so
concurrent workers each take a different run instead of racing for the oldest. Functions that take a Session
never commit (the caller owns the transaction); claim and claim_next take the Database because a claim must
be its own short transaction to be atomic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Select, Update, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ftbot.storage.db import Database
from ftbot.storage.models import ModelVersion, TrainingRun, TrainingRunEvent, utcnow
from ftbot.storage.workers import place_and_pid, worker_process_gone

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
FINISHED = (SUCCEEDED, FAILED, CANCELLED)


class RunAlreadyPending(Exception):
    """Another run is queued or running; only one run may be pending at a time."""

    def __init__(self, run_id: int) -> None:
        super().__init__(f"run #{run_id} is already queued/running")
        self.run_id = run_id


class DuplicateTrigger(Exception):
    """A trigger_key (one scheduled tick) already made a run; firing the tick again makes no second run."""

    def __init__(self, trigger_key: str, run_id: int) -> None:
        super().__init__(f"{trigger_key} already made run #{run_id}")
        self.trigger_key, self.run_id = trigger_key, run_id


class RunCancelled(Exception):
    """Raised inside a run when an admin asked to cancel it: the run ends 'cancelled', nothing is promoted."""


class RunLost(Exception):
    """The run is no longer this worker's running run (it was reaped as stale): stop, and write nothing."""


# Queue -----------------------------------------------------------------------------------------------------


def enqueue(
    session: Session, *, trigger: str, requested_by: str | None = None, trigger_key: str | None = None
) -> TrainingRun:
    """Queue a run. Raises DuplicateTrigger when trigger_key already made a run (whatever its status),
    else RunAlreadyPending when a run is queued or running (one whose worker process died does not count)."""
    reap_dead(session)
    _refuse(session, trigger_key)
    run = TrainingRun(status=QUEUED, trigger=trigger, requested_by=requested_by, trigger_key=trigger_key, pending=True)
    session.add(run)
    try:
        session.flush()
    except IntegrityError:
        # Another replica won a race the check above could not see, and the unique constraints refused
        # this row. This transaction is spoiled (the caller rolls it back); a fresh session names the winner.
        # (No SAVEPOINT: on SQLite one opened as a transaction's first write commits when released.)
        with Session(session.get_bind()) as fresh:
            _refuse(fresh, trigger_key)
        raise
    _event(session, run.id, QUEUED, f"trigger {trigger}")
    return run


def _refuse(session: Session, trigger_key: str | None) -> None:
    if trigger_key is not None:
        earlier = session.scalar(select(TrainingRun.id).where(TrainingRun.trigger_key == trigger_key))
        if earlier is not None:
            raise DuplicateTrigger(trigger_key, earlier)
    pending = session.scalar(select(TrainingRun.id).where(TrainingRun.pending.is_(True)))
    if pending is not None:
        raise RunAlreadyPending(pending)


def request_cancel(session: Session) -> TrainingRun | None:
    """Cancel the pending run: a queued one ends 'cancelled' now; a running one is asked to stop
    (cancel_requested) and its worker ends it at the next optimizer step; one whose worker process is gone
    ends 'failed' now, and is returned so. None when nothing is pending."""
    run = session.scalar(select(TrainingRun).where(TrainingRun.pending.is_(True)))
    if run is None:
        return None
    if reap_dead(session):
        session.refresh(run)
        return run
    if not _end(session, run.id, CANCELLED, "cancelled before it started"):
        # It was claimed meanwhile, or was already running: the worker reads the flag between steps.
        ask_to_stop(session, run.id, "stops after the current step")
    session.refresh(run)
    return run


def ask_to_stop(session: Session, run_id: int, why: str) -> bool:
    """Ask a running run to stop after its current step (it ends cancelled, nothing promoted); False when it
    is not running or was asked already."""
    asked = _apply(
        session, _running(run_id).where(TrainingRun.cancel_requested.is_(False)).values(cancel_requested=True)
    )
    if asked:
        _event(session, run_id, "cancel_requested", why)
    return asked


def claim(db: Database, run_id: int, worker_id: str) -> bool:
    """Make one queued run this worker's running run; False when another worker (or a cancel) got there first."""
    with db.session() as session:
        return _start(session, run_id, worker_id)


def claim_next(db: Database, worker_id: str) -> int | None:
    """Claim the oldest queued run, atomically even with several workers and processes; None if none is queued."""
    oldest_queued = select(TrainingRun.id).where(TrainingRun.status == QUEUED).order_by(TrainingRun.id).limit(1)
    if db.engine.dialect.name == "postgresql":
        # Row locks: each worker locks a different queued row, skipping those others hold, so the row it
        # gets is its own until commit (the conditional UPDATE cannot lose) and no worker waits for another.
        with db.session() as session:
            run_id = session.scalar(oldest_queued.with_for_update(skip_locked=True))
            if run_id is not None:
                _start(session, run_id, worker_id)
        return run_id
    # SQLite has no row locks (and one writer at a time): read the oldest queued run, then let the
    # conditional UPDATE's row count decide who won it; a worker that lost tries the next.
    while True:
        with db.session() as session:
            run_id = session.scalar(oldest_queued)
        if run_id is None or claim(db, run_id, worker_id):
            return run_id


def reap_dead(session: Session) -> list[int]:
    """Fail, at once, running runs whose worker process on this host is gone (kill -9, a crash, a reboot).
    Every command that shows or acts on runs calls it first, so a dead run never looks alive."""
    running = session.execute(select(TrainingRun.id, TrainingRun.worker_id).where(TrainingRun.status == RUNNING)).all()
    reaped = []
    for run_id, worker_id in running:
        if worker_id and worker_process_gone(worker_id):
            place, pid = place_and_pid(worker_id)
            error = f"its worker process {pid} on {place.partition('/')[0]} is gone (killed or crashed)"
            if _end(session, run_id, FAILED, error, expect=RUNNING, where=TrainingRun.worker_id == worker_id):
                reaped.append(run_id)
    return reaped


def reap_stale(session: Session, timeout_s: float) -> list[int]:
    """Fail running runs whose worker is gone: its process on this host no longer exists (reap_dead), or,
    wherever it ran, it wrote no heartbeat for timeout_s."""
    dead = reap_dead(session)
    cutoff = utcnow() - timedelta(seconds=timeout_s)
    last_seen = func.coalesce(TrainingRun.heartbeat_at, TrainingRun.started_at, TrainingRun.created_at)
    stale = session.scalars(select(TrainingRun.id).where(TrainingRun.status == RUNNING, last_seen < cutoff)).all()
    error = f"worker stopped responding (no heartbeat for {timeout_s:g} s)"
    # The condition is repeated in the UPDATE: a worker that beats just now keeps its run.
    return dead + [
        run_id for run_id in stale if _end(session, run_id, FAILED, error, expect=RUNNING, where=last_seen < cutoff)
    ]


# A running run, from its worker's side ----------------------------------------------------------------------


def beat(
    session: Session,
    run_id: int,
    worker_id: str,
    *,
    step: int | None = None,
    total_steps: int | None = None,
    loss: float | None = None,
    metrics: dict[str, Any] | None = None,
) -> bool:
    """Record that the worker is alive, with its progress; returns whether a cancel was requested.
    Raises RunLost when the run is no longer this worker's running run."""
    progress = {"step": step, "total_steps": total_steps, "loss": loss, "metrics": metrics}
    values = {"heartbeat_at": utcnow(), **{k: v for k, v in progress.items() if v is not None}}
    if not _apply(session, _running(run_id, worker_id).values(**values)):
        raise RunLost(f"run #{run_id} is no longer running on worker {worker_id}")
    return bool(session.scalar(select(TrainingRun.cancel_requested).where(TrainingRun.id == run_id)))


def finish(
    session: Session,
    run_id: int,
    worker_id: str,
    status: str,
    message: str = "",
    *,
    error: str | None = None,
    metrics: dict[str, Any] | None = None,
) -> None:
    """End this worker's running run. Success is refused while a cancel is requested (raises RunCancelled);
    a run that is no longer this worker's raises RunLost and is left as it is."""
    statement = _running(run_id, worker_id)
    if status == SUCCEEDED:
        statement = statement.where(TrainingRun.cancel_requested.is_(False))
    values: dict[str, Any] = {"status": status, "pending": None, "finished_at": utcnow(), "error": error}
    if metrics is not None:
        values["metrics"] = metrics
    if not _apply(session, statement.values(**values)):
        now = session.execute(select(TrainingRun.status, TrainingRun.worker_id).where(TrainingRun.id == run_id)).one()
        if status == SUCCEEDED and tuple(now) == (RUNNING, worker_id):  # still ours: only the cancel blocked it
            raise RunCancelled(f"run #{run_id} was cancelled")
        raise RunLost(f"run #{run_id} is no longer running on worker {worker_id}")
    _event(session, run_id, status, message or error or "")


def _start(session: Session, run_id: int, worker_id: str) -> bool:
    now = utcnow()
    started = _apply(
        session,
        update(TrainingRun)
        .where(TrainingRun.id == run_id, TrainingRun.status == QUEUED)
        .values(status=RUNNING, worker_id=worker_id, started_at=now, heartbeat_at=now),
    )
    if started:
        _event(session, run_id, "started", f"worker {worker_id}")
    return started


def _running(run_id: int, worker_id: str | None = None) -> Update:
    statement = update(TrainingRun).where(TrainingRun.id == run_id, TrainingRun.status == RUNNING)
    return statement if worker_id is None else statement.where(TrainingRun.worker_id == worker_id)


def _end(session: Session, run_id: int, status: str, error: str, *, expect: str = QUEUED, where: Any = None) -> bool:
    statement = update(TrainingRun).where(TrainingRun.id == run_id, TrainingRun.status == expect)
    if where is not None:
        statement = statement.where(where)
    ended = _apply(session, statement.values(status=status, pending=None, finished_at=utcnow(), error=error))
    if ended:
        _event(session, run_id, status, error)
    return ended


def _apply(session: Session, statement: Update) -> bool:
    """Run a conditional UPDATE; True when it changed a row (this process won the transition)."""
    result = session.execute(statement.execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount > 0


def _event(session: Session, run_id: int, kind: str, message: str) -> None:
    session.add(TrainingRunEvent(run_id=run_id, kind=kind, message=message))


# Summaries -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    """A run as people see it: state, progress, outcome, loss curve and lifecycle. Times are naive UTC."""

    run_id: int
    status: str
    trigger: str
    requested_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    step: int
    total_steps: int
    loss: float | None
    eta_seconds: float | None  # None unless running
    version: str | None  # the model version the run produced
    promoted: bool | None  # None unless succeeded
    metrics: dict[str, Any]  # val_loss, active_val_loss, tokens_per_second, ... (the loss curve is apart)
    error: str | None
    loss_curve: list[tuple[int, float]]
    events: list[tuple[datetime, str, str]]  # (at, kind, message), oldest first
    worker_id: str | None = None
    cancel_requested: bool = False

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return ((self.finished_at or utcnow()) - self.started_at).total_seconds()


def summarize(session: Session, run_id: int) -> RunSummary:
    """One run's summary; raises LookupError for an unknown id."""
    found = _summaries(session, select(TrainingRun).where(TrainingRun.id == run_id))
    if not found:
        raise LookupError(f"no training run #{run_id}")
    return found[0]


def pending_run(session: Session) -> RunSummary | None:
    """The queued or running run, if any."""
    found = _summaries(session, select(TrainingRun).where(TrainingRun.pending.is_(True)))
    return found[0] if found else None


def last_finished(session: Session) -> RunSummary | None:
    """The run that ended most recently (succeeded, failed or cancelled)."""
    latest = (
        select(TrainingRun)
        .where(TrainingRun.status.in_(FINISHED))
        .order_by(TrainingRun.finished_at.desc(), TrainingRun.id.desc())
        .limit(1)
    )
    found = _summaries(session, latest)
    return found[0] if found else None


def history(session: Session, limit: int = 10) -> list[RunSummary]:
    """The latest runs, newest first."""
    return _summaries(session, select(TrainingRun).order_by(TrainingRun.id.desc()).limit(limit))


def _summaries(session: Session, query: Select[TrainingRun]) -> list[RunSummary]:
    reap_dead(session)  # whoever looks at runs sees a dead one as failed, not "running, 4 min left"
    # populate_existing: the conditional UPDATEs above bypass the identity map, so never trust cached rows.
    runs = session.scalars(query.execution_options(populate_existing=True)).all()
    ids = [run.id for run in runs]
    named = session.execute(select(ModelVersion.run_id, ModelVersion.name).where(ModelVersion.run_id.in_(ids)))
    versions: dict[int | None, str] = dict(named.tuples().all())
    events: dict[int, list[tuple[datetime, str, str]]] = {run_id: [] for run_id in ids}
    for e in session.scalars(
        select(TrainingRunEvent).where(TrainingRunEvent.run_id.in_(ids)).order_by(TrainingRunEvent.id)
    ):
        events[e.run_id].append((e.at, e.kind, e.message))
    return [_summary(run, versions.get(run.id), events[run.id]) for run in runs]


def _summary(run: TrainingRun, version: str | None, events: list[tuple[datetime, str, str]]) -> RunSummary:
    metrics = dict(run.metrics or {})
    curve = [(int(step), float(loss)) for step, loss in metrics.pop("loss_curve", [])]
    eta = None
    if run.status == RUNNING and run.total_steps and metrics.get("seconds_per_step"):
        eta = float(metrics["seconds_per_step"]) * max(0, run.total_steps - run.step)
    promoted = bool(metrics["promoted"]) if run.status == SUCCEEDED and "promoted" in metrics else None
    return RunSummary(
        run_id=run.id,
        status=run.status,
        trigger=run.trigger,
        requested_by=run.requested_by,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        step=run.step,
        total_steps=run.total_steps,
        loss=run.loss,
        eta_seconds=eta,
        version=version,
        promoted=promoted,
        metrics=metrics,
        error=run.error,
        loss_curve=curve,
        events=events,
        worker_id=run.worker_id,
        cancel_requested=run.cancel_requested,
    )
