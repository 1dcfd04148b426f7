"""The `ftbot` command as a user runs it: JSON output, stdin questions, one model load, friendly errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ftbot.cli import app

runner = CliRunner()
FAQ = "question,answer\nHow many vacation days do I get?,Full-time employees get 28 vacation days per year.\n"


@pytest.fixture
def faq(home: Path, tmp_path: Path) -> Path:
    path = tmp_path / "faq.csv"
    path.write_text(FAQ)
    return path


def test_when_ingest_runs_then_it_prints_a_reconciled_summary(tiny_settings, faq: Path) -> None:
    result = runner.invoke(app, ["ingest", str(faq)])
    assert result.exit_code == 0, result.output
    assert "files: 1 seen = 1 stored + 0 unchanged + 0 skipped" in result.output
    again = runner.invoke(app, ["ingest", str(faq)])
    assert "files: 1 seen = 0 stored + 1 unchanged + 0 skipped" in again.output


def test_when_ask_reads_stdin_with_json_then_each_question_gets_one_json_line_and_one_model_load(
    tiny_settings, faq: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ftbot.answering.generator

    loads = []
    original = ftbot.answering.generator.LocalGenerator.__init__

    def counting_init(self, *args, **kwargs):
        loads.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ftbot.answering.generator.LocalGenerator, "__init__", counting_init)
    runner.invoke(app, ["ingest", str(faq)])
    result = runner.invoke(
        app, ["ask", "--json", "-"], input="how many vacation days?\n\nWhat is the capital of Peru?\n"
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [line["question"] for line in lines] == ["how many vacation days?", "What is the capital of Peru?"]
    assert all({"question", "answer", "sources", "model_version"} <= set(line) for line in lines)
    assert lines[0]["sources"] == ["faq.csv row 2"] and lines[1]["sources"] == []
    assert len(loads) == 1


def test_when_train_runs_then_models_lists_the_active_version(tiny_settings, faq: Path) -> None:
    runner.invoke(app, ["ingest", str(faq)])
    trained = runner.invoke(app, ["train"])
    assert trained.exit_code == 0, trained.output
    assert "version v1: promoted to active" in trained.output
    listed = runner.invoke(app, ["models"])
    assert "v1" in listed.output and "●" in listed.output
    assert "active model: v1" in runner.invoke(app, ["status"]).output


def test_when_train_has_nothing_to_learn_then_it_exits_non_zero_with_the_reason(tiny_settings) -> None:
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 1
    assert "ingest" in result.output


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("FTBOT_TRAINING__EPOCHS", "-1", "FTBOT_TRAINING__EPOCHS"),
        ("FTBOT_TRAINING__LORA_RANK", "many", "FTBOT_TRAINING__LORA_RANK"),
        ("FTBOT_DEVICE", "tpu", "FTBOT_DEVICE"),
        ("FTBOT_RETRIEVAL__TOP_K", "0", "FTBOT_RETRIEVAL__TOP_K"),
    ],
)
def test_when_a_setting_is_wrong_then_the_error_is_one_line_naming_it(
    home: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 2
    assert named in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_when_ingest_is_given_a_missing_path_then_it_says_so(home: Path) -> None:
    result = runner.invoke(app, ["ingest", "no-such-folder"])
    assert result.exit_code == 1 and "no-such-folder" in result.output


def test_the_demo_reads_the_bundled_examples() -> None:
    from ftbot.cli.ask import DEMO_INPUTS, EXAMPLES_DIR

    assert all((EXAMPLES_DIR / name).exists() for name in DEMO_INPUTS)
