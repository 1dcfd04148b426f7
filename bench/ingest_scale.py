"""Does Slack ingestion stream? Time and peak memory of a full sync at several sizes of Slack history.

    .venv/bin/python bench/ingest_scale.py --sizes 10000,100000

The real path: `SlackHistoryConnector` reads the local Slack stand-in over HTTP with slack_sdk's WebClient, and
`SourceSync` anonymizes (Presidio + spaCy), embeds (MiniLM) and stores every thread into a fresh SQLite database.
Streaming means peak memory stays flat and time per message stays constant as history grows, so each size runs
in processes of its own:
- the stand-in, seeded with N messages straight into its workspace (no HTTP), in one process: its memory grows
  with the messages it holds, as Slack's servers' would, and is not the ingest's;
- the ingest in another, started fresh per size, so its peak RSS (`ru_maxrss`) belongs to that size alone.
The history is realistic support traffic spread over a year and ten channels: questions with planted names,
emails and phone numbers, 1-5 replies, ✅ and 👍 on some answers, unanswered questions, chatter, bots' posts and
joins. "Messages" counts every message seeded, replies included. The same seed gives the same messages.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

YEAR = 365 * 86_400
FIRST = ["Jonas", "Priya", "Elif", "Marco", "Hannah", "Oskar", "Claire", "Rafael", "Anja", "Tomasz", "Ingrid", "Yuki"]
LAST = ["Albrecht", "Raman", "Yildirim", "Bianchi", "Lindqvist", "Wieczorek", "Dubois", "Mendes", "Kessler", "Nowak"]
DOMAINS = ["lumora.example", "holzwerk-kreuzberg.de", "raman-consulting.co.uk", "fjord-textiles.no"]
# Channel name -> what its questions are about. "general" is the stand-in's own #general.
CHANNELS = {
    "general": ["all-hands recording", "office wifi", "team offsite", "company handbook"],
    "it-help": ["VPN", "laptop", "printer on floor 3", "password reset", "Outlook calendar"],
    "hr-questions": ["parental leave", "vacation carry-over", "sick note", "onboarding checklist"],
    "finance": ["expense report", "corporate card", "invoice approval", "travel per diem"],
    "customer-support": ["refund for order", "bank sync", "PDF export", "two-factor login"],
    "devops": ["staging deploy", "on-call rota", "database backup", "CI runner"],
    "office": ["parking permit", "meeting room booking", "desk booking", "visitor badge"],
    "security": ["phishing report", "hardware key", "access review", "shared password"],
    "payroll": ["payslip", "tax class change", "bonus payment", "pension scheme"],
    "sales-ops": ["CRM access", "quote template", "discount approval", "partner contract"],
}
QUESTIONS = [
    "Hi, {name} here ({email}). How do I get help with the {thing}? Ticket {n}.",
    "Does anyone know who handles the {thing}? {colleague} asked me, you can reach them at {phone}.",
    "Quick question: the {thing} stopped working for me since Monday, can someone call me on {phone}? {name}",
    "Where can I find the policy on the {thing}? Asking for {colleague} ({email}).",
    "<@{mention}> is the {thing} process still the same as last year? Ref {n}",
    "Is there a deadline for the {thing} this month? My manager {colleague} wants it by Friday.",
]
ANSWERS = [
    "Hi {first}, open the portal under Self-service > {thing} and follow the steps; ping <@{mention}> if it fails.",
    "The {thing} is owned by {colleague} now; I forwarded your ticket {n} to them.",
    "That changed in March: the new form is on the intranet, I sent the link to {email}.",
    "Try signing out and in again, that fixed the {thing} for me last week.",
    "No idea, sorry. Maybe ask in #general?",
    "The deadline is the 25th; anything later rolls into next month. Call me on {phone} if it's urgent.",
]
FOLLOW_UPS = ["Thanks, that worked!", "Got it, thank you.", "Still failing for me, any other idea?", "Great, closing."]
CHATTER = [
    "Good morning everyone!",
    "Lunch at 12:30 today, pizza in the kitchen.",
    "Happy Friday :tada:",
    "Thanks all for the help last week.",
    "I'm out tomorrow, back on Monday.",
    "Reminder: all-hands at 4pm in the big room.",
]
BOT_POSTS = ["Deploy #{n} of ledger-api finished in 4m12s.", "Build {n} failed on main.", "Nightly backup {n} done."]
PEOPLE, EXPERTS, DEPLOYBOT = 40, 4, "U0DEPLOY"


# --- the history: N messages in the stand-in, in its own process ---------------------------------------------


@dataclass
class Event:
    """One message to post at `at` (seconds before now); a reply names its thread's root event."""

    at: float
    user: str
    text: str
    root: int | None = None  # index of the root event, for a reply
    subtype: str | None = None
    reactions: list[tuple[str, str]] = field(default_factory=list)  # (name, user)


