"""The training worker: claims queued runs one at a time, trains them, and reports how each one ended."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ftbot.config import Settings
from ftbot.erasure import apply_retention, queue_retrain_after_erasure
from ftbot.storage.db import Database
from ftbot.storage.runs import RunSummary, claim_next, reap_stale, summarize
from ftbot.storage.workers import new_worker_id

log = logging.getLogger(__name__)

# How often the worker erases records past their retention (retention_days).
RETENTION_EVERY_S = 3600.0


class Worker:
    """Runs queued training runs. Several workers (processes, machines) may share one database: a claim is
    atomic, and runs whose worker died are failed by whichever worker looks next (reap_stale).

    Under `accelerate launch` (one worker, several processes) every process runs this loop: the main process
    claims and reports, and every process trains the run it claimed."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        worker_id: str | None = None,
        on_finished: Callable[[RunSummary], None] | None = None,
    ) -> None:
        self.settings, self.db = settings, db
        self.worker_id = worker_id or new_worker_id()
        self.on_finished = on_finished
        self._retention_checked = -RETENTION_EVERY_S

    def run_once(self) -> RunSummary | None:
        """Fail stale runs, then claim and train one queued run; its summary, or None when none was queued.

        on_finished hears of every ending, including runs reaped here after another worker died.
        """
        from ftbot.storage.runs import RunCancelled, RunLost
        from trainer.distributed import accelerator_for, on_main
        from trainer.pipeline import execute_run

        accelerator = accelerator_for(self.settings.device)
        run_id = on_main(accelerator, self._reap_and_claim)
        if run_id is None:
            return None
        try:
            execute_run(self.settings, self.db, run_id, worker_id=self.worker_id)
        except (RunCancelled, RunLost):  # recorded on the run; every process of a launch stopped at the same step
            log.info("run %d was cancelled or lost", run_id)
        except Exception:  # recorded on the run as failed
            log.exception("run %d did not succeed", run_id)
            if accelerator.num_processes > 1:
                raise  # the launch ends (see run_forever)
        return on_main(accelerator, lambda: self._announce(run_id))

    def _reap_and_claim(self) -> int | None:
        with self.db.session() as session:
            reaped = reap_stale(session, self.settings.worker_heartbeat_timeout_s)
        for stale in reaped:
            log.warning("run %d failed: its worker stopped sending heartbeats", stale)
            self._announce(stale)
        self._keep_retention()
        queue_retrain_after_erasure(self.db)
        run_id = claim_next(self.db, self.worker_id)
        if run_id is not None:
            log.info("worker %s claimed run %d", self.worker_id, run_id)
        return run_id

    def _keep_retention(self) -> None:
        """Erase what is past its retention, at most once per RETENTION_EVERY_S."""
        if time.monotonic() - self._retention_checked < RETENTION_EVERY_S:
            return
        self._retention_checked = time.monotonic()
        from connectors.anonymize.vault import vault_for

        apply_retention(self.settings, self.db, vault=vault_for(self.settings))

    def run_forever(self, stop: threading.Event, poll_seconds: float = 2.0) -> None:
        """Work until `stop` is set; it is checked between runs (a run in progress finishes first)."""
        from trainer.distributed import accelerator_for, on_main

        accelerator = accelerator_for(self.settings.device)  # a launch's processes stop together
        log.info("worker %s started", self.worker_id)
        while not on_main(accelerator, stop.is_set):
            try:
                summary = self.run_once()
            except Exception:  # e.g. the database is briefly unreachable: wait, then try again
                log.exception("worker %s: could not check the queue", self.worker_id)
                if accelerator.num_processes > 1:
                    # Another process of the launch may be waiting in a collective this one left: end them all
                    # (torchrun stops every process when one fails); the supervisor starts a fresh launch.
                    raise
                summary = None
            if summary is None:
                stop.wait(poll_seconds)
        log.info("worker %s stopped", self.worker_id)

    def _announce(self, run_id: int) -> RunSummary:
        with self.db.session() as session:
            summary = summarize(session, run_id)
        if self.on_finished is not None:
            try:
                self.on_finished(summary)
            except Exception:  # a Slack outage must not stop training
                log.exception("reporting run %d failed", run_id)
        return summary
