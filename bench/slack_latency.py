"""Answer latency through Slack: from an event delivered by the local stand-in to the answer posted.

The bot runs as `ftbot serve` does in local mode (Bolt over HTTP, signed deliveries, the responder thread,
the bundled model with the active adapter). Each question is posted as an @mention in #general; the clock
stops when the bot's placeholder in the thread has been updated with the answer. Questions go one at a
time, so the figure is latency, not queueing. The in-process answer time of the same questions (stored
with each answer) is the baseline: the difference is what Slack plumbing costs.

    .venv/bin/python bench/slack_latency.py --questions 56

Needs a trained demo (`make demo`) in FTBOT_HOME (default ./var).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BOT, ALICE, GENERAL = "U0FTBOT", "U0ALICE", "C0GENERAL"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ask(standin, question: str) -> tuple[float, str]:  # type: ignore[no-untyped-def]
    """Post a question as Alice; milliseconds until the bot's answer is in the thread, and its ts."""
    from bot.blocks import THINKING_TEXT

    started = time.perf_counter()
    asked = standin.post_message(ALICE, GENERAL, f"<@{BOT}> {question}")

    def answered():  # type: ignore[no-untyped-def]
        replies = [m for m in standin.replies(GENERAL, asked.ts) if m.get("text") != THINKING_TEXT]
        return replies[0] if replies else None

    reply = standin.wait_for(answered, timeout=120, interval=0.025)  # coarser polling steals less CPU
    return (time.perf_counter() - started) * 1000, reply["ts"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=56)
    parser.add_argument("--file", type=Path, default=Path(__file__).resolve().parent.parent / "examples/eval.jsonl")
    args = parser.parse_args()

    from transformers import logging as hf_logging

    hf_logging.set_verbosity_error()
    import torch
    from sqlalchemy import select

    from bot.serve import ServeOptions, running_bot
    from connectors.anonymize import Anonymizer
    from ftbot.answering.answer import Answerer
    from ftbot.config import load_settings
    from ftbot.storage.db import Database
    from ftbot.storage.models import Answer

    settings = load_settings()
    db = Database(settings.db_url)
    questions = [json.loads(line)["question"] for line in args.file.read_text().splitlines() if line.strip()]
    questions = (questions * (args.questions // len(questions) + 1))[: args.questions]

    anonymizer = Anonymizer(spacy_model=settings.spacy_model, allow_list=settings.allow_list)
    answerer = Answerer(settings, db, anonymizer=anonymizer)
    local = settings.model_copy(
        update={"slack_bot_token": None, "slack": settings.slack.model_copy(update={"standin_port": 0})}
    )
    options = ServeOptions()
    with running_bot(local, db, options, say=lambda _: None, answerer=answerer) as running:
        running.transport.serve_in_background()
        assert running.standin is not None
        for question in questions[:2]:
            ask(running.standin, question)  # warm-up
        end_to_end, posted = [], []
        for question in questions:
            elapsed, ts = ask(running.standin, question)
            end_to_end.append(elapsed)
            posted.append(ts)
    with db.session() as session:
        in_process = [
            session.scalar(select(Answer.latency_ms).where(Answer.slack_channel == GENERAL, Answer.slack_ts == ts))
            for ts in posted
        ]

    overhead = [e - (p or 0.0) for e, p in zip(end_to_end, in_process, strict=True)]
    report = {
        "command": f"python bench/slack_latency.py --questions {args.questions}",
        "model_version": answerer.generator.version,
        "threads": torch.get_num_threads(),
        "questions": len(end_to_end),
        "event_to_answer_p50_ms": round(percentile(end_to_end, 0.5)),
        "event_to_answer_p95_ms": round(percentile(end_to_end, 0.95)),
        "baseline_in_process_answer_p50_ms": round(percentile([p or 0.0 for p in in_process], 0.5)),
        "baseline_in_process_answer_p95_ms": round(percentile([p or 0.0 for p in in_process], 0.95)),
        "slack_overhead_mean_ms": round(statistics.mean(overhead)),
        "ratio_end_to_end_over_in_process_p50": round(
            percentile(end_to_end, 0.5) / percentile([p or 1.0 for p in in_process], 0.5), 2
        ),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
