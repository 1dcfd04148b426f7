"""Block Kit builders for the bot's messages and modals. Pure functions: data in, JSON-ready dicts out."""

from __future__ import annotations

from typing import Any

THINKING_TEXT = ":hourglass_flowing_sand: Looking that up…"
UPVOTE_ACTION = "feedback_up"
DOWNVOTE_ACTION = "feedback_down"
FEEDBACK_VIEW = "feedback_reason"
REASON_BLOCK, REASON_INPUT = "reason", "reason_input"
CORRECTION_BLOCK, CORRECTION_INPUT = "correction", "correction_input"

Blocks = list[dict[str, Any]]


def thinking_blocks() -> Blocks:
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": THINKING_TEXT}]}]


def answer_blocks(answer: str, sources: list[str], model_version: str, answer_id: int | None) -> Blocks:
    """The answer, a context line (sources and model version), and 👍/👎 buttons carrying the answer id."""
    context = f"Sources: {', '.join(sources)}" if sources else "No sources"
    blocks: Blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": answer}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{context} · model {model_version}"}]},
    ]
    if answer_id is not None:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"feedback-{answer_id}",
                "elements": [
                    _button(":thumbsup: Helpful", UPVOTE_ACTION, answer_id),
                    _button(":thumbsdown: Not helpful", DOWNVOTE_ACTION, answer_id),
                ],
            }
        )
    return blocks


def _button(text: str, action_id: str, answer_id: int) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": str(answer_id),
    }


def feedback_modal(answer_id: int, *, can_correct: bool) -> dict[str, Any]:
    """Asked after a 👎: an optional reason, and for admins the correct answer to train on."""
    blocks: Blocks = [_text_input(REASON_BLOCK, REASON_INPUT, "What was wrong? (optional)")]
    if can_correct:
        blocks.append(_text_input(CORRECTION_BLOCK, CORRECTION_INPUT, "The correct answer (admins; optional)"))
    return {
        "type": "modal",
        "callback_id": FEEDBACK_VIEW,
        "private_metadata": str(answer_id),
        "title": {"type": "plain_text", "text": "Improve this answer"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Skip"},
        "blocks": blocks,
    }


def _text_input(block_id: str, action_id: str, label: str) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": True,
        "label": {"type": "plain_text", "text": label},
        "element": {"type": "plain_text_input", "action_id": action_id, "multiline": True},
    }


def view_value(view: dict[str, Any], block_id: str, action_id: str) -> str:
    """A text input's value from a view_submission's state ('' when empty or absent)."""
    value = view.get("state", {}).get("values", {}).get(block_id, {}).get(action_id, {}).get("value")
    return (value or "").strip()
