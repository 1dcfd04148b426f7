"""Training under `accelerate launch`: two CPU processes (gloo) run the real `ftbot train` and `ftbot worker`
with deploy/accelerate/ddp.yaml, on the tiny model and SQLite; only the main process writes, both train."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from sqlalchemy import func, select

from ftbot.config import load_settings
from ftbot.storage import runs
from ftbot.storage.models import ModelVersion, TrainingRun
from trainer.packing import TokenizedExample, group_steps, pack, share
from trainer.pipeline import run_training

REPO = Path(__file__).resolve().parent.parent
ACCELERATE = Path(sys.executable).with_name("accelerate")
FAQ = """question,answer
How many vacation days do I get?,Full-time employees get 28 vacation days per year.
Which Slack channel is the IT helpdesk?,Ask the IT helpdesk in #it-helpdesk.
How big is the learning budget?,Everyone gets a learning budget of EUR 1500 per year.
When is salary paid?,Salary is paid on the last working day of each month.
Who approves travel?,Travel is approved by your team lead.
Where is the office?,The office is at Hauptstrasse 5 in Berlin.
"""
TIMEOUT_S = 120  # a hang (a rank waiting in a collective forever) fails the test instead of blocking it


@pytest.fixture
def ingested(db, tmp_path: Path, anonymizer, embedder):
    from connectors.ingest import Ingestor

    (tmp_path / "faq.csv").write_text(FAQ)
    Ingestor(db, anonymizer, embedder).ingest([tmp_path / "faq.csv"])
    return db


@pytest.fixture
def launch_env(tiny_settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of both processes: CPU, one thread each, one row per example (so a step has rows to
    share), three epochs of one step each."""
    for name, value in {
        "FTBOT_DEVICE": "cpu",
        "FTBOT_TRAINING__ROW_TOKENS": "32",
        "FTBOT_TRAINING__EPOCHS": "3",
        "FTBOT_TRAINING__VALIDATION_FRACTION": "0.3",
    }.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def _launch(env: dict[str, str], cwd: Path, *ftbot_args: str) -> subprocess.Popen[str]:
    with socket.socket() as s:  # a free port for the processes' rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = REPO / "deploy" / "accelerate" / "ddp.yaml"
    command = [str(ACCELERATE), "launch", "--config_file", str(config), "--num_processes", "2"]
    command += ["--main_process_port", str(port), "-m", "ftbot.cli", *ftbot_args]
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _trained_lines(settings, run_id: int) -> list[tuple[int, int, int, str]]:
    """(process, steps, tokens, adapter checksum) from each process's log line about the run."""
    text = (settings.logs_dir / "ftbot.log").read_text()
    pattern = rf"run {run_id}, process (\d)/2: (\d+) steps, (\d+) tokens; adapter checksum (\w+)"
    return sorted((int(p), int(s), int(t), c) for p, s, t, c in re.findall(pattern, text))


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_when_ftbot_train_runs_on_two_processes_then_both_train_their_own_rows_and_one_version_is_saved(
    tiny_settings, ingested, launch_env: dict[str, str], tmp_path: Path
) -> None:
    process = _launch(launch_env, tmp_path, "train")
    output, _ = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 0, output
    assert output.count("version v1: promoted to active") == 1  # only the main process speaks

    with ingested.session() as s:
        run = s.scalars(select(TrainingRun)).one()
        assert run.status == "succeeded" and s.scalar(select(func.count()).select_from(ModelVersion)) == 1
        metrics, dataset_hash = run.metrics, run.dataset_hash
    assert [p.name for p in tiny_settings.adapters_dir.iterdir()] == ["v1"]
    assert (tiny_settings.adapters_dir / "v1" / "adapter_model.safetensors").is_file()
    assert metrics["processes"] == 2 and metrics["val_loss"] is not None

    # Disjoint and complete: each process trained some rows, and together every training token of every epoch once.
    rows = [
        json.loads(line) for line in (tiny_settings.datasets_dir / f"{dataset_hash}.jsonl").read_text().splitlines()
    ]
    epoch_tokens = _train_tokens([r for r in rows if r["split"] == "train"], tiny_settings)
    first, second = metrics["tokens_per_process"]
    assert first > 0 and second > 0 and first + second == metrics["tokens"] == 3 * epoch_tokens

    # Gradients were averaged: both processes ended with the same adapter, after the same steps.
    (_, steps_0, tokens_0, checksum_0), (_, steps_1, tokens_1, checksum_1) = _trained_lines(tiny_settings, run.id)
    assert steps_0 == steps_1 == metrics["steps"] and (tokens_0, tokens_1) == (first, second)
    assert checksum_0 == checksum_1

    # The loss is still the mean over each step's labeled tokens: one process, same steps, same adapter.
    alone = run_training(load_settings(), ingested)
    assert alone.metrics["processes"] == 1 and alone.metrics["steps"] == metrics["steps"]
    for loss in ("train_loss", "val_loss"):  # the train loss is the very tensor each rank differentiates
        assert alone.metrics[loss] == pytest.approx(metrics[loss], rel=1e-4), loss


