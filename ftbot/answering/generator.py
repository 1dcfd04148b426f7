"""In-process answer generation: the base model with the active adapter merged in, greedy decoding."""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch

from ftbot.config import GenerationConfig, Settings
from ftbot.llm import load_model_and_tokenizer, pick_device

log = logging.getLogger(__name__)


class Generator(Protocol):
    """A model backend: chat messages in, the assistant's reply out."""

    version: str
    base_model: str  # the model the version was trained on

    def generate(self, messages: list[dict[str, str]]) -> str: ...


@runtime_checkable
class AdapterServer(Protocol):
    """A backend whose model server keeps adapters loaded: erased versions' copies must be unloaded there."""

    def unload_versions(self, versions: set[str]) -> None: ...


class LocalGenerator:
    """transformers on this machine. The adapter is merged into the weights: no LoRA cost per token."""

    def __init__(self, settings: Settings, base_model: str, adapter_path: Path | None, version: str) -> None:
        """`base_model` is the one the adapter was trained on (the version's), not necessarily today's setting."""
        self.version, self.base_model = version, base_model
        self._config: GenerationConfig = settings.generation
        self._device = pick_device(settings.device)
        # SDPA: measured on 2 CPU cores, 517 ms vs eager's 645 ms for a 250-token prefill, 57 vs 61 ms per token.
        self._tokenizer, base = load_model_and_tokenizer(
            base_model,
            settings.cache_dir,
            self._device,
            setting=f"the base model of version {version}",
            attention="sdpa",
        )
        model: Any = base
        if adapter_path is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter_path)).merge_and_unload()
        model.eval()
        if self._device.type == "cpu" and self._config.quantize_cpu:
            model = _quantize_int8(model)
        self._model = model
        self._prefix = PrefixCache()
        end_of_turn = self._tokenizer.convert_tokens_to_ids("<|im_end|>")
        self._end_of_turn_id = end_of_turn if isinstance(end_of_turn, int) and end_of_turn >= 0 else None
        self._stop_ids = {
            i for i in (self._tokenizer.eos_token_id, self._end_of_turn_id) if isinstance(i, int) and i >= 0
        }

    def generate(self, messages: list[dict[str, str]]) -> str:
        prompt = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        prompt_ids: list[int] = self._tokenizer(prompt, add_special_tokens=False)["input_ids"]
        produced, looped = self._decode(prompt_ids)
        if not looped:
            return without_repeated_sentences(str(self._tokenizer.decode(produced, skip_special_tokens=True)))
        text = str(self._tokenizer.decode(produced[:-REPEAT_NGRAM], skip_special_tokens=True)).strip()
        return without_repeated_sentences(_last_full_sentence(text))

    @torch.inference_mode()
    def _decode(self, prompt_ids: list[int]) -> tuple[list[int], bool]:
        """Greedy decoding with prompt-lookup drafts: answers mostly copy the context, so the tokens that
        followed the last few generated ones in the prompt are proposed as a draft and checked in one
        forward pass. Accepted tokens are those plain greedy decoding would produce, up to float rounding
        (a pass over several tokens sums in another order, which can flip a near-tie between two tokens).
        On a CPU a pass over 8 tokens costs little more than a pass over 1: reading the weights dominates.

        Invariant: the KV cache holds every token except `token`, the next one to emit.
        """
        limit = self._config.max_new_tokens
        reused, cache = self._prefix.take(prompt_ids)
        out = self._model(
            input_ids=self._tensor(prompt_ids[reused:]), past_key_values=cache, use_cache=True, logits_to_keep=1
        )
        cache, token = out.past_key_values, int(out.logits[0, -1].argmax())
        self._prefix.keep(prompt_ids, cache)
        produced: list[int] = []
        while token not in self._stop_ids and len(produced) < limit:
            produced.append(token)
            if _repeats(produced):
                return produced, True
            draft = _lookup_draft(prompt_ids + produced, min(DRAFT_TOKENS, limit - len(produced)))
            fed = [token, *draft]
            out = self._model(
                input_ids=self._tensor(fed), past_key_values=cache, use_cache=True, logits_to_keep=len(fed)
            )
            predicted = out.logits[0].argmax(-1).tolist()  # predicted[i]: the token after fed[i]
            accepted = 0
            while accepted < len(draft) and predicted[accepted] == draft[accepted]:
                if draft[accepted] in self._stop_ids or len(produced) >= limit:
                    break
                produced.append(draft[accepted])
                accepted += 1
                if _repeats(produced):
                    return produced, True
            rejected = len(draft) - accepted
            if rejected:
                cache.crop(-rejected)  # drop the rejected drafts' keys and values
            token = predicted[accepted]
        return produced, False

    @torch.inference_mode()
    def score_replies(self, messages: list[dict[str, str]], replies: Sequence[str]) -> list[float]:
        """Each reply's mean log-probability per token (its end-of-turn token included) as the assistant's
        whole answer to the messages. The prompt is prefilled once; the replies are scored together in one
        batch on copies of its cache: about 1.4 s for eight passages and a 1,600-character context on 2 cores.
        """
        prompt = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        prompt_ids: list[int] = self._tokenizer(prompt, add_special_tokens=False)["input_ids"]
        end = self._end_of_turn_id
        replies_ids = [
            list(self._tokenizer(reply, add_special_tokens=False)["input_ids"]) + ([end] if end is not None else [])
            for reply in replies
        ]
        reused, cache = self._prefix.take(prompt_ids)
        out = self._model(
            input_ids=self._tensor(prompt_ids[reused:]), past_key_values=cache, use_cache=True, logits_to_keep=1
        )
        cache = out.past_key_values
        self._prefix.keep(prompt_ids, cache)
        first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
        count, longest = len(replies_ids), max(map(len, replies_ids))
        # Right-padded batch: every real token keeps its position after the prompt; padding is masked out.
        batch = torch.zeros((count, longest), dtype=torch.long, device=self._device)
        mask = torch.zeros((count, len(prompt_ids) + longest), dtype=torch.long, device=self._device)
        mask[:, : len(prompt_ids)] = 1
        for row, ids in enumerate(replies_ids):
            batch[row, : len(ids)] = torch.tensor(ids, device=self._device)
            mask[row, len(prompt_ids) : len(prompt_ids) + len(ids)] = 1
        cache.batch_repeat_interleave(count)
        logits = self._model(input_ids=batch, past_key_values=cache, attention_mask=mask, use_cache=False).logits
        scores = []
        for row, ids in enumerate(replies_ids):
            if not ids:
                scores.append(float("-inf"))
                continue
            # Row by row, not one log-softmax over the batch: that would hold another batch × length × vocabulary
            # floats (over a gigabyte for eight long Q&A answers).
            steps = logits[row, : len(ids) - 1].float()
            targets = torch.tensor(ids[1:], device=self._device).unsqueeze(-1)
            rest = (steps.gather(-1, targets).squeeze(-1) - torch.logsumexp(steps, dim=-1)).sum()
            scores.append((float(first[ids[0]]) + float(rest)) / len(ids))
        return scores

    def _tensor(self, ids: list[int]) -> torch.Tensor:
        return torch.tensor([ids], device=self._device)


