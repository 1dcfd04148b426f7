"""/finetune: the admins' command for training runs, versions and the retraining schedule.

Every subcommand is a plain function from the parsed command to the text the admin sees, so tests call
them without Slack; listeners.py only checks who is asking and acks with the text.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Protocol

from bot.report import answer_scores
from ftbot.privacy import user_ref
from ftbot.storage import runs
from ftbot.storage.db import Database
from ftbot.storage.queries import needs_review
from ftbot.storage.versions import RegistryError, active_version, list_versions, rollback

log = logging.getLogger(__name__)

USAGE = (
    "Usage: `/finetune start` · `status` · `cancel` · `history` · `rollback [version]` · "
    "`schedule [cron]` (e.g. `/finetune schedule 0 3 * * mon`, UTC) · `forget <email, phone, name or @person>`"
)
# How Slack writes an email address and a mention in a command's text: <mailto:a@b.c|a@b.c>, <@U123|jana>.
_SLACK_LINK = re.compile(r"^<(?:mailto:|tel:)?([^|>]+)(?:\|[^>]*)?>$")
REFUSAL = "Sorry, only ftbot admins can use `/finetune`. Ask your Slack admin if you need access."


class Erasure(Protocol):
    """Erases a value everywhere and says what went (ftbot.erasure.forget, wired in bot/app.py)."""

    def __call__(self, value: str, requested_by: str) -> str: ...


class Schedule(Protocol):
    """The retraining schedule as /finetune sees it (trainer.schedule.RetrainScheduler)."""

    def describe(self) -> str: ...

    def set_cron(self, cron: str) -> None: ...


@dataclass
class FinetuneCommand:
    db: Database
    schedule: Schedule | None = None
    erase: Erasure | None = None
    # run id → (channel, user) of the `/finetune start` that queued it: the result is reported there.
    requested_in: dict[int, tuple[str, str]] = field(default_factory=dict)

    def handle(self, user_id: str, text: str, channel_id: str = "") -> str:
        """The reply to `/finetune <text>` from an admin."""
        name, _, rest = text.strip().partition(" ")
        handler = {
            "start": self.start,
            "status": self.status,
            "cancel": self.cancel,
            "history": self.history,
            "rollback": self.rollback,
            "schedule": self.schedule_command,
            "forget": self.forget,
        }.get(name.lower())
        if handler is None:
            return USAGE
        if name.lower() == "start":
            return self.start(user_id, channel_id)
        return handler(user_id, rest.strip())

    def start(self, user_id: str, channel_id: str) -> str:
        try:
            with self.db.session() as session:
                run = runs.enqueue(session, trigger="slack", requested_by=user_ref(user_id))
                run_id = run.id
        except runs.RunAlreadyPending as pending:
            return f":hourglass: Run #{pending.run_id} is already queued or running; `/finetune status` shows it."
        if channel_id:
            self.requested_in[run_id] = (channel_id, user_id)
        return f":rocket: Queued training run #{run_id}. I'll post the result when it's done (`/finetune status`)."

    def status(self, _: str, __: str) -> str:
        with self.db.session() as session:
            pending = runs.pending_run(session)
            last = runs.last_finished(session)
            active = active_version(session)
            review = needs_review(session)
        lines = [f"*Active model:* {active.name if active else 'base (no tuned version yet)'}"]
        if active is not None and (answers := answer_scores(active.metrics)) is not None:
            lines.append(f"*Its answers right:* {answers}")
        if active is not None and active.trained_on_erased_at is not None:
            lines.append("*Erasure:* it was trained on erased data; it answers until the retrain finishes, then goes")
        if pending is not None:
            lines.append(_describe_pending(pending))
        else:
            lines.append("*Now:* idle")
        if last is not None:
            lines.append(f"*Last run:* {_describe_finished(last)}")
        if review:
            lines.append(f"*Answers voted down, awaiting review:* {len(review)} (left out of training)")
            lines += [f"  • #{v.answer_id} “{_clip(v.question)}” → “{_clip(v.answer)}”" for v in review[:5]]
        return "\n".join(lines)

    def cancel(self, _: str, __: str) -> str:
        with self.db.session() as session:
            run = runs.request_cancel(session)
            if run is None:
                return "Nothing to cancel: no run is queued or running."
            state = run.status
            run_id = run.id
        if state == "cancelled":
            return f"Cancelled run #{run_id} before it started."
        if state == "failed":
            return f"Run #{run_id} had already stopped: its worker process is gone. Marked failed, nothing promoted."
        return f"Cancelling run #{run_id}: it stops after the current step, and nothing is promoted."

    def history(self, _: str, __: str) -> str:
        with self.db.session() as session:
            recent = runs.history(session, limit=10)
            versions = {v.name: v for v in list_versions(session)}
            active = next((name for name, v in versions.items() if v.is_active), None)
        if not recent:
            return "No training runs yet. `/finetune start` queues one."
        lines = ["*Recent runs* (newest first):"]
        for summary in recent:
            marker = " (active)" if summary.version and summary.version == active else ""
            lines.append(f"• {_describe_finished(summary)}{marker}")
        return "\n".join(lines)

    def rollback(self, _: str, version: str) -> str:
        try:
            with self.db.session() as session:
                target = rollback(session, version or None)
                name = target.name
        except RegistryError as error:
            return f"Can't roll back: {error}."
        return f":leftwards_arrow_with_hook: Model {name} is active again; the bot answers with it from now on."

    def forget(self, user_id: str, text: str) -> str:
        """Erase one value (a whole name may have spaces); the reply says what went, never repeats the value."""
        if self.erase is None:
            return "Erasure isn't set up in this process (start the bot with `ftbot serve`, or run `ftbot forget`)."
        value = slack_value(text)
        if not value:
            return "Usage: `/finetune forget jana@example.com` (an email, phone number, full name or @mention)."
        return ":wastebasket: " + self.erase(value, user_ref(user_id))

    def schedule_command(self, _: str, cron: str) -> str:
        if self.schedule is None:
            return "The scheduler isn't running in this process (start the bot with `ftbot serve`)."
        if cron:
            try:
                self.schedule.set_cron(cron)
            except ValueError as error:
                return f"Not a valid schedule: {error}"
        return f"Retraining schedule: {self.schedule.describe()}"


def slack_value(text: str) -> str:
    """The value in a command's text as the person typed it: Slack's <mailto:…> and <@U…|name> unwrapped."""
    text = text.strip()
    link = _SLACK_LINK.match(text)
    if link is None:
        return text
    return link.group(1).removeprefix("@")


def _describe_pending(run: runs.RunSummary) -> str:
    if run.status == "queued":
        return f"*Now:* run #{run.run_id} queued ({run.trigger})"
    progress = f"step {run.step}/{run.total_steps}" if run.total_steps else "preparing data"
    loss = f", loss {run.loss:.3f}" if run.loss is not None else ""
    eta = f", about {_minutes(run.eta_seconds)} left" if run.eta_seconds is not None else ""
    cancelling = " (cancelling)" if run.cancel_requested else ""
    return f"*Now:* run #{run.run_id} running: {progress}{loss}{eta}{cancelling}"


def _describe_finished(run: runs.RunSummary) -> str:
    when = run.finished_at.strftime("%Y-%m-%d %H:%M UTC") if run.finished_at else "not finished"
    if run.status == "succeeded":
        val = run.metrics.get("val_loss")
        outcome = "promoted" if run.promoted else "not promoted (did not beat the active version)"
        if verdict := run.metrics.get("verdict"):
            outcome = f"{'promoted' if run.promoted else 'not promoted'}: {verdict}"
        score = f", val loss {val:.3f}" if isinstance(val, float) else ""
        return f"#{run.run_id} succeeded {when}: {run.version}{score}, {outcome}"
    if run.status in ("failed", "cancelled"):
        reason = f": {run.error}" if run.error else ""
        return f"#{run.run_id} {run.status} {when}{reason}"
    return f"#{run.run_id} {run.status}"


def _minutes(seconds: float) -> str:
    return f"{max(1, round(seconds / 60))} min"


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
