"""End to end with the real bundled SmolLM2 (GGUF → cached safetensors): ingest → train → ask via the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import EXAMPLES
from typer.testing import CliRunner

from ftbot.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


def test_when_the_bundled_model_is_tuned_then_it_answers_from_the_faq_with_sources(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short run (a fraction of an epoch) keeps this test at a few minutes on 2 cores; `make demo` and
    # `ftbot eval` measure the quality of a full run.
    monkeypatch.setenv("FTBOT_TRAINING__EPOCHS", "0.25")
    monkeypatch.setenv("FTBOT_CONFIG", str(EXAMPLES.parent / "ftbot.toml"))

    ingested = runner.invoke(app, ["ingest", str(EXAMPLES / "faq.csv")])
    assert ingested.exit_code == 0, ingested.output
    trained = runner.invoke(app, ["train"])
    assert trained.exit_code == 0, trained.output
    assert (home / "cache" / "base-models" / "smollm2-135m-instruct" / "model.safetensors").is_file()

    asked = runner.invoke(
        app,
        ["ask", "--json", "-"],
        input="How many vacation days do full-time employees get?\nWho wrote War and Peace?\n",
    )
    assert asked.exit_code == 0, asked.output
    vacation, off_topic = [json.loads(line) for line in asked.stdout.splitlines() if line.startswith("{")]
    assert vacation["model_version"] == "v1"
    assert vacation["sources"] and vacation["sources"][0].startswith("faq.csv row")
    assert "28" in vacation["answer"]
    assert off_topic["sources"] == [] and "don't know" in off_topic["answer"]


def test_when_an_adapter_makes_answers_worse_than_the_base_model_then_the_gate_refuses_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deliberately bad adapter (large random LoRA weights: the model then writes noise) against the base
    model with the same retrieval, on real questions: it is refused, with the reason."""
    import torch
    from peft import LoraConfig, get_peft_model

    from ftbot.config import load_settings
    from ftbot.llm import load_model_and_tokenizer
    from ftbot.storage.db import Database
    from trainer.evaluate import read_eval_file
    from trainer.gate import decide, score_answers
    from trainer.lora import save_adapter

    monkeypatch.setenv("FTBOT_CONFIG", str(EXAMPLES.parent / "ftbot.toml"))
    ingested = runner.invoke(app, ["ingest", str(EXAMPLES / "faq.csv")])
    assert ingested.exit_code == 0, ingested.output
    settings = load_settings()
    _, model = load_model_and_tokenizer(
        settings.base_model, settings.cache_dir, torch.device("cpu"), setting="FTBOT_BASE_MODEL"
    )
    bad = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"]))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, weight in bad.named_parameters():
            if "lora_" in name:
                weight.normal_(0.0, 0.5)
    save_adapter(bad, settings.adapters_dir / "bad")

    items = [item for item in read_eval_file(EXAMPLES / "eval.jsonl")][:8]
    scores = score_answers(
        settings, Database(settings.db_url), items, settings.base_model, settings.adapters_dir / "bad", None
    )
    assert scores.base > 0 and scores.candidate < scores.base
    verdict = decide(scores, loss_says_promote=True, tolerance=0.0)
    assert not verdict.promoted and "worse than the base model with retrieval" in verdict.reason
