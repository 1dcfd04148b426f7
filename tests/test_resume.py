"""A real `ftbot train` process killed with SIGKILL, again and again: each killed run is failed at once, nothing
is promoted, and the run that finally finishes ends with the adapter an uninterrupted run makes.

FTBOT_KILL_ROUNDS sets how many kills (3 in `make test`, to keep the suite short; the issue's check is 20).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from sqlalchemy import func, select

from ftbot.config import load_settings
from ftbot.storage import runs
from ftbot.storage.models import ModelVersion
from trainer.checkpoint import POINTER
from trainer.pipeline import run_training

ROUNDS = int(os.environ.get("FTBOT_KILL_ROUNDS", "3"))


def _versions(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(ModelVersion)) or 0


def _checkpoint_step(home: Path) -> int:
    pointers = list((home / "checkpoints").glob(f"*/{POINTER}"))
    return int(pointers[0].read_text().removeprefix("step-")) if pointers else 0


def _adapter(home: Path, version: str) -> dict[str, torch.Tensor]:
    return load_file(home / "adapters" / version / "adapter_model.safetensors")


def test_when_training_is_killed_again_and_again_then_every_run_fails_at_once_and_resuming_ends_the_same(
    tiny_settings, ingested, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long enough to be killed several times; a checkpoint every 2 steps.
    monkeypatch.setenv("FTBOT_TRAINING__EPOCHS", "60")
    monkeypatch.setenv("FTBOT_TRAINING__CHECKPOINT_EVERY_STEPS", "2")
    monkeypatch.setenv("FTBOT_TRAINING__GATE_QUESTIONS", "0")
    settings = load_settings()
    whole = run_training(settings, ingested)
    total = whole.metrics["steps"]
    assert not (home / "checkpoints").exists() or not any((home / "checkpoints").iterdir())  # cleared on success
    versions = _versions(ingested)

    rng = random.Random()
    command = [sys.executable, "-m", "ftbot.cli", "train"]
    for round_ in range(ROUNDS):
        before = _checkpoint_step(home)
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while _checkpoint_step(home) <= before:  # it resumed and got further: a new checkpoint
                assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
                assert time.monotonic() < deadline, f"round {round_}: no progress past step {before}"
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.3))  # anywhere in the next steps, a checkpoint being written included
        finally:
            process.kill()
            process.wait(timeout=30)
        assert _checkpoint_step(home) < total, "killed too late: the run had finished"
        with ingested.session() as s:  # the first look fails the run: no waiting for a heartbeat timeout
            killed = runs.history(s, limit=1)[0]
        assert killed.status == "failed" and "is gone" in (killed.error or ""), killed
        assert _versions(ingested) == versions  # nothing half-trained became a version
        assert not (home / "adapters" / f"v{killed.run_id}").exists()

    last = _checkpoint_step(home)
    resumed = run_training(settings, ingested)
    assert resumed.metrics["resumed_at_step"] == last > 0
    assert resumed.metrics["steps"] == total
    expected, got = _adapter(home, whole.version), _adapter(home, resumed.version)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.allclose(expected[name], got[name], atol=1e-4), name