@dataclass
class Plan:
    events: list[Event] = field(default_factory=list)
    channel_of: list[str] = field(default_factory=list)
    threads: int = 0  # roots: each becomes a record (Q&A pair, or context)
    chatter: int = 0  # lone messages that are no question: each is skipped


def person(i: int) -> str:
    return f"U0P{i:04d}"


def history_plan(size: int, seed: int) -> Plan:
    """Exactly `size` messages: threads (70% of posts), chatter, bots' posts and joins, over a year."""
    rng, plan = random.Random(seed), Plan()
    while len(plan.events) < size:
        channel, at, roll = rng.choice(list(CHANNELS)), rng.uniform(86_400, YEAR), rng.random()
        if roll < 0.70:
            _thread(rng, plan, channel, at, room=size - len(plan.events))
            continue
        if roll < 0.85:
            event, plan.chatter = Event(at, person(rng.randrange(PEOPLE)), rng.choice(CHATTER)), plan.chatter + 1
        elif roll < 0.93:
            event = Event(at, DEPLOYBOT, rng.choice(BOT_POSTS).format(n=rng.randrange(10**4)), subtype="bot_message")
        else:
            user = person(rng.randrange(PEOPLE))
            event = Event(at, user, f"<@{user}> has joined the channel", subtype="channel_join")
        plan.events.append(event)
        plan.channel_of.append(channel)
    return plan


def _thread(rng: random.Random, plan: Plan, channel: str, at: float, room: int) -> None:
    """A question, and 1-5 replies (none for one in ten) within hours, some with ✅ or 👍."""
    asker = rng.randrange(PEOPLE)
    first, last = FIRST[asker % len(FIRST)], LAST[asker % len(LAST)]
    values = {
        "name": f"{first} {last}",
        "first": first,
        "email": f"{first.lower()}.{last.lower()}@{rng.choice(DOMAINS)}",
        "phone": f"+49 30 5557 {rng.randrange(10**4):04d}",
        "colleague": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "mention": person(rng.randrange(PEOPLE)),
        "thing": rng.choice(CHANNELS[channel]),
        "n": str(rng.randrange(10**5)),
    }
    root = len(plan.events)
    plan.events.append(Event(at, person(asker), rng.choice(QUESTIONS).format(**values)))
    plan.channel_of.append(channel)
    plan.threads += 1
    replies = 0 if rng.random() < 0.1 else min(rng.randint(1, 5), room - 1)
    answers = []
    for k in range(replies):
        at -= rng.uniform(30, 4 * 3600)  # `at` counts back from now: later replies are closer to now
        if k and rng.random() < 0.3:
            event = Event(at, person(asker), rng.choice(FOLLOW_UPS), root=root)
        else:
            event = Event(at, person(rng.randrange(PEOPLE)), rng.choice(ANSWERS).format(**values), root=root)
            answers.append(event)
        plan.events.append(event)
        plan.channel_of.append(channel)
    roll = rng.random()
    if answers and roll < 0.35:
        rng.choice(answers).reactions.append(("white_check_mark", person(asker)))
    elif answers and roll < 0.65:
        voters = rng.sample(range(PEOPLE), rng.randint(1, 3))
        rng.choice(answers).reactions.extend(("+1", person(v)) for v in voters)


