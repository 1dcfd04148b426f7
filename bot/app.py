"""The running Slack bot: a Bolt app wired to the answerer, the training worker and the scheduler."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.admins import AdminCheck
from bot.announce import RunAnnouncer, follow_finished_runs
from bot.answer import Answerer
from bot.commands import FinetuneCommand
from bot.listeners import BotContext, register_listeners
from bot.responder import Responder
from connectors.anonymize import Anonymizer
from ftbot.config import Settings
from ftbot.storage.db import Database

log = logging.getLogger(__name__)

SLACK_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class SlackConnection:
    """Where the Web API is and how the bot proves who it is."""

    bot_token: str
    # Checked by Bolt on every HTTP request; None for Socket Mode, where Slack needs no signatures.
    signing_secret: str | None
    api_url: str | None = None


class SlackBot:
    """Everything `ftbot serve` runs besides the transport. Ready on construction; close() stops it.

    The training worker and the weekly scheduler run inside the bot by default; a GPU host runs
    `ftbot worker` instead and the bot is started with run_worker=False.
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        answerer: Answerer,
        anonymizer: Anonymizer,
        connection: SlackConnection,
        *,
        run_worker: bool = True,
        run_scheduler: bool = True,
    ) -> None:
        self.client = WebClient(token=connection.bot_token, base_url=connection.api_url or SLACK_API_URL)
        self.app = App(
            client=self.client,
            signing_secret=connection.signing_secret or "",
            request_verification_enabled=connection.signing_secret is not None,
        )
        bot_user_id = self.client.auth_test()["user_id"]
        self.responder = Responder(answerer, self.client)
        self.scheduler = _start_scheduler(settings, db) if run_scheduler else None
        finetune = FinetuneCommand(db, self.scheduler, erase=ErasureService(settings, db))
        register_listeners(
            self.app,
            BotContext(
                db=db,
                slack=settings.slack,
                responder=self.responder,
                anonymizer=anonymizer,
                finetune=finetune,
                is_admin=AdminCheck(settings.admins, self.client),
                bot_user_id=bot_user_id,
                keys=settings.personal_keys(),
            ),
        )
        self._stop = threading.Event()
        announcer = RunAnnouncer(self.client, settings.slack.admin_channel, finetune.requested_in)
        self._threads: list[threading.Thread] = []
        if run_worker:
            self._threads.append(_start_worker(settings, db, announcer, self._stop))
        elif self.scheduler is not None:  # runs are trained elsewhere: announce them when they end
            scheduler = self.scheduler
            self._threads.append(
                _in_thread(
                    "ftbot-announcer", follow_finished_runs, db, announcer, lambda: scheduler.is_leader, self._stop
                )
            )

    def close(self) -> None:
        self._stop.set()
        if self.scheduler is not None:
            self.scheduler.close()
        self.responder.close()
        for thread in self._threads:
            thread.join(timeout=5)


class ErasureService:
    """/finetune forget: erase a value everywhere, then queue the retrain that replaces a marked active version."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings, self.db = settings, db

    def __call__(self, value: str, requested_by: str) -> str:
        from connectors.pseudonym_vault import vault_for
        from ftbot.erasure import describe, forget
        from trainer.worker import queue_retrain_after_erasure

        report = forget(self.settings, self.db, [value], requested_by=requested_by, vault=vault_for(self.settings))
        run_id = queue_retrain_after_erasure(self.db)
        retrain = f"\nRetrain queued as run #{run_id}; the active version answers until it finishes." if run_id else ""
        return describe(report) + retrain


def _start_scheduler(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    from trainer.schedule import RetrainScheduler

    return RetrainScheduler(settings, db)


def _start_worker(settings: Settings, db: Database, announcer: RunAnnouncer, stop: threading.Event) -> threading.Thread:
    from trainer.worker import Worker

    worker = Worker(settings, db, on_finished=announcer)
    return _in_thread("ftbot-worker", worker.run_forever, stop)


def _in_thread(name: str, target: Callable[..., None], *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread
