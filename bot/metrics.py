"""The bot's Prometheus metrics: defined here, incremented through the small functions below, read via REGISTRY.

A dedicated registry rather than prometheus_client's global one, so what /metrics shows is exactly ftbot's
metrics (no other library's) and tests can read values with REGISTRY.get_sample_value.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, Info, generate_latest, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus' text exposition format

ANSWERS = Counter(
    "ftbot_answers", "Questions the bot answered, by outcome.", ["outcome"], registry=REGISTRY
)  # outcome: answered, dont_know, error
ANSWER_SECONDS = Histogram(
    "ftbot_answer_seconds",
    "Time from dequeuing a question to the answer posted in Slack.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 20),
    registry=REGISTRY,
)
VOTES = Counter("ftbot_feedback_votes", "👍/👎 votes cast on answers.", ["kind", "via"], registry=REGISTRY)
EXPLANATIONS = Counter(
    "ftbot_feedback_explanations",
    "👎 modals submitted with a reason or an admin's correction.",
    ["correction"],  # yes / no
    registry=REGISTRY,
)
SLACK_EVENTS = Counter("ftbot_slack_events", "Slack events received, by event type.", ["type"], registry=REGISTRY)
DUPLICATES = Counter("ftbot_slack_duplicate_events", "Redelivered Slack events dropped.", registry=REGISTRY)
RUNS_FINISHED = Counter(
    "ftbot_training_runs_finished", "Training runs that ended, by final status.", ["status"], registry=REGISTRY
)
MODEL = Info("ftbot_model", "The model version the bot answers with.", registry=REGISTRY)


def answered(outcome: str, seconds: float) -> None:
    """One question handled: outcome is answered, dont_know or error."""
    ANSWERS.labels(outcome=outcome).inc()
    ANSWER_SECONDS.observe(seconds)


def answering_with(version: str) -> None:
    """The model version the latest answer came from."""
    MODEL.info({"version": version})


def voted(value: int, via: str) -> None:
    """A vote (+1 up, -1 down) cast by button or reaction."""
    VOTES.labels(kind="up" if value > 0 else "down", via=via).inc()


def explained(with_correction: bool) -> None:
    """A 👎 modal was submitted."""
    EXPLANATIONS.labels(correction="yes" if with_correction else "no").inc()


def slack_event(event_type: str) -> None:
    SLACK_EVENTS.labels(type=event_type or "unknown").inc()


def duplicate_dropped() -> None:
    DUPLICATES.inc()


def run_finished(status: str) -> None:
    RUNS_FINISHED.labels(status=status).inc()


def exposition() -> bytes:
    """All metrics in Prometheus' text format (what GET /metrics answers)."""
    return generate_latest(REGISTRY)


def serve_metrics(port: int, host: str = "0.0.0.0") -> Callable[[], None]:
    """A /metrics server on its own port, in a thread (Socket Mode has no HTTP server of ours). Returns close."""
    server, thread = start_http_server(port, addr=host, registry=REGISTRY)

    def close() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return close