def seed_history(workspace: Any, plan: Plan) -> dict[str, str]:
    """Post the plan oldest first (timestamps only increase), straight into the workspace; channel name -> id."""
    from bot.standins.slack.payloads import rich_text_blocks
    from bot.standins.slack.seed import GENERAL

    bot = workspace.identity.bot_user_id
    for i in range(PEOPLE):
        first, last = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
        workspace.add_user(f"{first.lower()}{i}", f"{first} {last}", user_id=person(i))
    workspace.add_bot("deploybot", user_id=DEPLOYBOT)
    members = [*map(person, range(PEOPLE)), DEPLOYBOT, bot]
    ids = {"general": GENERAL}
    for name in CHANNELS:
        if name != "general":
            ids[name] = workspace.add_channel(name, members=members).id
    for person_id in members:
        workspace.join(GENERAL, person_id)
    posted: dict[int, str] = {}
    now = time.time()
    for i in sorted(range(len(plan.events)), key=lambda i: -plan.events[i].at):
        event, channel = plan.events[i], ids[plan.channel_of[i]]
        workspace.shift_clock(now - event.at - time.time())
        thread_ts = posted[event.root] if event.root is not None else None
        blocks = [] if event.subtype else rich_text_blocks(event.text)  # what people type comes with blocks
        message = workspace.post(
            channel, event.user, event.text, thread_ts=thread_ts, blocks=blocks, subtype=event.subtype
        )
        posted[i] = message.ts
        for name, user in event.reactions:
            workspace.react(channel, message.ts, name, user)
    return ids


def serve_standin(size: int, seed: int, conn: Connection) -> None:
    """The stand-in's process: seed `size` messages, say where to reach them, serve until told to stop."""
    from bot.standins.slack import SlackStandIn

    plan = history_plan(size, seed)
    with SlackStandIn(port=0, seed=True) as standin:
        start = time.perf_counter()
        seed_history(standin.workspace, plan)
        seeded = {"messages": len(plan.events), "threads": plan.threads, "chatter": plan.chatter}
        conn.send(seeded | {"api_url": standin.api_url, "token": standin.bot_token, "seed_s": _since(start)})
        conn.recv()  # "stop"
        conn.send({"cpu_s": _cpu_seconds(), "peak_rss_mib": peak_rss_mib()})


# --- the ingest, in a process of its own ---------------------------------------------------------------------