def test_when_a_run_is_cancelled_under_a_two_process_worker_then_both_stop_at_the_same_step_and_keep_working(
    tiny_settings, ingested, launch_env: dict[str, str], tmp_path: Path
) -> None:
    with ingested.session() as s:
        run_id = runs.enqueue(s, trigger="slack").id
    env = {**launch_env, "FTBOT_TRAINING__EPOCHS": "5000"}
    process = _launch(env, tmp_path, "worker", "--no-schedule", "--poll", "0.2")
    try:
        _wait_for(lambda: _summary(ingested, run_id).step >= 2, process)
        with ingested.session() as s:
            runs.request_cancel(s)
        _wait_for(lambda: _summary(ingested, run_id).status == "cancelled", process)
        # Both processes left training at the same step and went back to the queue together: the next run trains.
        with ingested.session() as s:
            next_id = runs.enqueue(s, trigger="slack").id
        _wait_for(lambda: _summary(ingested, next_id).step >= 1, process)
    finally:
        process.send_signal(signal.SIGTERM)  # as `docker stop` does: torchrun passes it on to both processes
        output, _ = process.communicate(timeout=TIMEOUT_S)
    summary = _summary(ingested, run_id)
    assert summary.version is None and summary.promoted is None
    stopped_at = re.fullmatch(r"cancelled on request at step (\d+)/\d+", summary.error or "")
    assert stopped_at, summary.error
    (_, steps_0, _, checksum_0), (_, steps_1, _, checksum_1) = _trained_lines(tiny_settings, run_id)
    assert steps_0 == steps_1 == int(stopped_at.group(1)) and checksum_0 == checksum_1
    assert output.count("is waiting for runs") == 1
    interrupted = _summary(ingested, next_id)  # the stop reached the main process in the middle of a step
    assert interrupted.status == "cancelled" and "interrupted" in (interrupted.error or ""), output


def test_when_a_two_process_run_is_killed_then_the_next_one_resumes_from_its_checkpoint_and_ends_the_same(
    tiny_settings, ingested, launch_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**launch_env, "FTBOT_TRAINING__EPOCHS": "300", "FTBOT_TRAINING__CHECKPOINT_EVERY_STEPS": "2"}
    env["FTBOT_TRAINING__GATE_QUESTIONS"] = "0"
    whole = _launch(env, tmp_path, "train")
    output, _ = whole.communicate(timeout=TIMEOUT_S)
    assert whole.returncode == 0, output
    checkpoints = tiny_settings.checkpoints_dir

    def checkpoint_step() -> int:
        pointers = list(checkpoints.glob("*/LATEST")) if checkpoints.exists() else []
        return max((int(p.read_text().strip().removeprefix("step-")) for p in pointers), default=0)

    killed = _launch(env, tmp_path, "train")
    try:
        _wait_for(lambda: checkpoint_step() >= 4, killed)
    finally:
        _kill_tree(killed)  # the launcher and both ranks, mid-run, as a crashed machine would
    stopped_at = checkpoint_step()
    assert 0 < stopped_at < 300, "killed too late: the run had finished"

    resumed = _launch(env, tmp_path, "train")
    output, _ = resumed.communicate(timeout=TIMEOUT_S)
    assert resumed.returncode == 0, output
    with ingested.session() as s:
        history = runs.history(s, limit=3)
    assert [run.status for run in history] == ["succeeded", "failed", "succeeded"]  # the killed run failed at once
    assert history[0].metrics["resumed_at_step"] >= stopped_at and history[0].metrics["steps"] == 300
    first, last = (
        load_file(tiny_settings.adapters_dir / f"v{run.run_id}" / "adapter_model.safetensors")
        for run in (history[2], history[0])
    )
    assert first.keys() == last.keys()
    for name in first:
        assert torch.allclose(first[name], last[name], atol=1e-4), name


