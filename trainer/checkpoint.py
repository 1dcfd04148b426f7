"""Training checkpoints: what an interrupted run needs to continue where it stopped, instead of starting over.

A checkpoint holds the adapter's trainable weights, the optimizer's and the scheduler's state, torch's random
state and the run's place (step, losses so far, the best validation so far). It lives in a folder named by
the training's identity: the dataset's hash, the base model and the recipe's settings. Only a run that would
train exactly the same thing continues from it, so the resumed run replays the same data order from the same
step and ends with the adapter an uninterrupted run would have made.

Writes are atomic: a step's files go to a folder of their own, then one small pointer file is replaced. A
process killed while writing leaves the previous checkpoint whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ftbot.config import TrainingConfig

POINTER = "LATEST"
STATE_FILE = "state.pt"
# Settings that say how often to save or check, not what is trained: changing them keeps the checkpoints.
NOT_THE_RECIPE = {
    "checkpoint_every_steps",
    "eval_every_steps",
    "patience",
    "gate_questions",
    "eval_file",
    "answer_tolerance",
    "promotion_margin",
}


def training_key(dataset_hash: str, base_model: str, config: TrainingConfig) -> str:
    """The identity of a training: same key, same examples, same model, same recipe."""
    recipe = {k: v for k, v in config.model_dump(mode="json").items() if k not in NOT_THE_RECIPE}
    text = json.dumps({"dataset": dataset_hash, "base_model": base_model, "recipe": recipe}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class TrainingState:
    """Where a run stands; restored with the weights so that the run goes on as if never stopped."""

    step: int = 0
    losses: list[float] = field(default_factory=list)
    best_val_loss: float | None = None
    best_step: int | None = None
    evals_since_best: int = 0
    best_weights: dict[str, torch.Tensor] | None = None  # the adapter at best_step


def trainable_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the adapter's weights (the only parameters that train), on the CPU."""
    return {name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters() if p.requires_grad}


def load_weights(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> None:
    parameters = dict(model.named_parameters())
    missing = set(weights) ^ {name for name, p in parameters.items() if p.requires_grad}
    if missing:
        raise ValueError(f"the checkpoint's weights do not fit this model: {sorted(missing)[:3]}")
    with torch.no_grad():
        for name, value in weights.items():
            parameters[name].copy_(value.to(parameters[name].device))


class CheckpointStore:
    """The checkpoints of one training identity (training_key), under directory."""

    def __init__(self, directory: Path, every_steps: int) -> None:
        self.directory, self.every_steps = directory, every_steps

    def due(self, step: int) -> bool:
        return self.every_steps > 0 and step % self.every_steps == 0

    def latest_step(self) -> int | None:
        """The step of the newest whole checkpoint, or None."""
        folder = self._latest_folder()
        return None if folder is None else int(folder.name.removeprefix("step-"))

    def save(self, model: torch.nn.Module, optimizer: Any, scheduler: Any, state: TrainingState) -> None:
        folder = self.directory / f"step-{state.step:07d}"
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        torch.save(
            {
                "weights": trainable_weights(model),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "state": asdict(state),
            },
            partial / STATE_FILE,
        )
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
        pointer = self.directory / (POINTER + ".tmp")
        pointer.write_text(folder.name)
        os.replace(pointer, self.directory / POINTER)  # the switch: atomic on POSIX and Windows
        for old in self.directory.glob("step-*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)

    def restore(self, model: torch.nn.Module, optimizer: Any, scheduler: Any) -> TrainingState | None:
        """Load the newest checkpoint into the model, optimizer and scheduler; its state, or None if none."""
        folder = self._latest_folder()
        if folder is None:
            return None
        # weights_only: tensors and plain containers, never pickled code, even from our own folder.
        saved = torch.load(folder / STATE_FILE, map_location="cpu", weights_only=True)
        load_weights(model, saved["weights"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["torch_rng"])
        if saved["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
        return TrainingState(**saved["state"])

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def _latest_folder(self) -> Path | None:
        pointer = self.directory / POINTER
        if not pointer.is_file():
            return None
        folder = self.directory / pointer.read_text().strip()
        return folder if (folder / STATE_FILE).is_file() else None
