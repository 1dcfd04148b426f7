"""A training run end to end on the tiny model: dataset, lineage, versions, the promotion gate, failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.ingest import Ingestor
from ftbot.storage.models import ModelVersion, TrainingExample, TrainingRun
from ftbot.storage.versions import active_version, should_promote
from trainer import pipeline
from trainer.dataset import OFF_TOPIC_QUESTIONS, REFUSAL_SHARE, stable_split
from trainer.pipeline import build_dataset, run_training

FAQ = """question,answer
How many vacation days do I get?,Full-time employees get 28 vacation days per year.
Which Slack channel is the IT helpdesk?,Ask the IT helpdesk in #it-helpdesk.
How big is the learning budget?,Everyone gets a learning budget of EUR 1500 per year.
When is salary paid?,Salary is paid on the last working day of each month.
"""
HANDBOOK = """# Office
## Plants
The office plants are watered every Tuesday by the facilities team.
## Keys
Lost keys are reported to reception within one day.
"""


@pytest.fixture
def ingested(db, tmp_path: Path, anonymizer, embedder):
    (tmp_path / "faq.csv").write_text(FAQ)
    (tmp_path / "office.md").write_text(HANDBOOK)
    Ingestor(db, anonymizer, embedder).ingest([tmp_path / "faq.csv", tmp_path / "office.md"])
    return db


def test_when_dataset_is_built_then_every_kind_of_record_becomes_grounded_examples(tiny_settings, ingested) -> None:
    dataset = build_dataset(tiny_settings, ingested)
    origins = {e.origin for e in dataset.examples}
    assert {"qa", "document", "refusal"} <= origins
    vacation = next(e for e in dataset.examples if "vacation days do I get" in e.messages[1]["content"])
    assert "28 vacation days" in vacation.messages[1]["content"]  # the gold passage is in the context
    assert vacation.messages[2]["content"].startswith("Full-time employees get 28")
    plants = next(e for e in dataset.examples if e.origin == "document" and "plants" in e.messages[1]["content"])
    assert plants.messages[2]["content"] == "The office plants are watered every Tuesday by the facilities team."
    # A few records: refusals are kept to a small share (at least 2), never all twelve.
    refusals = sum(e.origin == "refusal" for e in dataset.examples)
    grounded = len(dataset.examples) - refusals
    assert refusals == min(len(OFF_TOPIC_QUESTIONS), max(2, grounded // REFUSAL_SHARE))


def test_when_dataset_is_built_twice_then_it_has_the_same_hash(tiny_settings, ingested) -> None:
    assert build_dataset(tiny_settings, ingested).hash == build_dataset(tiny_settings, ingested).hash


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.5])
def test_when_split_is_decided_then_it_is_stable_and_near_the_fraction(fraction: float) -> None:
    splits = [stable_split(f"key-{i}", fraction, seed=17) for i in range(2000)]
    assert splits == [stable_split(f"key-{i}", fraction, seed=17) for i in range(2000)]
    assert abs(splits.count("val") / 2000 - fraction) < 0.05


def test_when_first_run_finishes_then_it_is_promoted_with_lineage_and_files(tiny_settings, ingested) -> None:
    outcome = run_training(tiny_settings, ingested)
    assert outcome.promoted and outcome.version == f"v{outcome.run_id}"
    adapter = tiny_settings.adapters_dir / outcome.version
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "ftbot.json").is_file()
    with ingested.session() as s:
        run = s.get_one(TrainingRun, outcome.run_id)
        assert run.status == "succeeded" and run.finished_at and run.dataset_hash
        assert (tiny_settings.datasets_dir / f"{run.dataset_hash}.jsonl").is_file()
        used = s.scalar(select(func.count()).select_from(TrainingExample).where(TrainingExample.run_id == run.id))
        assert used == outcome.metrics["train_examples"] + outcome.metrics["val_examples"]
        assert active_version(s).name == outcome.version  # type: ignore[union-attr]


def test_when_second_run_is_worse_then_the_active_version_keeps_serving(
    tiny_settings, ingested, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run_training(tiny_settings, ingested)
    monkeypatch.setattr(pipeline, "should_promote", lambda *_: False)
    second = run_training(tiny_settings, ingested)
    assert not second.promoted and second.metrics["active_version"] == first.version
    assert second.metrics["active_val_loss"] is not None
    with ingested.session() as s:
        assert active_version(s).name == first.version  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(ModelVersion)) == 2


def test_when_training_fails_then_the_run_is_recorded_failed_and_nothing_is_promoted(
    tiny_settings, ingested, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trainer.lora

    def broken(*_args, **_kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(trainer.lora, "train_lora", broken)
    with pytest.raises(RuntimeError):
        run_training(tiny_settings, ingested)
    with ingested.session() as s:
        run = s.scalar(select(TrainingRun))
        assert run is not None and run.status == "failed" and "out of memory" in (run.error or "")
        assert active_version(s) is None


def test_when_nothing_was_ingested_then_training_fails_with_a_reason(tiny_settings, db) -> None:
    with pytest.raises(ValueError, match="ingest"):
        run_training(tiny_settings, db)


@pytest.mark.parametrize(
    ("candidate", "active", "margin", "expected"),
    [
        (1.0, None, 0.0, True),
        (0.9, 1.0, 0.0, True),
        (1.0, 1.0, 0.0, False),
        (0.95, 1.0, 0.1, False),
        (None, 1.0, 0.0, False),
    ],
)
def test_when_gate_compares_validation_losses_then_only_a_better_candidate_wins(
    candidate: float | None, active: float | None, margin: float, expected: bool
) -> None:
    assert should_promote(candidate, active, margin) is expected


def test_when_an_earlier_run_died_without_a_trace_then_train_reaps_it_and_runs(tiny_settings, ingested) -> None:
    from datetime import timedelta

    from ftbot.storage import runs
    from ftbot.storage.models import utcnow

    with ingested.session() as s:
        dead = runs.enqueue(s, trigger="cli").id
    assert runs.claim(ingested, dead, "killed-worker")
    with ingested.session() as s:  # its process was killed with -9: no heartbeat for an hour
        s.get_one(TrainingRun, dead).heartbeat_at = utcnow() - timedelta(hours=1)
    outcome = run_training(tiny_settings, ingested)
    with ingested.session() as s:
        assert runs.summarize(s, dead).status == "failed"
        assert runs.summarize(s, outcome.run_id).status == "succeeded"
