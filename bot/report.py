"""How a finished run reads to people: a Slack mrkdwn summary and a small loss-curve PNG. Pure functions."""

from __future__ import annotations

import io

from ftbot.storage.runs import CANCELLED, FAILED, SUCCEEDED, RunSummary

_ICONS = {SUCCEEDED: ":white_check_mark:", FAILED: ":x:", CANCELLED: ":no_entry_sign:"}


def loss_curve_png(points: list[tuple[int, float]]) -> bytes:
    """Training loss per optimizer step, as a PNG of about 600x300 pixels."""
    # The object-oriented API with the Agg canvas: no pyplot global state, safe in the worker's thread.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if points:
        steps, losses = zip(*points, strict=True)
        axes.plot(steps, losses, linewidth=1.2, color="#1264a3")
    else:
        axes.text(0.5, 0.5, "no steps recorded", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlabel("step")
    axes.set_ylabel("training loss")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def summary_text(summary: RunSummary) -> str:
    """The run's outcome in Slack mrkdwn: status, version, validation loss against the active version,
    whether it was promoted and why, steps, speed, duration, and the error of a failed run."""
    m = summary.metrics
    icon = _ICONS.get(summary.status, ":hourglass:")
    head = f"{icon} *Training run #{summary.run_id} {summary.status}*"
    if summary.version:
        head += f" · version `{summary.version}`"
    lines = [head]
    if summary.status == SUCCEEDED:
        lines.append(_verdict(summary))
    elif summary.error:
        lines.append(f"*Reason:* {summary.error}")
    lines.append(f"*Steps:* {summary.step}/{summary.total_steps}" + _speed(summary))
    if "train_examples" in m:
        lines.append(f"*Examples:* {m['train_examples']} train, {m.get('val_examples', 0)} validation")
    lines.append(f"*Trigger:* {summary.trigger}")
    return "\n".join(lines)


def answer_scores(metrics: dict) -> str | None:
    """The answer gate's scores in one line ("answers right: 78% (v3) vs 61% base+retrieval, 70% active v2 ·
    40 questions"), or None for a run the gate did not ask."""
    answers = metrics.get("answers")
    if not isinstance(answers, dict) or not answers.get("questions"):
        return None
    line = f"{answers['candidate']:.0%} vs {answers['base']:.0%} for the base model with retrieval"
    if answers.get("active") is not None:
        line += f", {answers['active']:.0%} for `{answers.get('active_version')}`"
    return f"{line} ({answers['questions']} held-out questions)"


def _verdict(summary: RunSummary) -> str:
    m = summary.metrics
    if (answers := answer_scores(m)) is not None:
        decision = "yes, it now answers questions" if summary.promoted else "no"
        loss = _loss(m.get("val_loss"))
        return f"*Answers right:* {answers}\n*Val loss:* {loss}\n*Promoted:* {decision} ({m.get('verdict')})"
    val, active, active_loss = m.get("val_loss"), m.get("active_version"), m.get("active_val_loss")
    margin = float(m.get("promotion_margin") or 0.0)
    score = f"*Val loss:* {_loss(val)}"
    if active is not None and active_loss is not None:
        score += f" vs {_loss(active_loss)} for active `{active}` (same validation set)"
    if summary.promoted:
        if active_loss is None:
            why = "no earlier version to compare with" if active is None else f"`{active}` could not be scored"
        else:
            why = f"it beats `{active}`" + (f" by more than the margin {margin:g}" if margin else "")
        return f"{score}\n*Promoted:* yes, it now answers questions ({why})"
    if val is None:
        why = "there was no validation set to score it on"
    else:
        improvement = f" by more than the margin {margin:g}" if margin else ""
        why = f"it does not beat `{active}`{improvement}, which keeps serving"
    return f"{score}\n*Promoted:* no ({why})"


def _speed(summary: RunSummary) -> str:
    parts = []
    if (rate := summary.metrics.get("tokens_per_second")) is not None:
        parts.append(f"{rate:g} tokens/s")
    if (seconds := summary.duration_seconds) is not None:
        parts.append(f"took {_duration(seconds)}")
    if device := summary.metrics.get("device"):
        parts.append(f"on {device}")
    return f" · {', '.join(parts)}" if parts else ""


def _loss(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "n/a"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
