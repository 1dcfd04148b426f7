"""Run reports: the loss-curve PNG and the Slack summary of how a run ended."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.report import loss_curve_png, summary_text
from ftbot.storage.runs import RunSummary

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STARTED = datetime(2026, 11, 23, 3, 0)


def _summary(status: str = "succeeded", promoted: bool | None = True, **metrics: Any) -> RunSummary:
    return RunSummary(
        run_id=7,
        status=status,
        trigger="schedule",
        requested_by=None,
        created_at=STARTED,
        started_at=STARTED,
        finished_at=STARTED + timedelta(minutes=3, seconds=5),
        step=40,
        total_steps=40,
        loss=0.8,
        eta_seconds=None,
        version="v7" if status == "succeeded" else None,
        promoted=promoted,
        metrics={
            "val_loss": 0.91,
            "active_version": "v5",
            "active_val_loss": 1.02,
            "tokens_per_second": 812.5,
            "train_examples": 120,
            "val_examples": 12,
            "device": "cpu",
            **metrics,
        },
        error=None,
        loss_curve=[(1, 2.0), (2, 1.5)],
        events=[],
    )


@pytest.mark.parametrize("points", [[(1, 2.5), (2, 2.1), (3, 1.7)], [(1, 2.5)], []])
def test_when_a_loss_curve_is_drawn_then_it_is_a_small_png(points: list[tuple[int, float]]) -> None:
    png = loss_curve_png(points)
    assert png.startswith(PNG_SIGNATURE) and len(png) < 100_000


def test_when_a_run_beats_the_active_version_then_the_summary_says_promoted_and_why() -> None:
    text = summary_text(_summary())
    assert "*Training run #7 succeeded* · version `v7`" in text
    assert "*Val loss:* 0.9100 vs 1.0200 for active `v5` (same validation set)" in text
    assert "*Promoted:* yes" in text and "it beats `v5`" in text
    assert "40/40" in text and "812.5 tokens/s" in text and "3 min 5 s" in text


def test_when_the_first_version_is_trained_then_the_summary_says_there_was_nothing_to_compare() -> None:
    text = summary_text(_summary(active_version=None, active_val_loss=None))
    assert "*Promoted:* yes" in text and "no earlier version" in text


def test_when_a_run_does_not_beat_the_active_version_then_the_summary_says_not_promoted() -> None:
    text = summary_text(_summary(promoted=False, val_loss=1.1, promotion_margin=0.05))
    assert "*Promoted:* no" in text and "does not beat `v5` by more than the margin 0.05" in text
    assert "keeps serving" in text


@pytest.mark.parametrize(
    ("status", "error"),
    [("failed", "RuntimeError: out of memory"), ("cancelled", "cancelled on request at step 3/40")],
)
def test_when_a_run_did_not_succeed_then_the_summary_gives_the_reason(status: str, error: str) -> None:
    summary = replace(_summary(status, promoted=None), error=error, step=3, metrics={})
    text = summary_text(summary)
    assert f"*Training run #7 {status}*" in text and f"*Reason:* {error}" in text and "3/40" in text
    assert "Promoted" not in text
