"""Answers questions off the request path: one worker thread owns the model, Slack requests only enqueue.

Slack needs an ack within 3 seconds and generation takes longer, so a listener posts a placeholder and
queues the question; the worker answers in order and updates the placeholder in place. One worker, because
on a CPU host parallel generations only slow each other down.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from slack_sdk import WebClient

from bot import metrics
from bot.blocks import answer_blocks
from ftbot.answering.answer import Answerer
from ftbot.prompt import DONT_KNOW

log = logging.getLogger(__name__)

WORKING_REACTION = "eyes"
SORRY = "Sorry, something went wrong while answering. Please try again in a minute."


@dataclass(frozen=True)
class Question:
    text: str
    channel: str
    message_ts: str  # the asker's message (it carries the 👀 reaction while we work)
    placeholder_ts: str  # our reply, updated in place with the answer


class Responder:
    """A queue of questions and the thread that answers them. Ready on construction; close() stops it."""

    def __init__(self, answerer: Answerer, client: WebClient) -> None:
        self.answerer, self.client = answerer, client
        self._queue: queue.Queue[Question | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="ftbot-responder", daemon=True)
        self._thread.start()

    def submit(self, question: Question) -> None:
        self._queue.put(question)

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _work(self) -> None:
        while (question := self._queue.get()) is not None:
            started = time.perf_counter()
            try:
                self._answer(question, started)
            except Exception:  # one failed answer must not stop the bot
                log.exception("answering a question in %s failed", question.channel)
                metrics.answered("error", time.perf_counter() - started)
                self._safely(self.client.chat_update, channel=question.channel, ts=question.placeholder_ts, text=SORRY)
            finally:
                self._safely(
                    self.client.reactions_remove,
                    channel=question.channel,
                    timestamp=question.message_ts,
                    name=WORKING_REACTION,
                )

    def _answer(self, question: Question, started: float) -> None:
        if self.answerer.reload_if_promoted():
            log.info("now answering with model version %s", self.answerer.generator.version)
        result = self.answerer.answer(
            question.text, channel="slack", slack_channel=question.channel, slack_ts=question.placeholder_ts
        )
        self.client.chat_update(
            channel=question.channel,
            ts=question.placeholder_ts,
            text=result.answer,  # the notification and accessibility text
            blocks=answer_blocks(result.answer, result.sources, result.model_version, result.answer_id),
        )
        metrics.answered("dont_know" if result.answer == DONT_KNOW else "answered", time.perf_counter() - started)
        metrics.answering_with(result.model_version)

    @staticmethod
    def _safely(call, **kwargs) -> None:  # type: ignore[no-untyped-def]
        try:
            call(**kwargs)
        except Exception:
            log.warning("Slack call %s failed", getattr(call, "__name__", call), exc_info=True)
