"""THE training recipe: LoRA on the chat template, loss on assistant tokens only, packed batches.

Read top to bottom: 1. tokenize → 2. pack → 3. model + LoRA → 4. optimizer → 5. train → 6. validate → 7. save.
Two things make it fast on a CPU, and both are measured in bench/train_throughput.py against a plain
HF Trainer + PEFT loop: examples are packed into rows with no padding (a block-diagonal attention mask keeps
them apart), and the vocabulary projection runs only on the positions that carry a label. Steps 1 and 2 and
the loss on a packed row are in trainer/packing.py; here are the model, the training loop and saving.

On CUDA: bf16 autocast, FlashAttention 2 when the flash_attn package is installed (packed rows then pass the
examples' boundaries instead of a mask), gradient checkpointing when memory asks for it. Several processes
(`accelerate launch`, see deploy/accelerate/): accelerate wraps the loss module in DDP or FSDP; each rank
trains its own rows of every step, and all ranks agree at each step whether to stop.
"""

from __future__ import annotations

import hashlib
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import is_flash_attn_2_available

from ftbot.config import TrainingConfig
from trainer.checkpoint import CheckpointStore, TrainingState, load_weights, trainable_weights
from trainer.distributed import is_sharded, on_main
from trainer.packing import (
    PackedBatch,
    PackedLoss,
    autocast,
    evaluate_loss,
    group_steps,
    pack,
    share,
    tokenize_chat,
)

ProgressCallback = Callable[[int, int, float], None]  # (step, total_steps, loss)
# "auto" gradient checkpointing turns on when the weights plus one row's activations would take more than this
# share of the GPU: the rest is headroom for the logits, the optimizer state and the allocator.
CHECKPOINTING_MEMORY_SHARE = 0.5
# Activation bytes per token per layer of a transformer block in bf16 without recomputation, in units of the
# hidden size (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models", with
# the attention scores left out: SDPA and FlashAttention do not keep them).
ACTIVATION_BYTES_PER_HIDDEN = 34


@dataclass(frozen=True)
class TrainResult:
    train_loss: float
    val_loss: float | None
    steps: int
    epochs: float
    examples: int
    tokens: int  # real (non-padding) tokens processed in training, all epochs, all processes
    seconds: float
    skipped_too_long: int
    stopped: bool = False  # should_stop ended training early: no validation, nothing to save
    resumed_at_step: int = 0  # continued from a checkpoint of this step (0: from the start)
    best_step: int | None = None  # with early stopping on: the step whose adapter was kept
    stopped_early: bool = False  # validation stopped improving before the last step
    tokens_per_rank: tuple[int, ...] = ()  # each process's share of `tokens`
    gradient_checkpointing: bool = False
    attention: str = "sdpa"

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


# 3. Model + LoRA ------------------------------------------------------------------------------------------


def training_attention(device: torch.device) -> str:
    """FlashAttention 2 on CUDA when the flash_attn package is installed; SDPA everywhere else."""
    return "flash_attention_2" if device.type == "cuda" and is_flash_attn_2_available() else "sdpa"


def use_gradient_checkpointing(setting: str, model: PreTrainedModel, device: torch.device, row_tokens: int) -> bool:
    """Whether to recompute activations in the backward pass: as set when "on"/"off". "auto": only on CUDA, and
    only when the weights plus one row's activations would fill more than CHECKPOINTING_MEMORY_SHARE of the GPU.
    Recomputing costs a third more compute per step, so it pays only where it makes a run fit (a 1.5B model on
    an 80 GB GPU: ~3 GB of weights + ~6 GB of activations per 4k-token row: off)."""
    if setting != "auto":
        return setting == "on"
    if device.type != "cuda":
        return False
    config: Any = model.config
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    activations = row_tokens * config.num_hidden_layers * config.hidden_size * ACTIVATION_BYTES_PER_HIDDEN
    return weights + activations > CHECKPOINTING_MEMORY_SHARE * torch.cuda.get_device_properties(device).total_memory


def add_lora(model: PreTrainedModel, config: TrainingConfig) -> PeftModel:
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)  # type: ignore[return-value]


# 4-7. The recipe --------------------------------------------------------------------------------------------