def _kill_tree(process: subprocess.Popen[str]) -> None:
    """SIGKILL a launch and every process under it (torch's elastic agent starts the ranks in groups of their own)."""
    import psutil

    family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(family, timeout=30)
    process.wait(timeout=30)


def _summary(db, run_id: int) -> runs.RunSummary:
    with db.session() as s:
        return runs.summarize(s, run_id)


def _train_tokens(rows: list[dict], settings) -> int:
    from ftbot.llm import load_tokenizer
    from trainer.packing import tokenize_chat

    tokenizer = load_tokenizer(settings.base_model, settings.cache_dir)
    lengths = [len(tokenize_chat(tokenizer, r["messages"], r["weight"]).input_ids) for r in rows]
    return sum(n for n in lengths if n <= settings.training.max_seq_len)


# Pure parts ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rows", "ranks"), [(5, 2), (4, 2), (1, 2), (7, 3), (3, 1)])
def test_when_a_step_is_shared_then_ranks_get_disjoint_rows_covering_it_and_equal_counts(rows: int, ranks: int) -> None:
    examples = [TokenizedExample([i] * (i + 3), [1] * (i + 3), 1.0) for i in range(rows)]
    step = pack(examples, 3, random.Random(0))  # one example per row
    shares = [share(step, rank, ranks) for rank in range(ranks)]
    real = [id(row) for mine in shares for row, is_real in mine if is_real]
    assert sorted(real) == sorted(id(row) for row in step) and len(set(real)) == len(real)
    assert len({len(mine) for mine in shares}) == 1  # FSDP runs as many forwards on every rank


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_when_rows_are_grouped_for_several_ranks_then_each_step_but_the_last_splits_evenly(ranks: int) -> None:
    examples = [TokenizedExample([1] * (5 + i % 4), [1] * (5 + i % 4), 1.0) for i in range(23)]
    rows = pack(examples, 8, random.Random(0))
    steps = group_steps(rows, 20, ranks)
    assert [row for step in steps for row in step] == rows
    assert all(len(step) % ranks == 0 and sum(r.input_ids.numel() for r in step) >= 20 for step in steps[:-1])
    if ranks == 1:  # one process: steps as they always were, about tokens_per_step each
        assert all(sum(r.input_ids.numel() for r in step) < 20 + 8 for step in steps)


def test_when_the_accelerate_configs_are_read_then_ddp_and_fsdp2_are_set_up_for_lora() -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    ddp = load_config_from_file(str(REPO / "deploy" / "accelerate" / "ddp.yaml"))
    fsdp = load_config_from_file(str(REPO / "deploy" / "accelerate" / "fsdp.yaml"))
    assert (ddp.distributed_type, ddp.mixed_precision, ddp.num_processes) == ("MULTI_GPU", "no", -1)
    assert (fsdp.distributed_type, fsdp.mixed_precision) == ("FSDP", "bf16")
    options = yaml.safe_load((REPO / "deploy" / "accelerate" / "fsdp.yaml").read_text())["fsdp_config"]
    assert options["fsdp_version"] == 2 and options["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"


def test_when_no_gpu_is_present_then_training_uses_sdpa_and_no_checkpointing(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    from trainer.lora import training_attention, use_gradient_checkpointing

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    cpu = torch.device("cpu")
    assert training_attention(cpu) == "sdpa"
    assert not use_gradient_checkpointing("auto", model, cpu, 512)
    assert use_gradient_checkpointing("on", model, cpu, 512) and not use_gradient_checkpointing("off", model, cpu, 512)