class Timers:
    """Seconds spent inside wrapped callables, and how often they were called, by label."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            self.calls[label] = self.calls.get(label, 0) + 1
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start

        return timed


def run_ingest(api_url: str, token: str, page_size: int, conn: Connection) -> None:
    """The ingest's process: load the models, then one full sync of the stand-in into a fresh SQLite database."""
    from slack_sdk import WebClient

    import connectors.sync as sync_module
    from connectors.anonymize import Anonymizer
    from connectors.slack_history import SlackHistoryConnector
    from connectors.sync import SourceSync
    from ftbot.memory import return_freed_memory
    from ftbot.retrieval import Embedder
    from ftbot.source_config import SlackSourceConfig
    from ftbot.storage.db import Database

    return_freed_memory()  # as `ftbot` does at start (run B below; run A was measured without it)
    start = time.perf_counter()
    anonymizer, embedder = Anonymizer(), Embedder()
    anonymizer.anonymize_records([["Warm-up for Jonas Albrecht, jonas@lumora.example"]])
    embedder.embed(["warm-up"])
    load_s, loaded_rss = _since(start), current_rss_mib()

    # Time the parts by wrapping what the engine and connector call; their code is unchanged.
    timers = Timers()
    client = WebClient(token=token, base_url=api_url)
    client.api_call = timers.wrap("slack", client.api_call)  # type: ignore[method-assign]
    # find_records is Presidio's analysis, under every anonymize_* method; the pseudonyms' replacement is left out.
    anonymizer.find_records = timers.wrap("anonymize", anonymizer.find_records)  # type: ignore[method-assign]
    embedder.embed = timers.wrap("embed", embedder.embed)  # type: ignore[method-assign]
    sync_module.embed_missing = timers.wrap("embed_missing", sync_module.embed_missing)  # type: ignore[attr-defined]
    config = SlackSourceConfig(name="slack", experts=tuple(person(i) for i in range(EXPERTS)), page_size=page_size)
    connector = SlackHistoryConnector(config, client)
    rss_samples: list[float] = []
    connector.sync = _sampled(connector.sync, rss_samples)  # type: ignore[method-assign]

    with tempfile.TemporaryDirectory(prefix="ftbot-ingest-scale-") as workdir:
        db = Database(f"sqlite:///{workdir}/ftbot.db")
        start, cpu = time.perf_counter(), _cpu_seconds()
        report = SourceSync(db, anonymizer, embedder).run("slack", connector, full=True)
        seconds, cpu_s = _since(start), _cpu_seconds() - cpu
        db_mib = Path(workdir, "ftbot.db").stat().st_size / 2**20
    conn.send(
        {
            "seen": report.records_seen,
            "stored": report.records_stored,
            "skipped": report.records_skipped,
            "batches": report.batches,
            "error": report.error,
            "reconciles": report.reconciles,
            "seconds": seconds,
            "cpu_s": cpu_s,
            "load_s": load_s,
            "loaded_rss_mib": loaded_rss,
            "peak_rss_mib": peak_rss_mib(),
            "rss_half_mib": rss_samples[len(rss_samples) // 2] if rss_samples else loaded_rss,
            "rss_end_mib": rss_samples[-1] if rss_samples else loaded_rss,
            "db_mib": db_mib,
            "parts": timers.seconds,
            "api_calls": timers.calls.get("slack", 0),
        }
    )


def _sampled(sync: Callable[[str | None], Iterator[Any]], samples: list[float]) -> Callable[..., Iterator[Any]]:
    """The connector's sync, noting the RSS after each batch and printing progress now and then."""

    def sync_sampled(cursor: str | None) -> Iterator[Any]:
        start, items = time.perf_counter(), 0
        for batch in sync(cursor):
            yield batch  # stored by the engine before the generator resumes
            items += len(batch.items)
            samples.append(current_rss_mib())
            if len(samples) % 50 == 0:
                done = f"{len(samples)} batches, {items} records and skips"
                print(f"  {done}, {_since(start):.0f} s, RSS {samples[-1]:.0f} MiB", file=sys.stderr, flush=True)

    return sync_sampled


# --- measuring ---------------------------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def current_rss_mib() -> float:
    """Resident memory now (Linux; the peak elsewhere)."""
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return peak_rss_mib()
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _since(start: float) -> float:
    return time.perf_counter() - start


def measure(size: int, seed: int, page_size: int) -> dict[str, Any]:
    """One size: a stand-in process holding `size` messages, and a fresh ingest process syncing all of them."""
    context = get_context("spawn")
    standin_end, standin_conn = context.Pipe()
    standin = context.Process(target=serve_standin, args=(size, seed, standin_conn), daemon=True)
    standin.start()
    try:
        seeded = standin_end.recv()
        print(f"{size} messages: stand-in seeded in {seeded['seed_s']:.0f} s; ingesting...", file=sys.stderr)
        ingest_end, ingest_conn = context.Pipe()
        ingest = context.Process(target=run_ingest, args=(seeded["api_url"], seeded["token"], page_size, ingest_conn))
        ingest.start()
        result = ingest_end.recv()
        ingest.join()
        standin_end.send("stop")
        seeded["standin"] = standin_end.recv()
    finally:
        standin.join(timeout=10)
        if standin.is_alive():
            standin.terminate()
    return seeded | result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated message counts, smallest first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--page-size", type=int, default=200, help="the source's page_size (Slack's advice: 200)")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))

    load_before = os.getloadavg()[0]
    runs = [measure(size, args.seed, args.page_size) for size in sizes]
    command = " ".join(shlex.quote(part) for part in [".venv/bin/python", "bench/ingest_scale.py", *sys.argv[1:]])
    print(f"\n`{command}` ({os.cpu_count()} CPUs, load {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)\n")
    print_results(runs)