def train_lora(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train_chats: Sequence[tuple[list[dict[str, str]], float]],
    val_chats: Sequence[tuple[list[dict[str, str]], float]],
    config: TrainingConfig,
    device: torch.device,
    on_step: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    accelerator: Accelerator | None = None,
    checkpoints: CheckpointStore | None = None,
) -> TrainedAdapter:
    """Train a LoRA adapter on (messages, weight) chats; returns it with its metrics, ready to score and save.

    With several processes every rank calls this with the same chats and config: they pack identically (same
    seed) and each trains its share of every step. should_stop is asked on every rank before each step; if any
    rank says stop, all stop there.

    checkpoints: where this training's checkpoints are (trainer/checkpoint.py). Training continues from the
    newest one, replaying the data order up to its step, saves one every checkpoint_every_steps and at a stop.
    Under DDP every rank holds the same weights and optimizer state: the main process saves, every rank
    restores the same checkpoint. Under FSDP they are sharded over the ranks, and there is no checkpoint yet.
    """
    accelerator = accelerator or Accelerator(cpu=device.type == "cpu", device_placement=False)
    rank, ranks = accelerator.process_index, accelerator.num_processes
    torch.manual_seed(config.seed)  # the same LoRA initialisation on every rank
    rng = random.Random(config.seed)

    # 1. Tokenize; examples longer than max_seq_len are left out (and counted), never silently cut.
    train = [tokenize_chat(tokenizer, m, w) for m, w in train_chats]
    val = [tokenize_chat(tokenizer, m, w) for m, w in val_chats]
    too_long = sum(len(e.input_ids) > config.max_seq_len for e in train + val)
    train = [e for e in train if len(e.input_ids) <= config.max_seq_len]
    val = [e for e in val if len(e.input_ids) <= config.max_seq_len]
    if not train:
        raise ValueError("no training examples: ingest Q&A files or documents first")

    # 2. Pack the validation set once; training is re-shuffled and re-packed every epoch.
    val_rows = pack(val, config.row_tokens, random.Random(config.seed))
    steps_per_epoch = len(
        group_steps(pack(train, config.row_tokens, random.Random(config.seed)), config.tokens_per_step, ranks)
    )
    total_steps = max(1, math.ceil(steps_per_epoch * config.epochs))

    # 3. LoRA on the frozen base model; recompute activations only where memory asks for it.
    checkpointing = use_gradient_checkpointing(config.gradient_checkpointing, model, device, config.row_tokens)
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    peft_model = add_lora(model, config)

    # 4. AdamW on the adapter weights; linear warm-up, then cosine decay to 10%. accelerate wraps the loss module
    # (DDP/FSDP) and the optimizer; the scheduler stays ours: it steps once per optimizer step, as here.
    optimizer = torch.optim.AdamW(
        [p for p in peft_model.parameters() if p.requires_grad],
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config.warmup_steps, total_steps))
    loss_of, optimizer = accelerator.prepare(PackedLoss(peft_model, device), optimizer)
    trainable = [p for p in loss_of.parameters() if p.requires_grad]
    if is_sharded(accelerator):
        checkpoints = None
    state = (checkpoints.restore(peft_model, optimizer, scheduler) if checkpoints else None) or TrainingState()

    def save_checkpoint() -> None:
        assert checkpoints is not None
        on_main(accelerator, lambda: checkpoints.save(peft_model, optimizer, scheduler, state))

    resumed_at = state.step
    if on_step:  # the loss curve goes on from where the interrupted run left it
        for done, loss in enumerate(state.losses, 1):
            on_step(done, total_steps, loss)

    # 5. Train: each step accumulates gradients over its rows, weighted by their labeled tokens. Each rank takes
    # its share of the rows; DDP averages gradients over ranks, hence × ranks / labeled tokens of all ranks.
    step, losses, stopped, early = state.step, state.losses, False, False
    tokens, passed = 0, 0  # tokens trained by this process; steps of the data order passed, replayed ones included
    started = time.perf_counter()
    loss_of.train()
    while step < total_steps and not (stopped or early):
        for rows in group_steps(pack(train, config.row_tokens, rng), config.tokens_per_step, ranks):
            if step >= total_steps:
                break
            passed += 1
            if passed <= resumed_at:
                continue  # trained before the interruption: only the order is replayed, so what follows matches
            mine = share(rows, rank, ranks)
            labeled, stopped = _agree(accelerator, device, sum(r.label_tokens for r, real in mine if real), should_stop)
            if stopped:
                if checkpoints and step > resumed_at:
                    save_checkpoint()
                break
            step_loss = torch.zeros((), device=device)
            for index, (row, real) in enumerate(mine):
                scale = row.label_tokens * ranks / labeled if real else 0.0
                # Gradients are all-reduced once per step, in the backward of this rank's last row.
                with nullcontext() if index == len(mine) - 1 else accelerator.no_sync(loss_of):
                    with autocast(device):
                        loss = loss_of(row) * scale
                    accelerator.backward(loss)
                step_loss += loss.detach() / ranks
                tokens += row.input_ids.numel() if real else 0
            accelerator.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            state.step = step
            losses.append(float(accelerator.reduce(step_loss, "sum")))
            if on_step:
                on_step(step, total_steps, losses[-1])
            if config.eval_every_steps and step % config.eval_every_steps == 0 and step < total_steps:
                early = _validate(state, peft_model, evaluate_loss(loss_of, val_rows, device, accelerator), config)
                loss_of.train()
            if checkpoints and checkpoints.due(step):
                save_checkpoint()
            if early:
                break
    seconds = time.perf_counter() - started
    tokens_per_rank = tuple(int(n) for n in accelerator.gather(torch.tensor([tokens], device=device)).tolist())

    # 6. Validate (not after a stop: the run ends without a version). With early stopping on, the final adapter
    # competes with the best one evaluated on the way, and the better one stays.
    val_loss = None if stopped else evaluate_loss(loss_of, val_rows, device, accelerator)
    if val_loss is not None and state.best_weights is not None and state.best_val_loss is not None:
        if state.best_val_loss < val_loss:
            load_weights(peft_model, state.best_weights)
            val_loss = state.best_val_loss
        else:
            state.best_step, state.best_val_loss = step, val_loss
    loss_of.eval()
    tail = losses[-max(1, steps_per_epoch) :]  # the last epoch's mean: less noisy than the last step
    result = TrainResult(
        train_loss=sum(tail) / len(tail) if tail else float("nan"),
        val_loss=val_loss,
        steps=step,
        epochs=step / steps_per_epoch,
        examples=len(train),
        tokens=sum(tokens_per_rank),
        seconds=seconds,
        skipped_too_long=too_long,
        stopped=stopped,
        resumed_at_step=resumed_at,
        best_step=state.best_step,
        stopped_early=early,
        tokens_per_rank=tokens_per_rank,
        gradient_checkpointing=checkpointing,
        attention=model.config._attn_implementation,
    )
    return TrainedAdapter(peft_model, result, loss_of, accelerator, val_rows, device)


