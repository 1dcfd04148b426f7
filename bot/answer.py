"""Answering a question: retrieve → the tuned model answers from the context → store it, anonymized."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.generator import Generator, LocalGenerator
from connectors.anonymize import Anonymizer
from ftbot.config import Settings
from ftbot.prompt import DONT_KNOW, chat_messages, fit_contexts
from ftbot.retrieval import Embedder, Hit, RetrievalIndex
from ftbot.storage.db import Database
from ftbot.storage.models import Answer
from trainer.registry import active_version

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
    ) -> None:
        self.settings, self.db = settings, db
        self.use_adapter, self.use_retrieval, self.store = use_adapter, use_retrieval, store
        # Only stored answers need anonymizing; evaluation runs skip loading spaCy and Presidio.
        if anonymizer is None and store:
            anonymizer = Anonymizer(spacy_model=settings.spacy_model, allow_list=settings.allow_list)
        self.anonymizer = anonymizer
        self.index = self._load_index() if use_retrieval else None
        self.generator: Generator = self._load_generator()

    def _load_index(self) -> RetrievalIndex:
        with self.db.session() as session:
            return RetrievalIndex.from_database(session, Embedder(self.settings.embedding_model))

    def _load_generator(self) -> Generator:
        with self.db.session() as session:
            active = active_version(session) if self.use_adapter else None
            path, name = (Path(active.adapter_path), active.name) if active else (None, BASE_VERSION)
        log.info("answering with model version %s", name)
        return LocalGenerator(self.settings, path, name)

    def reload_if_promoted(self) -> bool:
        """Swap to the active version if it changed since loading (no restart needed). True if swapped."""
        if not self.use_adapter:
            return False
        with self.db.session() as session:
            active = active_version(session)
        if active is None or active.name == self.generator.version:
            return False
        self.generator = self._load_generator()
        return True

    def retrieve(self, question: str) -> list[Hit]:
        if self.index is None:
            return []
        retrieval = self.settings.retrieval
        hits = self.index.search(question, k=retrieval.top_k)
        # Gate on the best hit only: lower-ranked passages still help when the best one is relevant.
        return hits if hits and hits[0].score >= retrieval.min_score else []

    def answer(self, question: str, channel: str = "cli") -> AnswerResult:
        started = time.perf_counter()
        hits = self.retrieve(question)
        if self.use_retrieval and not hits:
            text, sources = DONT_KNOW, []  # nothing relevant: don't let the model guess
        else:
            passages = self.index.focus(question, hits, self.settings.retrieval.max_units) if self.index else []
            contexts = fit_contexts([p.text for p in passages], self.settings.retrieval.context_chars)
            text = self.generator.generate(chat_messages(question, contexts)) or DONT_KNOW
            # Sources: the records the kept passages came from, most relevant first.
            sources = list(dict.fromkeys(p.citation for p in passages[: len(contexts)]))
        latency_ms = (time.perf_counter() - started) * 1000
        answer_id = self._store(question, text, sources, channel, latency_ms) if self.store else None
        return AnswerResult(question, text, sources, self.generator.version, latency_ms, answer_id)

    def _store(self, question: str, text: str, sources: list[str], channel: str, latency_ms: float) -> int:
        """The question and answer are anonymized before they reach the database."""
        assert self.anonymizer is not None  # set whenever store is True
        clean_question, clean_answer = self.anonymizer.anonymize_record([question, text])
        with self.db.session() as session:
            row = Answer(
                question=clean_question,
                answer=clean_answer,
                sources=sources,
                model_version=self.generator.version,
                channel=channel,
                latency_ms=latency_ms,
            )
            session.add(row)
            session.flush()
            return row.id
