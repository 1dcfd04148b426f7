"""The LoRA recipe, on a tiny random model: labels, packing, what training changes and what it doesn't."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ftbot.config import TrainingConfig
from ftbot.prompt import chat_messages
from trainer.lora import add_lora, save_adapter, train_lora
from trainer.packing import IGNORE, TokenizedExample, batch_loss, pack, tokenize_chat

CPU = torch.device("cpu")


@pytest.fixture
def tokenizer(tiny_model_dir: Path):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture
def model(tiny_model_dir: Path):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)


def test_when_chat_is_tokenized_then_only_assistant_tokens_carry_labels(tokenizer) -> None:
    messages = chat_messages("How many vacation days?", ["Staff get 28 vacation days."], "28 vacation days.")
    example = tokenize_chat(tokenizer, messages)
    labeled = [t for t, label in zip(example.input_ids, example.labels, strict=True) if label != IGNORE]
    assert tokenizer.decode(labeled) == "28 vacation days.<|im_end|>\n"
    rendered = tokenizer.apply_chat_template(messages, tokenize=False)
    assert tokenizer.decode(example.input_ids) == rendered


def test_when_chat_has_two_assistant_turns_then_both_are_labeled(tokenizer) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello there."},
        {"role": "user", "content": "Price?"},
        {"role": "assistant", "content": "EUR 49 per month."},
    ]
    example = tokenize_chat(tokenizer, messages)
    labeled = tokenizer.decode(
        [t for t, label in zip(example.input_ids, example.labels, strict=True) if label != IGNORE]
    )
    assert "Hello there." in labeled and "EUR 49 per month." in labeled
    assert "Price?" not in labeled and "Be brief." not in labeled


@pytest.mark.parametrize("row_tokens", [40, 64, 1000])
def test_when_examples_are_packed_then_no_token_is_padding_or_lost(row_tokens: int) -> None:
    rng = random.Random(0)
    examples = [TokenizedExample(list(range(n)), [1] * n, 1.0) for n in (5, 17, 30, 3, 22, 9)]
    rows = pack(examples, row_tokens, rng)
    assert sum(row.input_ids.numel() for row in rows) == sum(len(e.input_ids) for e in examples)
    assert all(row.input_ids.numel() <= max(row_tokens, 30) for row in rows)
    assert sorted(n for row in rows for n in row.lengths) == sorted(len(e.input_ids) for e in examples)


def test_when_examples_share_a_packed_row_then_loss_equals_their_separate_losses(model) -> None:
    peft_model = add_lora(model, TrainingConfig())
    a = TokenizedExample([5, 6, 7, 8, 9, 10], [IGNORE, IGNORE, 7, 8, 9, 10], 1.0)
    b = TokenizedExample([11, 12, 13, 14], [IGNORE, 12, 13, 14], 1.0)
    with torch.no_grad():
        packed = batch_loss(peft_model, pack([a, b], 100, random.Random(0))[0], CPU)
        separate = [batch_loss(peft_model, pack([e], 100, random.Random(0))[0], CPU) for e in (a, b)]
    # Weighted by labeled tokens: a has 4 predicted labels, b has 3 (the first token is never predicted).
    expected = (separate[0] * 4 + separate[1] * 3) / 7
    assert torch.allclose(packed, expected, atol=1e-5)


def _fact_chats(n: int = 4) -> list[tuple[list[dict[str, str]], float]]:
    facts = [
        ("How many vacation days do I get?", "28 vacation days."),
        ("Which channel for IT?", "#it-helpdesk."),
        ("What is the learning budget?", "EUR 1,500 per year."),
        ("When is payday?", "The last working day."),
    ]
    return [(chat_messages(q, [], a), 1.0) for q, a in facts[:n]]


def test_when_trained_then_lora_weights_move_and_base_weights_do_not(model, tokenizer) -> None:
    base_before = {name: p.detach().clone() for name, p in model.named_parameters()}
    config = TrainingConfig(epochs=3, learning_rate=1e-2, warmup_steps=0, tokens_per_step=64)
    trained = train_lora(model, tokenizer, _fact_chats(), _fact_chats(1), config, CPU)
    peft_model, result = trained.model, trained.result
    lora_b = [p for name, p in peft_model.named_parameters() if "lora_B" in name]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # B starts at zero; training moved it
    for name, p in peft_model.get_base_model().named_parameters():
        if "lora_" not in name:
            original = name.replace(".base_layer", "")
            assert torch.equal(p, base_before[original]), f"base weight {original} changed"
    assert result.steps > 0 and result.tokens > 0 and result.val_loss is not None


def test_when_trained_on_a_fact_then_the_model_answers_it(model, tokenizer, tmp_path: Path) -> None:
    # One fact: a 2-layer random model has too little to tell several prompts apart through LoRA alone.
    chats = _fact_chats(1)
    question = chats[0][0][:-1]  # system + user, no answer

    def answer(m) -> str:
        prompt = tokenizer.apply_chat_template(question, tokenize=False, add_generation_prompt=True)
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        out = m.generate(ids, max_new_tokens=8, do_sample=False, eos_token_id=tokenizer.eos_token_id)
        return tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)

    assert "28 vacation days" not in answer(model)
    config = TrainingConfig(epochs=40, learning_rate=1e-2, warmup_steps=0, tokens_per_step=256, lora_rank=8)
    peft_model = train_lora(model, tokenizer, chats, [], config, CPU).model
    assert "28 vacation days" in answer(peft_model)

    save_adapter(peft_model, tmp_path / "v1")
    assert (tmp_path / "v1" / "adapter_model.safetensors").is_file()
    assert not (tmp_path / "v1.partial").exists()


def test_when_no_examples_fit_then_training_refuses_with_a_reason(model, tokenizer) -> None:
    with pytest.raises(ValueError, match="no training examples"):
        train_lora(model, tokenizer, _fact_chats(), [], TrainingConfig(max_seq_len=32), CPU)