def _validate(state: TrainingState, model: PeftModel, val_loss: float | None, config: TrainingConfig) -> bool:
    """Early stopping's bookkeeping after an evaluation; True when training should stop (no improvement for
    `patience` evaluations). The best adapter so far is kept in memory (a LoRA adapter is a few MB)."""
    if val_loss is None:
        return False
    if state.best_val_loss is None or val_loss < state.best_val_loss:
        state.best_val_loss, state.best_step, state.evals_since_best = val_loss, state.step, 0
        state.best_weights = trainable_weights(model)
        return False
    state.evals_since_best += 1
    return state.evals_since_best >= config.patience


def _agree(
    accelerator: Accelerator, device: torch.device, labeled: int, should_stop: Callable[[], bool] | None
) -> tuple[int, bool]:
    """One all-reduce before each step: the step's labeled tokens over all ranks, and whether any rank must stop."""
    stop = bool(should_stop and should_stop())
    both = accelerator.reduce(torch.tensor([labeled, int(stop)], device=device), "sum").tolist()
    return max(1, int(both[0])), bool(both[1])


def _lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


# 7. Save ----------------------------------------------------------------------------------------------------


@dataclass
class TrainedAdapter:
    """A trained adapter with what scoring and saving it needs. With several processes its methods are
    collective: every rank calls them, in the same order."""

    model: PeftModel  # unwrapped: generate with it in a single process
    result: TrainResult
    loss: torch.nn.Module  # PackedLoss as accelerate prepared it: forward passes go through DDP/FSDP
    accelerator: Accelerator
    val_rows: list[PackedBatch]
    device: torch.device

    def validation_loss_of(self, adapter_path: str | Path) -> float | None:
        """Another adapter's loss on this run's validation rows, packed exactly as the new adapter's were."""
        self.model.load_adapter(str(adapter_path), adapter_name="other")
        self.model.set_adapter("other")
        try:
            return evaluate_loss(self.loss, self.val_rows, self.device, self.accelerator)
        finally:
            self.model.set_adapter("default")
            self.model.delete_adapter("other")

    def save(self, directory: Path) -> None:
        """The main process writes the adapter (FSDP gathers it from every rank's shard first)."""
        state = self.accelerator.get_state_dict(self.loss)
        on_main(self.accelerator, lambda: save_adapter(self.model, directory, state))

    def checksum(self) -> str | None:
        """A digest of this rank's adapter weights: every rank's must be equal after data-parallel training
        (None under FSDP, where each rank holds a shard)."""
        if is_sharded(self.accelerator):
            return None
        digest = hashlib.sha256()
        for name, weight in sorted(self.model.named_parameters(), key=lambda named: named[0]):
            if "lora_" in name:
                digest.update(weight.detach().float().cpu().numpy().tobytes())
        return digest.hexdigest()[:16]


def save_adapter(model: PeftModel, directory: Path, state_dict: dict[str, torch.Tensor] | None = None) -> None:
    """Write the adapter (safetensors + config) atomically: a crash never leaves half an adapter.

    state_dict: the weights as gathered by accelerate (keys under PackedLoss's `peft.`), instead of the model's.
    """
    partial = directory.with_name(directory.name + ".partial")
    directory.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(partial, ignore_errors=True)
    if state_dict is not None:
        state_dict = {key.removeprefix("peft."): value for key, value in state_dict.items()}
    model.save_pretrained(str(partial), state_dict=state_dict)
    shutil.rmtree(directory, ignore_errors=True)
    partial.rename(directory)
