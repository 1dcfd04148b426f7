"""The running Slack bot: a Bolt app wired to the answerer, /finetune and the training announcer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient

from bot.admins import AdminCheck
from bot.announce import RunAnnouncer, follow_finished_runs
from bot.commands import FinetuneCommand, Schedule
from bot.listeners import BotContext, register_listeners
from bot.responder import Responder
from connectors.anonymize import Anonymizer
from ftbot.answering.answer import Answerer
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
    """The Slack side of `ftbot serve` besides the transport: the Bolt app, its listeners, the responder and the
    training announcer. Ready on construction; close() stops it.

    Training is not started here: the composer (ftbot/cli/serve.py) runs the worker and the scheduler beside
    the bot, hands the scheduler in for `/finetune schedule`, and the bot's `announcer` to the worker.
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        answerer: Answerer,
        anonymizer: Anonymizer,
        connection: SlackConnection,
        *,
        schedule: Schedule | None = None,
    ) -> None:
        self.db = db
        self.client = WebClient(token=connection.bot_token, base_url=connection.api_url or SLACK_API_URL)
        self.app = App(
            client=self.client,
            signing_secret=connection.signing_secret or "",
            request_verification_enabled=connection.signing_secret is not None,
        )
        bot_user_id = self.client.auth_test()["user_id"]
        self.responder = Responder(answerer, self.client)
        finetune = FinetuneCommand(db, schedule, erase=ErasureService(settings, db))
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
        # How a run's end reaches Slack: the worker calls it, or follow_finished_runs when runs train elsewhere.
        self.announcer = RunAnnouncer(self.client, settings.slack.admin_channel, finetune.requested_in)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def follow_finished_runs(self, is_leader: Callable[[], bool]) -> None:
        """Announce runs that other processes train (a GPU host's `ftbot worker`), from the leader replica."""
        thread = threading.Thread(
            target=follow_finished_runs,
            args=(self.db, self.announcer, is_leader, self._stop),
            name="ftbot-announcer",
            daemon=True,
        )
        thread.start()
        self._threads.append(thread)

    def close(self) -> None:
        self._stop.set()
        self.responder.close()
        for thread in self._threads:
            thread.join(timeout=5)


class ErasureService:
    """/finetune forget: erase a value everywhere, then queue the retrain that replaces a marked active version."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings, self.db = settings, db

    def __call__(self, value: str, requested_by: str) -> str:
        from connectors.anonymize.vault import vault_for
        from ftbot.erasure import describe, forget, queue_retrain_after_erasure

        report = forget(self.settings, self.db, [value], requested_by=requested_by, vault=vault_for(self.settings))
        run_id = queue_retrain_after_erasure(self.db)
        retrain = f"\nRetrain queued as run #{run_id}; the active version answers until it finishes." if run_id else ""
        return describe(report) + retrain
