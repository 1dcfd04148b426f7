"""THE training recipe: LoRA on the chat template, loss on assistant tokens only, packed batches.

Read top to bottom: 1. tokenize → 2. pack → 3. model + LoRA → 4. optimizer → 5. train → 6. validate → 7. save.
Two things make it fast on a CPU, and both are measured in bench/train_throughput.py against a plain
HF Trainer + PEFT loop: examples are packed into rows with no padding (a block-diagonal attention mask keeps
them apart), and the vocabulary projection runs only on the positions that carry a label.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ftbot.config import TrainingConfig

IGNORE = -100
ProgressCallback = Callable[[int, int, float], None]  # (step, total_steps, loss)


@dataclass(frozen=True)
class TokenizedExample:
    input_ids: list[int]
    labels: list[int]  # IGNORE except on assistant tokens
    weight: float


@dataclass(frozen=True)
class PackedBatch:
    input_ids: torch.Tensor  # [1, n]
    position_ids: torch.Tensor  # [1, n], restarting at 0 for each example
    labels: torch.Tensor  # [1, n]
    weights: torch.Tensor  # [1, n], the example's weight on each of its tokens
    lengths: tuple[int, ...]  # the examples' lengths, for the block-diagonal mask

    @property
    def label_tokens(self) -> int:
        return int((self.labels != IGNORE).sum())


@dataclass(frozen=True)
class TrainResult:
    train_loss: float
    val_loss: float | None
    steps: int
    epochs: float
    examples: int
    tokens: int  # real (non-padding) tokens processed in training, all epochs
    seconds: float
    skipped_too_long: int

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


# 1. Tokenize ---------------------------------------------------------------------------------------------


def tokenize_chat(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[dict[str, str]], weight: float = 1.0
) -> TokenizedExample:
    """Tokens of a chat as the template renders it; labels only on the assistant turns (and their end tag).

    Each prompt part is tokenized on its own, exactly as at answering time, where the model continues
    after the rendered prompt.
    """
    input_ids: list[int] = []
    labels: list[int] = []
    done = ""
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = _render(tokenizer, messages[:index], generation_prompt=True)
        full = _render(tokenizer, messages[: index + 1], generation_prompt=False)
        if not prompt.startswith(done) or not full.startswith(prompt):
            raise ValueError("the chat template does not render turns as prefixes of each other")
        prompt_ids = _encode(tokenizer, prompt[len(done) :])
        answer_ids = _encode(tokenizer, full[len(prompt) :])
        input_ids += prompt_ids + answer_ids
        labels += [IGNORE] * len(prompt_ids) + answer_ids
        done = full
    return TokenizedExample(input_ids, labels, weight)


def _render(tokenizer: PreTrainedTokenizerBase, messages: Sequence[dict[str, str]], generation_prompt: bool) -> str:
    return str(tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=generation_prompt))


def _encode(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


# 2. Pack ---------------------------------------------------------------------------------------------------


def pack(examples: Sequence[TokenizedExample], row_tokens: int, rng: random.Random) -> list[PackedBatch]:
    """Shuffle, then fill each row first-fit up to row_tokens: no padding at all."""
    order = list(examples)
    rng.shuffle(order)
    rows: list[list[TokenizedExample]] = []
    room: list[int] = []
    for example in order:
        size = len(example.input_ids)
        slot = next((i for i, free in enumerate(room) if free >= size), None)
        if slot is None:
            rows.append([example])
            room.append(row_tokens - size)
        else:
            rows[slot].append(example)
            room[slot] -= size
    return [_collate(row) for row in rows]


def group_steps(rows: Sequence[PackedBatch], tokens_per_step: int) -> list[list[PackedBatch]]:
    """Consecutive rows grouped into optimizer steps of about tokens_per_step tokens (gradient accumulation)."""
    steps: list[list[PackedBatch]] = []
    size = tokens_per_step
    for row in rows:
        if size >= tokens_per_step:
            steps.append([])
            size = 0
        steps[-1].append(row)
        size += row.input_ids.numel()
    return steps


def _collate(row: Sequence[TokenizedExample]) -> PackedBatch:
    def flat(values: list[list[Any]], dtype: torch.dtype) -> torch.Tensor:
        return torch.tensor([v for part in values for v in part], dtype=dtype).unsqueeze(0)

    return PackedBatch(
        input_ids=flat([e.input_ids for e in row], torch.long),
        position_ids=flat([list(range(len(e.input_ids))) for e in row], torch.long),
        labels=flat([e.labels for e in row], torch.long),
        weights=flat([[e.weight] * len(e.input_ids) for e in row], torch.float32),
        lengths=tuple(len(e.input_ids) for e in row),
    )


def block_causal_mask(lengths: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Additive [1, 1, n, n] mask: each token sees earlier tokens of its own example only."""
    segment = torch.repeat_interleave(torch.arange(len(lengths), device=device), torch.tensor(lengths, device=device))
    n = segment.numel()
    allowed = (segment[:, None] == segment[None, :]) & torch.ones(n, n, dtype=torch.bool, device=device).tril()
    mask = torch.zeros(n, n, dtype=dtype, device=device)
    return mask.masked_fill_(~allowed, torch.finfo(dtype).min)[None, None]


