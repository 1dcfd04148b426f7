"""A run's dataset: built from everything stored with the run's settings, and saved as its lineage."""

from __future__ import annotations

import logging
import time

from ftbot.config import Settings
from ftbot.retrieval import Embedder, RetrievalIndex, embed_missing
from ftbot.storage.db import Database
from ftbot.storage.models import TrainingExample, TrainingRun
from trainer.dataset import Dataset, DatasetBuilder

log = logging.getLogger(__name__)


def build_dataset(settings: Settings, db: Database) -> Dataset:
    """The examples a run would train on now, from everything stored."""
    started = time.perf_counter()
    embedder = Embedder(settings.embedding_model)
    with db.session() as session:
        embed_missing(session, embedder)  # records stored without embeddings: admins' corrections
    with db.session() as session:
        index = RetrievalIndex.from_database(session, embedder, match_questions=False)  # see match_questions
        builder = DatasetBuilder(
            index,
            top_k=settings.retrieval.top_k,
            max_units=settings.retrieval.max_units,
            context_chars=settings.retrieval.context_chars,
            validation_fraction=settings.training.validation_fraction,
            seed=settings.training.seed,
            upvoted_weight=settings.training.upvoted_weight,
            correction_weight=settings.training.correction_weight,
            document_questions=settings.training.document_questions,
            questions_per_sentence=settings.training.questions_per_sentence,
        )
        dataset = builder.build(session)
    log.info("dataset: %d examples in %.1f s", len(dataset.examples), time.perf_counter() - started)
    return dataset


def save_dataset(settings: Settings, db: Database, run_id: int, dataset: Dataset) -> None:
    """Lineage: the run's examples go to the database and to a JSONL file named by the dataset hash."""
    settings.datasets_dir.mkdir(parents=True, exist_ok=True)
    (settings.datasets_dir / f"{dataset.hash}.jsonl").write_text(dataset.to_jsonl())
    with db.session() as session:
        session.add_all(
            TrainingExample(
                run_id=run_id,
                record_id=e.record_id,
                origin=e.origin,
                split=e.split,
                messages=e.messages,
                weight=e.weight,
            )
            for e in dataset.examples
        )
        run = session.get_one(TrainingRun, run_id)
        run.dataset_hash = dataset.hash
