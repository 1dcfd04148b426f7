"""Run summaries reach Slack once: from the worker in the bot's process, or, when a separate worker trains,
from the replica that holds the scheduler lease."""

from __future__ import annotations

import threading
import time

from slack_sdk import WebClient

from bot.announce import RunAnnouncer, follow_finished_runs
from bot.standins.slack import SlackStandIn
from ftbot.storage import runs


def _finished_run(db, status: str = "succeeded") -> int:
    with db.session() as session:
        run_id = runs.enqueue(session, trigger="cli").id
    assert runs.claim(db, run_id, "worker-1")
    with db.session() as session:
        runs.finish(session, run_id, "worker-1", status, metrics={"loss_curve": [[1, 2.0], [2, 1.5]]})
    return run_id


def _follow(db, announced: list[int], leader: threading.Event, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(
        target=follow_finished_runs,
        args=(db, lambda s: announced.append(s.run_id), leader.is_set, stop, 0.02),
        daemon=True,
    )
    thread.start()
    time.sleep(0.1)
    return thread


def _wait(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_when_another_worker_finishes_a_run_then_the_leader_announces_it_once(db) -> None:
    old = _finished_run(db)
    announced: list[int] = []
    leader, stop = threading.Event(), threading.Event()
    leader.set()
    thread = _follow(db, announced, leader, stop)
    new = _finished_run(db, "failed")
    _wait(lambda: announced == [new])
    time.sleep(0.1)
    stop.set()
    thread.join()
    assert old not in announced and announced == [new]


def test_when_this_replica_is_not_the_leader_then_it_announces_nothing(db) -> None:
    announced: list[int] = []
    leader, stop = threading.Event(), threading.Event()
    thread = _follow(db, announced, leader, stop)
    _finished_run(db)
    time.sleep(0.2)
    stop.set()
    thread.join()
    assert announced == []


def test_when_a_run_ends_then_its_summary_and_loss_curve_are_posted_where_it_was_asked(db) -> None:
    run_id = _finished_run(db)
    with SlackStandIn() as standin:
        client = WebClient(token=standin.bot_token, base_url=standin.api_url)
        announcer = RunAnnouncer(client, "C0GENERAL", {run_id: ("D0ADMIN", "U0ADMIN")})
        with db.session() as session:
            announcer(runs.summarize(session, run_id))
        posted = [f for f in standin.files() if f.channels]
        assert sorted(c for f in posted for c in f.channels) == ["C0GENERAL", "D0ADMIN"]
        assert all(
            f.data and f.data.startswith(b"\x89PNG") and f"run #{run_id}" in (f.initial_comment or "") for f in posted
        )