class PrefixCache:
    """The KV cache of the last prompt, so the next prompt prefills only what differs from it.

    Every prompt starts with the same chat template and system prompt, and questions on one topic often
    share their first context passages: those tokens' keys and values are reused instead of recomputed.
    Prefill is about 40% of an answer's time on a CPU (about 2.7 ms per prompt token on 2 cores).
    """

    def __init__(self) -> None:
        self._ids: list[int] = []
        self._cache: Any = None
        self._lock = threading.Lock()  # Bolt runs listeners on a thread pool: answers can overlap

    def take(self, ids: list[int]) -> tuple[int, Any]:
        """(how many leading tokens of `ids` the returned cache holds, the cache or None). At least one
        token is always left to prefill: its logits give the first answer token."""
        with self._lock:
            cache, self._cache = self._cache, None
            if cache is None:
                return 0, None
            shared = 0
            for kept, new in zip(self._ids, ids[:-1], strict=False):
                if kept != new:
                    break
                shared += 1
            if shared == 0:
                return 0, None
            if shared < cache.get_seq_length():
                cache.crop(shared - cache.get_seq_length())  # crop() takes how many tokens to remove
            return shared, cache

    def keep(self, ids: list[int], cache: Any) -> None:
        """Remember a prompt's cache right after its prefill (a copy: decoding goes on appending to it)."""
        with self._lock:
            self._ids, self._cache = list(ids), copy.deepcopy(cache)


DRAFT_TOKENS = 16  # per verification pass; 8 → 16 measured in BENCHMARKS.md (ask latency)
DRAFT_NGRAMS = (3, 2, 1)  # match the last 3 generated tokens in the prompt, else 2, else 1


def _lookup_draft(ids: list[int], k: int) -> list[int]:
    """The k tokens that followed the latest earlier occurrence of the sequence's last n tokens."""
    if k <= 0:
        return []
    for n in DRAFT_NGRAMS:
        if len(ids) <= n:
            continue
        tail = ids[-n:]
        for start in range(len(ids) - n - 1, -1, -1):
            if ids[start : start + n] == tail:
                return ids[start + n : start + n + k]
    return []


REPEAT_NGRAM = 12  # shorter spans repeat legitimately ("per month for 1 user" in a price list)


def _repeats(tokens: list[int], n: int = REPEAT_NGRAM) -> bool:
    """Greedy decoding of a small model can loop ("I don't know. I don't know. ..."): stop when the last
    n tokens already occurred earlier in the answer."""
    if len(tokens) < 2 * n:
        return False
    tail = tokens[-n:]
    return any(tokens[i : i + n] == tail for i in range(len(tokens) - 2 * n + 1))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def without_repeated_sentences(text: str) -> str:
    """The answer up to the first sentence it says a second time: a loop of short sentences ("I don't know.
    I don't know. I don't know.") ends before the token n-gram guard can see it, and a model server has no
    guard at all. Both backends' answers pass through this."""
    kept: list[str] = []
    seen: set[str] = set()
    for sentence in _SENTENCE_END.split(text.strip()):
        key = " ".join(sentence.lower().split())
        if key in seen:
            break
        seen.add(key)
        kept.append(sentence)
    return " ".join(kept)


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
