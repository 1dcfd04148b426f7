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
