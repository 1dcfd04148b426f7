"""Which base model a run trains and a version answers with: the GPU default, the version's own base model,
the gate across base models, and a clear error for a base model that can't be found."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from ftbot.answering.answer import Answerer
from ftbot.config import BUNDLED_BASE_MODEL, ConfigError, load_settings
from ftbot.storage.models import ModelVersion, TrainingRun
from ftbot.storage.versions import active_version
from trainer.pipeline import run_training


@pytest.mark.parametrize(
    ("gpu_base_model", "device_type", "expected"),
    [
        (None, "cpu", BUNDLED_BASE_MODEL),
        (None, "cuda", "Qwen/Qwen2.5-1.5B-Instruct"),
        ("", "cuda", BUNDLED_BASE_MODEL),
        ("org/bigger-model", "cuda", "org/bigger-model"),
        ("org/bigger-model", "cpu", BUNDLED_BASE_MODEL),
    ],
)
def test_when_device_is_known_then_the_run_trains_the_base_model_meant_for_it(
    home, monkeypatch: pytest.MonkeyPatch, gpu_base_model: str | None, device_type: str, expected: str
) -> None:
    if gpu_base_model is not None:
        monkeypatch.setenv("FTBOT_GPU_BASE_MODEL", gpu_base_model)
    assert load_settings().base_model_for(device_type) == expected


def test_when_active_version_is_on_another_base_model_then_the_gate_is_skipped_and_the_run_promoted(
    tiny_settings, ingested
) -> None:
    first = run_training(tiny_settings, ingested)
    with ingested.session() as s:
        s.execute(update(ModelVersion).values(base_model="org/another-model"))

    second = run_training(tiny_settings, ingested)

    assert second.promoted and second.metrics["active_val_loss"] is None
    assert second.metrics["gate"] == f"skipped: the active version {first.version} is on another base model " + (
        "(org/another-model)"
    )
    with ingested.session() as s:
        assert active_version(s).base_model == tiny_settings.base_model  # type: ignore[union-attr]
        assert s.get_one(TrainingRun, second.run_id).base_model == tiny_settings.base_model


def test_when_base_model_setting_changes_then_a_version_answers_with_the_base_model_it_was_trained_on(
    tiny_settings, ingested, home
) -> None:
    outcome = run_training(tiny_settings, ingested)
    later = load_settings(base_model=str(home / "no-such-model"))  # the setting moved on; the version did not

    answerer = Answerer(later, ingested, use_retrieval=False, store=False)

    assert answerer.generator.version == outcome.version
    assert isinstance(answerer.answer("How many vacation days do I get?").answer, str)


def test_when_base_model_cannot_be_found_then_the_run_fails_with_the_setting_named(tiny_settings, ingested, home):
    missing = load_settings(base_model=str(home / "no-such-model"))

    with pytest.raises(ConfigError, match=r"cannot load the base model '.*no-such-model' \(FTBOT_BASE_MODEL\)"):
        run_training(missing, ingested)
    with ingested.session() as s:
        run = s.query(TrainingRun).one()
        assert run.status == "failed" and "FTBOT_BASE_MODEL" in (run.error or "")
