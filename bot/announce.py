"""Tells admins how a training run ended: a summary and the loss curve, posted to Slack."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from slack_sdk import WebClient

from bot import metrics
from bot.report import loss_curve_png, summary_text
from ftbot.storage.db import Database
from ftbot.storage.runs import RunSummary, history

log = logging.getLogger(__name__)


class RunAnnouncer:
    """Posts to the admin channel and to where `/finetune start` was typed (each once)."""

    def __init__(self, client: WebClient, admin_channel: str | None, requested_in: dict[int, tuple[str, str]]) -> None:
        self.client, self.admin_channel, self.requested_in = client, admin_channel, requested_in

    def __call__(self, summary: RunSummary) -> None:
        # Counted here, where each ending is announced once (by the leader replica), so replicas' sums are right.
        metrics.run_finished(summary.status)
        channels = [self.admin_channel] if self.admin_channel else []
        if (requested := self.requested_in.pop(summary.run_id, None)) and requested[0] not in channels:
            channels.append(requested[0])
        if not channels:
            log.info("run %d ended (%s); no admin channel is set to post it in", summary.run_id, summary.status)
            return
        text = summary_text(summary)
        for channel in channels:
            if summary.loss_curve:
                self.client.files_upload_v2(
                    channel=channel,
                    file=loss_curve_png(summary.loss_curve),
                    filename=f"ftbot-run-{summary.run_id}-loss.png",
                    title=f"Training loss, run #{summary.run_id}",
                    initial_comment=text,
                )
            else:
                self.client.chat_postMessage(channel=channel, text=text)


def follow_finished_runs(
    db: Database,
    announce: Callable[[RunSummary], None],
    is_leader: Callable[[], bool],
    stop: threading.Event,
    poll_s: float = 10.0,
) -> None:
    """Announce runs that workers in other processes (`ftbot worker` on a GPU host) finish.

    Every replica follows along; only the scheduler's lease holder posts, so a run is announced once.
    Runs that ended before this bot started are not announced again.
    """
    last_seen = _newest_finished_id(db)
    while not stop.wait(poll_s):
        try:
            with db.session() as session:
                finished = [r for r in history(session, limit=20) if r.finished_at and r.run_id > last_seen]
            for summary in sorted(finished, key=lambda r: r.run_id):
                if is_leader():
                    announce(summary)
                last_seen = max(last_seen, summary.run_id)
        except Exception:  # the database or Slack being away must not end the loop
            log.exception("announcing finished runs failed; retrying in %s s", poll_s)


def _newest_finished_id(db: Database) -> int:
    with db.session() as session:
        return max((r.run_id for r in history(session, limit=20) if r.finished_at), default=0)
