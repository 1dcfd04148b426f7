"""Training throughput: ftbot's LoRA recipe vs a plain HF Trainer + PEFT loop, same data, same run.

Both train the same LoRA config on the same tokenized examples (labels on assistant tokens only) for one
epoch. Throughput counts real tokens (no padding) per second of training. The baseline pads each batch to
its longest example and computes logits for every position, as `Trainer` does by default; ftbot packs
examples into short rows with no padding and computes logits only where there is a label.

The base model is the one a training run on this device would use (settings.base_model_for: the GPU base
model on CUDA). On CUDA it also reports MFU: 4·N FLOPs per token (N = the base model's parameters: forward
2N, backward through the frozen weights 2N, no weight gradients but LoRA's) × tokens/s over the GPU's peak
dense bf16 FLOP/s.

    .venv/bin/python bench/train_throughput.py --examples 64

Needs a database with ingested records (FTBOT_HOME, default ./var): run `make demo` or `ftbot ingest` first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Peak dense bf16 FLOP/s by GPU name (NVIDIA datasheets, without sparsity); checked in order, first match wins.
PEAK_BF16_FLOPS = (
    ("H100 PCIe", 756e12),
    ("H100", 989e12),  # SXM
    ("H200", 989e12),
    ("A100", 312e12),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=64, help="examples from the demo dataset")
    parser.add_argument("--batch-size", type=int, default=4, help="baseline per-device batch size")
    args = parser.parse_args()

    from transformers import logging as hf_logging

    hf_logging.set_verbosity_error()
    from ftbot.config import load_settings
    from ftbot.llm import load_base_model, load_tokenizer, pick_device
    from ftbot.storage.db import Database
    from trainer.lora import tokenize_chat, train_lora, training_attention
    from trainer.pipeline import build_dataset

    settings = load_settings()
    device = pick_device(settings.device)
    base_model = settings.base_model_for(device.type)
    dataset = build_dataset(settings, Database(settings.db_url))
    examples = random.Random(0).sample(dataset.examples, min(args.examples, len(dataset.examples)))
    chats = [(e.messages, e.weight) for e in examples]
    tokenizer = load_tokenizer(base_model, settings.cache_dir)
    tokenized = [tokenize_chat(tokenizer, m, w) for m, w in chats]
    real_tokens = sum(len(t.input_ids) for t in tokenized)
    config = settings.training.model_copy(update={"epochs": 1.0, "validation_fraction": 0.0})

    # ftbot: packed rows, logits on labeled positions only (FlashAttention 2 on CUDA when installed).
    model = load_base_model(base_model, settings.cache_dir, device, attention=training_attention(device))
    parameters = sum(p.numel() for p in model.parameters())
    result = train_lora(model, tokenizer, chats, [], config, device).result
    ours = result.tokens / result.seconds

    # Baseline: HF Trainer + PEFT, padded batches, full logits.
    model = load_base_model(base_model, settings.cache_dir, device)
    baseline_seconds, padded_tokens = _hf_trainer_epoch(
        model, tokenized, tokenizer.pad_token_id, config, args.batch_size, device
    )
    baseline = real_tokens / baseline_seconds

    gpu, peak = _peak_flops(device)
    report = {
        "command": f"python bench/train_throughput.py --examples {args.examples} --batch-size {args.batch_size}",
        "device": str(device),
        "cpu": platform.processor() or platform.machine(),
        "gpu": gpu,
        "threads": torch.get_num_threads(),
        "base_model": base_model,
        "parameters": parameters,
        "attention": result.attention,
        "gradient_checkpointing": result.gradient_checkpointing,
        "examples": len(examples),
        "real_tokens": real_tokens,
        "baseline_padded_tokens": padded_tokens,
        "ftbot_tokens_per_s": round(ours, 1),
        "baseline_tokens_per_s": round(baseline, 1),
        "ratio": round(ours / baseline, 2),
        "ftbot_seconds": round(result.seconds, 1),
        "baseline_seconds": round(baseline_seconds, 1),
        "ftbot_mfu": round(4 * parameters * ours / peak, 3) if peak else None,
        "baseline_mfu": round(4 * parameters * baseline / peak, 3) if peak else None,
    }
    print(json.dumps(report, indent=2))
    mfu = f"{report['ftbot_mfu']:.1%}" if peak else ("n/a (no GPU)" if gpu is None else f"unknown peak for {gpu}")
    print(
        "\n| ftbot tokens/s | HF Trainer+PEFT tokens/s | ratio | ftbot MFU |\n|---|---|---|---|\n"
        f"| {report['ftbot_tokens_per_s']} | {report['baseline_tokens_per_s']} | {report['ratio']}x | {mfu} |"
    )


def _peak_flops(device: torch.device) -> tuple[str | None, float | None]:
    """The GPU's name and peak dense bf16 FLOP/s (None when not in the table, or not a GPU)."""
    if device.type != "cuda":
        return None, None
    name = torch.cuda.get_device_name(device)
    return name, next((flops for key, flops in PEAK_BF16_FLOPS if key in name), None)


def _hf_trainer_epoch(model, tokenized, pad_id: int, config, batch_size: int, device) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """One epoch of the textbook recipe: get_peft_model + Trainer with a padding collator."""
    from transformers import Trainer, TrainingArguments

    from trainer.lora import add_lora  # the same LoRA config (peft get_peft_model) as ftbot uses

    peft_model = add_lora(model, config)
    rows = [{"input_ids": t.input_ids, "labels": t.labels} for t in tokenized]
    padded = [0]

    def collate(batch: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        longest = max(len(row["input_ids"]) for row in batch)
        padded[0] += longest * len(batch)

        def pad(key: str, value: int) -> torch.Tensor:
            return torch.tensor([row[key] + [value] * (longest - len(row[key])) for row in batch])

        ids = pad("input_ids", pad_id)
        mask = torch.tensor([[1] * len(row["input_ids"]) + [0] * (longest - len(row["input_ids"])) for row in batch])
        return {"input_ids": ids, "labels": pad("labels", -100), "attention_mask": mask}

    with tempfile.TemporaryDirectory() as output:
        arguments = TrainingArguments(
            output_dir=output,
            per_device_train_batch_size=batch_size,
            num_train_epochs=1,
            learning_rate=config.learning_rate,
            warmup_steps=config.warmup_steps,
            lr_scheduler_type="cosine",
            save_strategy="no",
            report_to=[],
            logging_steps=10_000,
            remove_unused_columns=False,
            use_cpu=device.type == "cpu",
            bf16=device.type == "cuda",
            dataloader_num_workers=0,
            seed=config.seed,
        )
        trainer = Trainer(model=peft_model, args=arguments, train_dataset=rows, data_collator=collate)
        started = time.perf_counter()
        trainer.train()
        return time.perf_counter() - started, padded[0]


if __name__ == "__main__":
    main()