def print_results(runs: list[dict[str, Any]]) -> None:
    print(
        "| messages | threads | records stored / skipped | seconds | messages/s | ms per message | CPU s "
        "| peak RSS | RSS with models loaded | RSS half way / at the end |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    for run in runs:
        print(
            f"| {run['messages']:,} | {run['threads']:,} | {run['stored']:,} / {run['skipped']:,} "
            f"| {run['seconds']:.0f} | {run['messages'] / run['seconds']:.1f} "
            f"| {1000 * run['seconds'] / run['messages']:.2f} | {run['cpu_s']:.0f} | {run['peak_rss_mib']:.0f} MiB "
            f"| {run['loaded_rss_mib']:.0f} MiB | {run['rss_half_mib']:.0f} / {run['rss_end_mib']:.0f} MiB |"
        )
    small, large = runs[0], runs[-1]
    sizes = f"{large['messages']:,} ÷ {small['messages']:,}"
    per_message = (large["seconds"] / large["messages"]) / (small["seconds"] / small["messages"])
    cpu_per_message = (large["cpu_s"] / large["messages"]) / (small["cpu_s"] / small["messages"])
    print(f"\nTime per message, {sizes}: **{per_message:.2f}** (1 = linear)")
    print(f"CPU seconds per message, {sizes}: **{cpu_per_message:.2f}** (less swayed by the machine's load)")
    print(f"Peak RSS, {sizes}: **{large['peak_rss_mib'] / small['peak_rss_mib']:.2f}** (1 = flat)")
    print_parts(runs)
    for run in runs:
        print(f"\n{run['messages']:,} messages: {notes(run)}")


def print_parts(runs: list[dict[str, Any]]) -> None:
    """Where the sync's time went; the rest is SQLite, SQLAlchemy and the connector's and engine's own code."""
    print("\n| messages | Slack API (stand-in included) | anonymize | embed | final scan for unembedded rows | rest |")
    print("|---|---|---|---|---|---|")
    for run in runs:
        parts, total = run["parts"], run["seconds"]
        slack, anonymize, embed = (parts.get(name, 0.0) for name in ("slack", "anonymize", "embed"))
        embed_missing = parts.get("embed_missing", 0.0)
        # The sync embeds each batch's rows itself; embed_missing runs once at the end and normally finds none.
        shown = [slack, anonymize, embed, embed_missing, total - slack - anonymize - embed - embed_missing]
        print(f"| {run['messages']:,} | " + " | ".join(f"{s:.0f} s ({100 * s / total:.0f}%)" for s in shown) + " |")


def notes(run: dict[str, Any]) -> str:
    standin, problems = run["standin"], []
    if run["error"] is not None or not run["reconciles"]:
        problems.append(f"sync error {run['error']!r}, counts reconcile: {run['reconciles']}")
    if run["seen"] != run["threads"] + run["chatter"]:
        problems.append(f"{run['seen']:,} records seen, {run['threads'] + run['chatter']:,} expected")
    return (
        f"{run['batches']} batches, {run['api_calls']:,} Slack API calls, database {run['db_mib']:.0f} MiB,"
        f" models loaded in {run['load_s']:.0f} s;"
        f" stand-in seeded in {run['seed_s']:.0f} s, served with {standin['cpu_s']:.0f} CPU s,"
        f" its peak RSS {standin['peak_rss_mib']:.0f} MiB. " + ("; ".join(problems) or "Counts reconcile.")
    )


if __name__ == "__main__":
    main()
