"""Prometheus metrics: served by the HTTP transport next to /healthz, and on FTBOT_METRICS_PORT otherwise."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import pytest
from slack_bolt import App

from bot import metrics
from bot.transports import HttpTransport


@pytest.fixture
def http() -> Iterator[HttpTransport]:
    """A real HTTP transport around a bare Bolt app (no Slack calls: token and signature checks are off)."""
    app = App(
        token="xoxb-test", signing_secret="unused", token_verification_enabled=False, request_verification_enabled=False
    )
    transport = HttpTransport(app, host="127.0.0.1", port=0)
    transport.serve_in_background()
    yield transport
    transport.close()


def _get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def _value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_when_healthz_is_requested_then_it_answers_ok(http: HttpTransport) -> None:
    assert _get(f"http://127.0.0.1:{http.port}/healthz")[::2] == (200, "ok\n")


def test_when_metrics_is_requested_then_every_ftbot_metric_is_listed_in_prometheus_format(http: HttpTransport) -> None:
    status, content_type, body = _get(f"http://127.0.0.1:{http.port}/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    for name in (
        "ftbot_answers_total",
        "ftbot_answer_seconds_bucket",
        "ftbot_feedback_votes_total",
        "ftbot_feedback_explanations_total",
        "ftbot_slack_events_total",
        "ftbot_slack_duplicate_events_total",
        "ftbot_training_runs_finished_total",
        "ftbot_model_info",
    ):
        assert f"# TYPE {name.removesuffix('_total').removesuffix('_bucket').removesuffix('_info')}" in body, name
    assert "python_gc" not in body  # the dedicated registry: only ftbot's metrics


@pytest.mark.parametrize(
    ("record", "sample", "labels"),
    [
        (lambda: metrics.answered("answered", 0.7), "ftbot_answers_total", {"outcome": "answered"}),
        (lambda: metrics.answered("dont_know", 0.2), "ftbot_answers_total", {"outcome": "dont_know"}),
        (lambda: metrics.answered("error", 12.0), "ftbot_answers_total", {"outcome": "error"}),
        (lambda: metrics.answered("answered", 0.7), "ftbot_answer_seconds_bucket", {"le": "1.0"}),
        (lambda: metrics.voted(+1, via="button"), "ftbot_feedback_votes_total", {"kind": "up", "via": "button"}),
        (lambda: metrics.voted(-1, via="reaction"), "ftbot_feedback_votes_total", {"kind": "down", "via": "reaction"}),
        (lambda: metrics.explained(with_correction=True), "ftbot_feedback_explanations_total", {"correction": "yes"}),
        (lambda: metrics.slack_event("app_mention"), "ftbot_slack_events_total", {"type": "app_mention"}),
        (metrics.duplicate_dropped, "ftbot_slack_duplicate_events_total", {}),
        (lambda: metrics.run_finished("succeeded"), "ftbot_training_runs_finished_total", {"status": "succeeded"}),
    ],
)
def test_when_a_helper_records_then_the_sample_grows_by_one(record, sample: str, labels: dict[str, str]) -> None:
    before = _value(sample, **labels)
    record()
    assert _value(sample, **labels) == before + 1


def test_when_a_model_answers_then_its_version_shows_in_the_metrics_output(http: HttpTransport) -> None:
    metrics.answering_with("v7")
    body = _get(f"http://127.0.0.1:{http.port}/metrics")[2]
    assert 'ftbot_model_info{version="v7"} 1.0' in body


def test_when_a_metrics_port_is_given_then_a_separate_server_serves_the_metrics() -> None:
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    close = metrics.serve_metrics(port, host="127.0.0.1")
    try:
        metrics.duplicate_dropped()
        status, _, body = _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and "ftbot_slack_duplicate_events_total" in body
    finally:
        close()
