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
        # Eager attention: on a CPU, SDPA's kernel costs ~6 ms per layer for a single decoded token.
        model: Any = load_base_model(settings.base_model, settings.cache_dir, self._device, attention="eager")
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
        for _ in range(self._config.max_new_tokens):
            token = int(out.logits[0, -1].argmax())
            if token in self._stop_ids:
                break
            produced.append(token)
            if _repeats(produced):
                break
            out = self._model(
                input_ids=torch.tensor([[token]], device=self._device),
                past_key_values=out.past_key_values,
                use_cache=True,
                logits_to_keep=1,
            )
        return str(self._tokenizer.decode(_without_repeat(produced), skip_special_tokens=True)).strip()


REPEAT_NGRAM = 8


def _repeats(tokens: list[int], n: int = REPEAT_NGRAM) -> bool:
    """Greedy decoding of a small model can loop ("I don't know. I don't know. ..."): stop when the last
    n tokens already occurred earlier in the answer."""
    if len(tokens) < 2 * n:
        return False
    tail = tokens[-n:]
    return any(tokens[i : i + n] == tail for i in range(len(tokens) - 2 * n + 1))


def _without_repeat(tokens: list[int], n: int = REPEAT_NGRAM) -> list[int]:
    """The answer without the repeat: checked after every token, the loop is caught as its first n-gram
    recurs, so dropping the last n tokens keeps exactly one pass."""
    return tokens[:-n] if _repeats(tokens, n) else tokens


def _quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 for the linear layers (weights int8, activations quantized on the fly): less memory
    traffic per decoded token, which is what bounds CPU decoding."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao announces its move to torchao; the API still works
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
