"""Tells admins how a training run ended: a summary and the loss curve, posted to Slack."""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from trainer.report import loss_curve_png, summary_text
from trainer.runs import RunSummary

log = logging.getLogger(__name__)


class RunAnnouncer:
    """Posts to the admin channel and to where `/finetune start` was typed (each once)."""

    def __init__(self, client: WebClient, admin_channel: str | None, requested_in: dict[int, tuple[str, str]]) -> None:
        self.client, self.admin_channel, self.requested_in = client, admin_channel, requested_in

    def __call__(self, summary: RunSummary) -> None:
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
