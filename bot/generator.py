"""In-process answer generation: the base model with the active adapter merged in, greedy decoding."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

import torch

from ftbot.config import GenerationConfig, Settings
from ftbot.llm import load_base_model, load_tokenizer, pick_device

log = logging.getLogger(__name__)


class Generator(Protocol):
    """A model backend: chat messages in, the assistant's reply out."""

    version: str

    def generate(self, messages: list[dict[str, str]]) -> str: ...


class LocalGenerator:
    """transformers on this machine. The adapter is merged into the weights: no LoRA cost per token."""

    def __init__(self, settings: Settings, adapter_path: Path | None, version: str) -> None:
        self.version = version
        self._config: GenerationConfig = settings.generation
        self._device = pick_device(settings.device)
        self._tokenizer = load_tokenizer(settings.base_model, settings.cache_dir)
        # SDPA: measured on 2 CPU cores, 517 ms vs eager's 645 ms for a 250-token prefill, 57 vs 61 ms per token.
        model: Any = load_base_model(settings.base_model, settings.cache_dir, self._device, attention="sdpa")
        if adapter_path is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter_path)).merge_and_unload()
        model.eval()
        if self._device.type == "cpu" and self._config.quantize_cpu:
            model = _quantize_int8(model)
        self._model = model
        self._stop_ids = {
            i
            for i in (self._tokenizer.eos_token_id, self._tokenizer.convert_tokens_to_ids("<|im_end|>"))
            if isinstance(i, int) and i >= 0
        }

    @torch.inference_mode()
    def generate(self, messages: list[dict[str, str]]) -> str:
        prompt = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = torch.tensor([self._tokenizer(prompt, add_special_tokens=False)["input_ids"]], device=self._device)
        # A plain greedy loop over the KV cache: less per-token overhead than generate() for short answers.
        out = self._model(input_ids=ids, use_cache=True, logits_to_keep=1)
        produced: list[int] = []
        looped = False
        for _ in range(self._config.max_new_tokens):
            token = int(out.logits[0, -1].argmax())
            if token in self._stop_ids:
                break
            produced.append(token)
            looped = _repeats(produced)
            if looped:
                break
            out = self._model(
                input_ids=torch.tensor([[token]], device=self._device),
                past_key_values=out.past_key_values,
                use_cache=True,
                logits_to_keep=1,
            )
        if not looped:
            return str(self._tokenizer.decode(produced, skip_special_tokens=True)).strip()
        text = str(self._tokenizer.decode(produced[:-REPEAT_NGRAM], skip_special_tokens=True)).strip()
        return _last_full_sentence(text)


REPEAT_NGRAM = 12  # shorter spans repeat legitimately ("per month for 1 user" in a price list)


def _repeats(tokens: list[int], n: int = REPEAT_NGRAM) -> bool:
    """Greedy decoding of a small model can loop ("I don't know. I don't know. ..."): stop when the last
    n tokens already occurred earlier in the answer."""
    if len(tokens) < 2 * n:
        return False
    tail = tokens[-n:]
    return any(tokens[i : i + n] == tail for i in range(len(tokens) - 2 * n + 1))


def _last_full_sentence(text: str) -> str:
    """A looping answer cut where the loop began can end mid-number ("EUR 4" of "EUR 49"): keep it up to
    its last full sentence, or else its last full clause, marked as cut."""
    if text.endswith((".", "!", "?")):
        return text
    end = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
    if end >= 0:
        return text[: end + 1]
    clause = max(text.rfind(", "), text.rfind("; "))
    return text[:clause] + " ..." if clause > 0 else text


def _quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 for the linear layers (weights int8, activations quantized on the fly): less memory
    traffic per decoded token, which is what bounds CPU decoding."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao announces its move to torchao; the API still works
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
