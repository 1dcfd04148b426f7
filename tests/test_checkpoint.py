"""Checkpoints on a tiny random model: an interrupted training continues to the adapter an uninterrupted one
makes, a half-written checkpoint is never read, and early stopping keeps the best adapter."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ftbot.config import TrainingConfig
from ftbot.prompt import chat_messages
from trainer.checkpoint import CheckpointStore, trainable_weights, training_key
from trainer.lora import train_lora
from trainer.packing import evaluate_loss

CPU = torch.device("cpu")
# Short rows and steps: each example is a row and a step of its own, so an epoch has six steps.
CONFIG = TrainingConfig(
    epochs=3, learning_rate=5e-3, warmup_steps=2, row_tokens=32, tokens_per_step=32, checkpoint_every_steps=2
)


FACTS = [
    ("How many vacation days do I get?", "28 vacation days."),
    ("Which channel for IT?", "#it-helpdesk."),
    ("What is the learning budget?", "EUR 1,500 per year."),
    ("When is payday?", "The last working day."),
    ("Who approves travel?", "Your team lead."),
    ("Where are the payslips?", "In Personio."),
]


def _chats() -> list[tuple[list[dict[str, str]], float]]:
    return [(chat_messages(q, [], a), 1.0) for q, a in FACTS]


@pytest.fixture
def fresh(tiny_model_dir: Path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    return lambda: (AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32), tokenizer)


def _train(
    fresh,
    config: TrainingConfig,
    store: CheckpointStore | None = None,
    stop_after: int | None = None,
    val: list[tuple[list[dict[str, str]], float]] | None = None,
):
    model, tokenizer = fresh()
    steps: list[tuple[int, float]] = []
    stop = (lambda: len(steps) >= stop_after) if stop_after is not None else None
    trained = train_lora(
        model,
        tokenizer,
        _chats(),
        _chats()[:2] if val is None else val,
        config,
        CPU,
        on_step=lambda step, _, loss: steps.append((step, loss)),
        should_stop=stop,
        checkpoints=store,
    )
    return trained, steps


def test_when_training_is_interrupted_then_the_resumed_run_ends_with_the_uninterrupted_adapter(
    fresh, tmp_path: Path
) -> None:
    whole, whole_curve = _train(fresh, CONFIG)
    total = whole.result.steps
    assert total >= 6
    store = CheckpointStore(tmp_path / "checkpoints", CONFIG.checkpoint_every_steps)
    stop_at = random.Random().randint(1, total - 2)
    first, _ = _train(fresh, CONFIG, store, stop_after=stop_at)
    assert first.result.stopped and store.latest_step() == stop_at  # a stop saves where it stopped

    resumed, resumed_curve = _train(fresh, CONFIG, store)
    assert resumed.result.resumed_at_step == stop_at and resumed.result.steps == total
    assert [step for step, _ in resumed_curve] == list(range(1, total + 1))  # the loss curve goes on
    for (_, a), (_, b) in zip(resumed_curve, whole_curve, strict=True):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
    expected, got = trainable_weights(whole.model), trainable_weights(resumed.model)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.allclose(expected[name], got[name], atol=1e-5), name
    assert resumed.result.val_loss == pytest.approx(whole.result.val_loss, rel=1e-4)


def test_a_checkpoint_left_half_written_is_never_read(fresh, tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "c", every_steps=2)
    _train(fresh, CONFIG, store, stop_after=2)
    assert store.latest_step() == 2
    (tmp_path / "c" / "step-0000004.partial").mkdir()  # killed while writing step 4: the pointer still says 2
    assert store.latest_step() == 2
    (tmp_path / "c" / "LATEST").write_text("step-0000009")  # a pointer to nothing whole
    assert store.latest_step() is None
    resumed, _ = _train(fresh, CONFIG, store)
    assert resumed.result.resumed_at_step == 0  # starts over rather than reading a broken checkpoint


def test_the_key_changes_with_what_is_trained_not_with_how_often_it_is_saved() -> None:
    key = training_key("abc", "m", CONFIG)
    assert training_key("abc", "m", CONFIG.model_copy(update={"checkpoint_every_steps": 50})) == key
    assert training_key("abc", "m", CONFIG.model_copy(update={"learning_rate": 1e-4})) != key
    assert training_key("abd", "m", CONFIG) != key
    assert training_key("abc", "other", CONFIG) != key


def test_when_validation_stops_improving_then_training_stops_and_keeps_the_best_adapter(fresh) -> None:
    # Validation asks the same questions with other answers: the more training learns its answers, the worse
    # validation gets after the first steps (which learn the shared format).
    contradicting = [(chat_messages(q, [], "Nobody knows that."), 1.0) for q, _ in FACTS]
    config = CONFIG.model_copy(update={"epochs": 20, "learning_rate": 2e-2, "eval_every_steps": 2, "patience": 2})
    trained, curve = _train(fresh, config, val=contradicting)
    result = trained.result
    assert result.stopped_early and result.steps < 20 * 6
    assert result.best_step is not None and result.best_step < result.steps
    assert len(curve) == result.steps
    # The model handed on holds the best evaluation's adapter, not the last step's.
    assert evaluate_loss(trained.loss, trained.val_rows, CPU, trained.accelerator) == pytest.approx(result.val_loss)
