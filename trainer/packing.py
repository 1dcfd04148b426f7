"""Packed rows, the recipe's data: chats tokenized with labels on the assistant turns only, packed into rows
with no padding, each rank's share of a step's rows, and the loss on a packed row.

Packing is what makes training fast on a CPU (bench/train_throughput.py measures it): a row holds several
examples and no padding, a block-diagonal attention mask (or, under FlashAttention 2, the examples'
boundaries) keeps them apart, and the vocabulary projection runs only on the positions that carry a label.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from peft import PeftModel
from transformers import PreTrainedTokenizerBase

IGNORE = -100


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


def group_steps(rows: Sequence[PackedBatch], tokens_per_step: int, ranks: int = 1) -> list[list[PackedBatch]]:
    """Consecutive rows grouped into optimizer steps of about tokens_per_step tokens (gradient accumulation).
    With several processes a step also holds a multiple of their number of rows, so each gets as many."""
    steps: list[list[PackedBatch]] = []
    size = tokens_per_step
    for row in rows:
        if size >= tokens_per_step and len(steps[-1] if steps else []) % ranks == 0:
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


# The loss on a packed row -----------------------------------------------------------------------------------


def batch_loss(model: PeftModel, batch: PackedBatch, device: torch.device) -> torch.Tensor:
    """Weighted mean cross-entropy over labeled tokens; logits are computed for those positions only."""
    causal_lm: Any = model.get_base_model()  # the Llama-style *ForCausalLM with LoRA layers inside
    hidden = causal_lm.model(
        input_ids=batch.input_ids.to(device),
        position_ids=batch.position_ids.to(device),
        use_cache=False,
        **_example_boundaries(causal_lm, batch.lengths, device),
    ).last_hidden_state[0, :-1]
    targets = batch.labels[0, 1:].to(device)  # token t+1 is predicted from position t
    weights = batch.weights[0, 1:].to(device)
    labeled = targets != IGNORE
    logits = causal_lm.lm_head(hidden[labeled]).float()
    losses = F.cross_entropy(logits, targets[labeled], reduction="none")
    return (losses * weights[labeled]).sum() / weights[labeled].sum().clamp_min(1e-8)


def _example_boundaries(causal_lm: Any, lengths: Sequence[int], device: torch.device) -> dict[str, Any]:
    """What keeps a row's examples apart. FlashAttention takes their cumulative lengths (the varlen kernel, as
    transformers' DataCollatorWithFlattening prepares them) and no mask; SDPA gets the block-diagonal mask."""
    if causal_lm.config._attn_implementation == "flash_attention_2":
        bounds = torch.tensor([0, *itertools.accumulate(lengths)], dtype=torch.int32, device=device)
        longest = max(lengths)
        return {
            "attention_mask": None,
            "cu_seq_lens_q": bounds,
            "cu_seq_lens_k": bounds,
            "max_length_q": longest,
            "max_length_k": longest,
        }
    dtype = next(causal_lm.parameters()).dtype
    return {"attention_mask": block_causal_mask(lengths, dtype, device)}


class PackedLoss(torch.nn.Module):
    """batch_loss as a module. accelerate wraps this module (DDP, FSDP), so every forward goes through the
    wrapper's hooks: DDP's gradient all-reduce, FSDP's weight all-gather."""

    def __init__(self, model: PeftModel, device: torch.device) -> None:
        super().__init__()
        self.peft = model
        self.device = device
        # FSDP's transformer auto-wrap puts each decoder layer in its own shard group; it finds them by this.
        self._no_split_modules = getattr(model.get_base_model(), "_no_split_modules", None)

    def forward(self, batch: PackedBatch) -> torch.Tensor:
        return batch_loss(self.peft, batch, self.device)


def share(rows: Sequence[PackedBatch], rank: int, ranks: int) -> list[tuple[PackedBatch, bool]]:
    """This rank's rows of a step: every ranks-th row, disjoint from the other ranks'. Every rank gets the same
    number of rows (FSDP gathers weights at each forward, so all ranks must run as many): a rank short of one
    (the last step of an epoch, the validation set) repeats a row with weight 0 (the flag is False), which adds
    nothing."""
    mine = [(row, True) for row in rows[rank::ranks]]
    count = math.ceil(len(rows) / ranks)
    return mine + [(rows[0], False)] * (count - len(mine))


@torch.no_grad()
def evaluate_loss(
    loss: torch.nn.Module, batches: Sequence[PackedBatch], device: torch.device, accelerator: Accelerator
) -> float | None:
    """Label-token-weighted validation loss over all processes' shares; None when there is nothing to validate."""
    if not batches:
        return None
    loss.eval()
    totals = torch.zeros(2, dtype=torch.float64, device=device)  # [sum of loss × labeled tokens, labeled tokens]
    for batch, real in share(batches, accelerator.process_index, accelerator.num_processes):
        n = batch.label_tokens if real else 0
        with autocast(device):
            value = loss(batch)
        totals += torch.stack([value.double() * n, torch.tensor(n, dtype=torch.float64, device=device)])
    total, count = accelerator.reduce(totals, "sum").tolist()
    return total / count if count else None


def autocast(device: torch.device) -> Any:
    """bf16 autocast on CUDA; full precision on a CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)
