"""Answering a question: retrieve → the tuned model answers from the context → store it, anonymized."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.anonymize import Anonymizer, anonymizer_for
from ftbot.answering.generator import AdapterServer, Generator, LocalGenerator
from ftbot.answering.reader import ReplyScorer, choose_answer
from ftbot.config import Settings
from ftbot.prompt import DONT_KNOW, chat_messages, fit_contexts
from ftbot.retrieval import Embedder, Hit, Passage, RetrievalIndex, embed_missing
from ftbot.storage.db import Database
from ftbot.storage.erasure import erased_versions, last_erasure_at
from ftbot.storage.keys import add_keys
from ftbot.storage.models import Answer, Record
from ftbot.storage.versions import active_version

log = logging.getLogger(__name__)

BASE_VERSION = "base"


@dataclass(frozen=True)
class AnswerResult:
    question: str
    answer: str
    sources: list[str] = field(default_factory=list)
    model_version: str = BASE_VERSION
    latency_ms: float = 0.0
    answer_id: int | None = None
    contexts: list[str] = field(default_factory=list)  # the passages the model read, in prompt order


class Answerer:
    """Holds the models for a process's lifetime: load once, answer many questions."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        use_adapter: bool = True,
        use_retrieval: bool = True,
        anonymizer: Anonymizer | None = None,
        store: bool = True,
        generator: Generator | None = None,
    ) -> None:
        self.settings, self.db = settings, db
        self.use_adapter, self.use_retrieval, self.store = use_adapter, use_retrieval, store
        # Only stored answers need anonymizing; evaluation runs skip loading spaCy and Presidio.
        if anonymizer is None and store:
            anonymizer = anonymizer_for(settings)
        self.anonymizer = anonymizer
        # Keyed hashes of the personal data in stored questions, so an erasure finds them.
        self._keys = settings.personal_keys() if store else None
        self._embedder = Embedder(settings.embedding_model) if use_retrieval else None
        self._records_seen: tuple[int, int] | None = None
        self._erasure_seen: datetime | None = None
        self.index = self._load_index() if use_retrieval else None
        # A given generator answers instead of the active version's (the promotion gate scores a candidate).
        self.generator: Generator = generator or self._load_generator()

    @property
    def scorer(self) -> ReplyScorer | None:
        """The generator when answers are chosen among the context's passages (ftbot/answering/reader.py); None when the
        model writes them (the `generate` reader, or a backend that cannot score replies)."""
        generator = self.generator
        return generator if isinstance(generator, ReplyScorer) and self.settings.generation.reader == "select" else None

    def _load_index(self) -> RetrievalIndex:
        assert self._embedder is not None
        with self.db.session() as session:
            embed_missing(session, self._embedder)  # e.g. corrections stored by the Slack bot
            self._records_seen = _records_state(session)
            self._erasure_seen = last_erasure_at(session)
            return RetrievalIndex.from_database(session, self._embedder)

    def _load_generator(self) -> Generator:
        with self.db.session() as session:
            active = active_version(session) if self.use_adapter else None
            if active:
                base_model, path, name = active.base_model, Path(active.adapter_path), active.name
            else:
                base_model, path, name = self.settings.base_model, None, BASE_VERSION
        log.info("answering with model version %s (base model %s)", name, base_model)
        return build_generator(self.settings, base_model, path, name)

    def reload_if_promoted(self) -> bool:
        """Swap to the active version if it changed since loading (no restart needed). True if swapped.

        The retrieval index is reloaded with it when records changed (ingested files, corrections), so a
        new version answers from the knowledge it was trained on; after an erasure it is reloaded at once,
        so erased text is never quoted again. With no active version (a version trained on erased data
        retired, none promoted since) the base model answers.
        """
        if not self.use_adapter:
            return False
        with self.db.session() as session:
            active = active_version(session)
            records_changed = self.index is not None and _records_state(session) != self._records_seen
            erased = self.index is not None and last_erasure_at(session) != self._erasure_seen
        swapped = (active.name if active else BASE_VERSION) != self.generator.version
        if erased or (swapped and records_changed):
            self.index = self._load_index()
        if swapped:
            self.generator = self._load_generator()
        if (erased or swapped) and isinstance(self.generator, AdapterServer):
            with self.db.session() as session:
                self.generator.unload_versions(erased_versions(session) - {self.generator.version})
        return swapped

    def retrieve(self, question: str) -> list[Hit]:
        if self.index is None:
            return []
        retrieval = self.settings.retrieval
        hits = self.index.search(question, k=retrieval.top_k)
        # Gate on the best hit only: lower-ranked passages still help when the best one is relevant.
        return hits if hits and hits[0].score >= retrieval.min_score else []

    def read(self, question: str) -> tuple[list[Passage], list[str]] | None:
        """The passages the model reads for this question, and their text as the prompt holds it (within
        context_chars, the last one maybe cut); None when retrieval found nothing relevant. Without
        retrieval: none, and the model answers from what it knows."""
        if self.index is None:
            return None if self.use_retrieval else ([], [])
        hits = self.retrieve(question)
        if not hits:
            return None
        passages = self.index.focus(question, hits, self.settings.retrieval.max_units)
        return passages, fit_contexts([p.text for p in passages], self.settings.retrieval.context_chars)

    def answer(
        self, question: str, channel: str = "cli", slack_channel: str | None = None, slack_ts: str | None = None
    ) -> AnswerResult:
        started = time.perf_counter()
        reading = self.read(question)
        contexts: list[str] = []
        if reading is None:
            text, sources = DONT_KNOW, []  # nothing relevant: don't let the model guess
        else:
            passages, contexts = reading
            scorer = self.scorer
            if contexts and scorer is not None:
                choice = choose_answer(scorer, question, contexts, self.settings.generation.rank_penalty)
                text, cited = choice.text, [passages[place] for place in choice.passages]  # a refusal cites nothing
            else:
                text = self.generator.generate(chat_messages(question, contexts)) or DONT_KNOW
                cited = passages[: len(contexts)]
            # Sources: the records the answer came from (written: every passage read), most relevant first.
            sources = list(dict.fromkeys(p.citation for p in cited))
        latency_ms = (time.perf_counter() - started) * 1000
        answer_id = None
        if self.store:
            answer_id = self._store(question, text, sources, channel, latency_ms, slack_channel, slack_ts)
        return AnswerResult(question, text, sources, self.generator.version, latency_ms, answer_id, contexts)

    def _store(
        self,
        question: str,
        text: str,
        sources: list[str],
        channel: str,
        latency_ms: float,
        slack_channel: str | None,
        slack_ts: str | None,
    ) -> int:
        """The question and answer are anonymized before they reach the database."""
        assert self.anonymizer is not None and self._keys is not None  # set whenever store is True
        anonymized = self.anonymizer.anonymize_records_with_mapping([[question, text]])[0]
        clean_question, clean_answer = anonymized.texts
        with self.db.session() as session:
            row = Answer(
                question=clean_question,
                answer=clean_answer,
                sources=sources,
                model_version=self.generator.version,
                channel=channel,
                latency_ms=latency_ms,
                slack_channel=slack_channel,
                slack_ts=slack_ts,
            )
            session.add(row)
            session.flush()
            add_keys(session, self._keys.of_originals(anonymized.originals), answer_id=row.id)
            return row.id


def build_generator(settings: Settings, base_model: str, adapter_path: Path | None, version: str) -> Generator:
    """The backend settings.serving names: transformers in this process, or an OpenAI-compatible server."""
    if settings.serving.backend == "openai":
        from ftbot.answering.openai_backend import OpenAIGenerator

        return OpenAIGenerator(settings, base_model, adapter_path, version)
    return LocalGenerator(settings, base_model, adapter_path, version)


def _records_state(session: Session) -> tuple[int, int]:
    """(count, highest id) of the records: changes whenever records are added, replaced or removed."""
    count, highest = session.execute(select(func.count(Record.id), func.max(Record.id))).one()
    return int(count or 0), int(highest or 0)
