"""Warm `ask` latency: p50/p95 over the eval questions, and each reader against a plain baseline.

The Answerer is loaded once (as `ftbot ask -` does); each question then runs the full path: embed, retrieve,
focus, read (the configured reader: select scores the passages, generate decodes greedily up to
max_new_tokens), anonymize and store. Baselines, in the same run: the same prompts through transformers'
generate() on the default SDPA attention; and the passages scored one full forward pass each (prompt and
reply) instead of one prefill and one batch.

    .venv/bin/python bench/ask_latency.py --questions 40

Needs a trained demo (`make demo`) in FTBOT_HOME (default ./var).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--file", type=Path, default=Path(__file__).resolve().parent.parent / "examples/eval.jsonl")
    parser.add_argument("--baseline", type=int, default=10, help="questions for the generate() baseline")
    args = parser.parse_args()

    from transformers import logging as hf_logging

    hf_logging.set_verbosity_error()
    import torch

    from ftbot.answering.answer import Answerer
    from ftbot.answering.reader import as_reply
    from ftbot.config import load_settings
    from ftbot.llm import load_base_model
    from ftbot.prompt import DONT_KNOW, chat_messages, fit_contexts
    from ftbot.storage.db import Database

    settings = load_settings()
    questions = [json.loads(line)["question"] for line in args.file.read_text().splitlines() if line.strip()]
    questions = (questions * (args.questions // len(questions) + 1))[: args.questions]

    started = time.perf_counter()
    answerer = Answerer(settings, Database(settings.db_url), store=True)
    load_seconds = time.perf_counter() - started
    tokenizer = answerer.generator._tokenizer  # type: ignore[attr-defined]
    for question in questions[:2]:
        answerer.answer(question)  # warm-up

    latencies, tokens = [], []
    for question in questions:
        result = answerer.answer(question)
        latencies.append(result.latency_ms)
        tokens.append(len(tokenizer(result.answer, add_special_tokens=False)["input_ids"]))

    # Baseline: the same prompts through generate() with SDPA attention and the adapter merged the same way.
    # Ours keeps its prefix cache here too (each prompt reuses the previous one's shared start), as it does
    # when serving; generate() recomputes every prompt from scratch.
    model = answerer.generator._model  # type: ignore[attr-defined]
    # The version's base model, not today's setting (a GPU-trained version may be on another).
    sdpa = load_base_model(answerer.generator.base_model, settings.cache_dir, torch.device("cpu"), attention="sdpa")
    sdpa.load_state_dict(model.state_dict())
    sdpa.eval()
    ours_ms, base_ms = [], []
    for question in questions[: args.baseline]:
        hits = answerer.retrieve(question)
        passages = answerer.index.focus(question, hits, settings.retrieval.max_units) if answerer.index else []
        messages = chat_messages(question, fit_contexts([p.text for p in passages], settings.retrieval.context_chars))
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        t0 = time.perf_counter()
        answerer.generator.generate(messages)
        ours_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        with torch.inference_mode():
            sdpa.generate(
                ids,
                max_new_tokens=settings.generation.max_new_tokens,
                do_sample=False,
                eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
            )
        base_ms.append((time.perf_counter() - t0) * 1000)

    # Baseline for the selecting reader: each reply scored by its own forward pass over prompt + reply.
    select_ms, naive_ms = [], []
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    for question in questions[: args.baseline]:
        hits = answerer.retrieve(question)
        passages = answerer.index.focus(question, hits, settings.retrieval.max_units) if answerer.index else []
        contexts = fit_contexts([p.text for p in passages], settings.retrieval.context_chars)
        messages = chat_messages(question, contexts)
        replies = [as_reply(context) for context in contexts] + [DONT_KNOW]
        t0 = time.perf_counter()
        answerer.generator.score_replies(messages, replies)  # type: ignore[attr-defined]
        select_ms.append((time.perf_counter() - t0) * 1000)
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        t0 = time.perf_counter()
        with torch.inference_mode():
            for reply in replies:
                reply_ids = tokenizer(reply, add_special_tokens=False)["input_ids"] + [end]
                model(input_ids=torch.tensor([prompt_ids + reply_ids]))
        naive_ms.append((time.perf_counter() - t0) * 1000)

    report = {
        "command": f"python bench/ask_latency.py --questions {args.questions} --baseline {args.baseline}",
        "model_version": answerer.generator.version,
        "threads": torch.get_num_threads(),
        "questions": len(latencies),
        "load_seconds": round(load_seconds, 1),
        "p50_ms": round(percentile(latencies, 0.5)),
        "p95_ms": round(percentile(latencies, 0.95)),
        "mean_answer_tokens": round(statistics.mean(tokens), 1),
        "max_answer_tokens": max(tokens),
        "generate_only_ms_ours_mean": round(statistics.mean(ours_ms)),
        "generate_only_ms_hf_generate_sdpa_mean": round(statistics.mean(base_ms)),
        "speedup_vs_hf_generate": round(statistics.mean(base_ms) / statistics.mean(ours_ms), 2),
        "reader": settings.generation.reader,
        "select_only_ms_ours_mean": round(statistics.mean(select_ms)),
        "select_only_ms_one_pass_per_reply_mean": round(statistics.mean(naive_ms)),
        "select_speedup": round(statistics.mean(naive_ms) / statistics.mean(select_ms), 2),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