# 3. Model + LoRA ------------------------------------------------------------------------------------------


def add_lora(model: PreTrainedModel, config: TrainingConfig) -> PeftModel:
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)  # type: ignore[return-value]


def batch_loss(model: PeftModel, batch: PackedBatch, device: torch.device) -> torch.Tensor:
    """Weighted mean cross-entropy over labeled tokens; logits are computed for those positions only."""
    causal_lm: Any = model.get_base_model()  # the Llama-style *ForCausalLM with LoRA layers inside
    dtype = next(causal_lm.parameters()).dtype
    hidden = causal_lm.model(
        input_ids=batch.input_ids.to(device),
        position_ids=batch.position_ids.to(device),
        attention_mask=block_causal_mask(batch.lengths, dtype, device),
        use_cache=False,
    ).last_hidden_state[0, :-1]
    targets = batch.labels[0, 1:].to(device)  # token t+1 is predicted from position t
    weights = batch.weights[0, 1:].to(device)
    labeled = targets != IGNORE
    logits = causal_lm.lm_head(hidden[labeled]).float()
    losses = F.cross_entropy(logits, targets[labeled], reduction="none")
    return (losses * weights[labeled]).sum() / weights[labeled].sum().clamp_min(1e-8)


@torch.no_grad()
def evaluate_loss(model: PeftModel, batches: Sequence[PackedBatch], device: torch.device) -> float | None:
    """Label-token-weighted validation loss; None when there is nothing to validate on."""
    if not batches:
        return None
    model.eval()
    total, count = 0.0, 0
    for batch in batches:
        n = batch.label_tokens
        if n:
            with _autocast(device):
                total += float(batch_loss(model, batch, device)) * n
            count += n
    return total / count if count else None


def _autocast(device: torch.device) -> Any:
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


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
) -> tuple[PeftModel, TrainResult]:
    """Train a LoRA adapter on (messages, weight) chats; returns the adapted model and its metrics."""
    torch.manual_seed(config.seed)
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
        group_steps(pack(train, config.row_tokens, random.Random(config.seed)), config.tokens_per_step)
    )
    total_steps = max(1, math.ceil(steps_per_epoch * config.epochs))

    # 3. LoRA on the frozen base model.
    peft_model = add_lora(model, config)

    # 4. AdamW on the adapter weights; linear warm-up, then cosine decay to 10%.
    optimizer = torch.optim.AdamW(
        [p for p in peft_model.parameters() if p.requires_grad],
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config.warmup_steps, total_steps))

    # 5. Train: each step accumulates gradients over its rows, weighted by their labeled tokens.
    step, tokens, losses = 0, 0, []
    started = time.perf_counter()
    peft_model.train()
    while step < total_steps and not (should_stop and should_stop()):
        for rows in group_steps(pack(train, config.row_tokens, rng), config.tokens_per_step):
            if step >= total_steps or (should_stop and should_stop()):
                break
            labeled = sum(row.label_tokens for row in rows) or 1
            step_loss = 0.0
            for row in rows:
                with _autocast(device):
                    loss = batch_loss(peft_model, row, device) * (row.label_tokens / labeled)
                loss.backward()
                step_loss += float(loss.detach())
                tokens += row.input_ids.numel()
            torch.nn.utils.clip_grad_norm_(peft_model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            losses.append(step_loss)
            if on_step:
                on_step(step, total_steps, step_loss)
    seconds = time.perf_counter() - started

    # 6. Validate.
    val_loss = evaluate_loss(peft_model, val_rows, device)
    peft_model.eval()
    tail = losses[-max(1, steps_per_epoch) :]  # the last epoch's mean: less noisy than the last step
    result = TrainResult(
        train_loss=sum(tail) / len(tail) if tail else float("nan"),
        val_loss=val_loss,
        steps=step,
        epochs=step / steps_per_epoch,
        examples=len(train),
        tokens=tokens,
        seconds=seconds,
        skipped_too_long=too_long,
    )
    return peft_model, result


def _lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


# 7. Save ----------------------------------------------------------------------------------------------------


def save_adapter(model: PeftModel, directory: Path) -> None:
    """Write the adapter (safetensors + config) atomically: a crash never leaves half an adapter."""
    partial = directory.with_name(directory.name + ".partial")
    model.save_pretrained(str(partial))
    partial.rename(directory)


def val_batches_for(
    tokenizer: PreTrainedTokenizerBase, chats: Sequence[tuple[list[dict[str, str]], float]], config: TrainingConfig
) -> list[PackedBatch]:
    """The validation set packed the way train_lora packs it, for scoring another adapter on the same data."""
    examples = [tokenize_chat(tokenizer, m, w) for m, w in chats]
    examples = [e for e in examples if len(e.input_ids) <= config.max_seq_len]
    return pack(examples, config.row_tokens, random.Random(config.seed))
