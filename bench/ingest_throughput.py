"""Ingest throughput on synthetic Slack messages: batched vs per-record anonymization, then the full ingest.

    .venv/bin/python bench/ingest_throughput.py --records 2000

Every message carries planted personal data (names, emails, phone numbers), so Presidio has real work to do;
the last row of the table counts planted values that reached the database anyway (it should be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FIRST = ["Jonas", "Priya", "Elif", "Marco", "Hannah", "Oskar", "Claire", "Rafael", "Anja", "Tomasz", "Ingrid", "Yuki"]
LAST = ["Albrecht", "Raman", "Yildirim", "Bianchi", "Lindqvist", "Wieczorek", "Dubois", "Mendes", "Kessler", "Nowak"]
DOMAINS = ["holzwerk-kreuzberg.de", "raman-consulting.co.uk", "studio-lanterna.it", "fjord-textiles.no"]
QUESTIONS = [
    "Hi, {name} here ({email}). My bank sync stopped two days ago, ticket {n}. Can you call me at {phone}?",
    "Hello! This is {name} from {company}. I can't export invoice {n} as PDF. My email is {email}.",
    "{name} again. The password reset link for {email} expired, ticket {n}. Mobile: {phone}",
    "Can someone add {colleague} to our workspace? Their address is {email}. Ref {n}.",
]
ANSWERS = [
    "Thanks {first}! Renew the PSD2 consent under Banking > Accounts; we will follow up on {phone} (ref {n}).",
    "Hi {first}, exports live under Invoices > Export. I sent the steps to {email} for ticket {n}.",
    "Sorry about that, {first}. Reset links last 60 minutes; a new one is on its way to {email} (ticket {n}).",
    "Done: {colleague} is invited. Ask them to check {email} for the invitation (ref {n}).",
]


def fake_phone(rng: random.Random) -> str:
    area = rng.choice(["+49 30 5557 {:04d}", "0176 {:08d}", "+44 20 7946 {:04d}", "+1 415 555 {:04d}"])
    return area.format(rng.randrange(10**8 if "0176" in area else 10**4))


def synthetic_messages(count: int, seed: int) -> tuple[list[dict[str, str]], set[str]]:
    """`count` question/answer pairs, each unique, and the set of personal values planted in them."""
    rng, rows, planted = random.Random(seed), [], set()
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        colleague = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        values = {
            "name": f"{first} {last}",
            "first": first,
            "colleague": colleague,
            "n": str(40_000 + n),
            "email": f"{first.lower()}.{last.lower()}@{rng.choice(DOMAINS)}",
            "phone": fake_phone(rng),
            "company": f"{last} GmbH",
        }
        template = rng.randrange(len(QUESTIONS))
        rows.append({"question": QUESTIONS[template].format(**values), "answer": ANSWERS[template].format(**values)})
        planted |= {values["name"], colleague, values["email"], values["phone"]}
    return rows, planted


def timed(step: Callable[[], object]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def peak_rss_mib() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def leaked_values(db_url: str, planted: set[str]) -> int:
    from sqlalchemy import create_engine, text

    with create_engine(db_url).connect() as connection:
        stored = "\n".join(
            row[0] + (row[1] or "") for row in connection.execute(text("SELECT text, messages FROM records"))
        )
    return sum(value in stored for value in planted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000, help="synthetic Q&A pairs to generate and ingest")
    parser.add_argument("--naive-sample", type=int, default=300, help="records for the one-call-per-record loop")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    # 1. Data: a JSONL Q&A file of Slack-like messages with planted personal data.
    rows, planted = synthetic_messages(args.records, args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="ftbot-bench-"))
    jsonl = workdir / "slack_export.jsonl"
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    records = [[row["question"], row["answer"]] for row in rows]

    # 2. Models: load once, outside every timing (they take seconds and are shared by a real ingest).
    from connectors.anonymize import Anonymizer
    from connectors.ingest import Ingestor
    from ftbot.retrieval import Embedder
    from ftbot.storage.db import Database

    start = time.perf_counter()
    anonymizer, embedder = Anonymizer(), Embedder()
    load_s = time.perf_counter() - start
    anonymizer.anonymize_records(records[:16])  # warm spaCy up, so neither timing pays for first-call setup

    # 3. Anonymization: one batched call over all records vs one call per record on a sample.
    batched_s = timed(lambda: anonymizer.anonymize_records(records))
    sample = records[: args.naive_sample]
    naive_s = timed(lambda: [anonymizer.anonymize("\n".join(record)) for record in sample])
    batched_rate, naive_rate = len(records) / batched_s, len(sample) / naive_s

    # 4. Full ingest: read + anonymize + store + embed into a fresh SQLite database.
    db_url = f"sqlite:///{workdir / 'ftbot.db'}"
    ingestor = Ingestor(Database(db_url), anonymizer, embedder)
    start = time.perf_counter()
    report = ingestor.ingest([jsonl])
    ingest_s = time.perf_counter() - start
    assert report.reconciles

    # 5. Report.
    command = " ".join(shlex.quote(part) for part in [".venv/bin/python", "bench/ingest_throughput.py", *sys.argv[1:]])
    print(f"\n`{command}` ({os.cpu_count()} CPUs, models loaded in {load_s:.1f} s)\n")
    print("| measure | value |\n|---|---|")
    print(f"| anonymize, batched `anonymize_records` ({len(records)} records) | {batched_rate:.1f} records/s |")
    print(f"| anonymize, one `anonymize()` per record ({len(sample)} records) | {naive_rate:.1f} records/s |")
    print(f"| batched / per-record | {batched_rate / naive_rate:.2f}x |")
    print(
        f"| full ingest (anonymize + store + embed), {report.records_stored} stored, "
        f"{report.records_skipped} skipped | {report.records_seen / ingest_s:.1f} records/s ({ingest_s:.1f} s) |"
    )
    print(f"| peak RSS | {peak_rss_mib():.0f} MiB |")
    print(f"| planted values found in the database | {leaked_values(db_url, planted)} of {len(planted)} |")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
