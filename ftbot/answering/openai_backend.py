"""Answer generation on an OpenAI-compatible server (vLLM) that serves the base model and LoRA adapters.

Each version's adapter gets a name of its own, `ftbot-<version>-<12 hex of its files' sha256>`, loaded at
runtime through vLLM's /v1/load_lora_adapter (the server needs VLLM_ALLOW_RUNTIME_LORA_UPDATING=True). vLLM
caches an adapter's weights under its name, so a name must never stand for other weights: the hash makes a
re-created "v1" trained on other data a different name. Replaced adapters stay loaded (ServingConfig says why),
except those of versions trained on erased data: the bot unloads them (unload_versions).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import httpx

from ftbot.answering.generator import without_repeated_sentences
from ftbot.config import ServingConfig, Settings

log = logging.getLogger(__name__)

# The files that decide what an adapter computes: its weights and its config (rank, alpha, target modules).
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


class ServingError(OSError):
    """The model server is unreachable or refused a request; the message says which, and what to check.

    An OSError, like a refused connection: the CLI prints it as one line, the Slack bot as its sorry message.
    """


class OpenAIGenerator:
    """A version answered by the server. Ready on construction: the version's adapter is loaded there."""

    def __init__(self, settings: Settings, base_model: str, adapter_path: Path | None, version: str) -> None:
        """`base_model` is the version's (the model the server must serve); `adapter_path` None: the base model."""
        serving = settings.serving
        assert serving.url is not None  # ServingConfig requires it for this backend
        self.version, self.base_model = version, base_model
        self._url = serving.url
        self._max_tokens = settings.generation.max_new_tokens
        self._load_request: dict[str, str] | None = None
        if adapter_path is None:
            self.model = serving.base_model_name or base_model
        else:
            self.model = adapter_name(version, adapter_path)
            self._load_request = {"lora_name": self.model, "lora_path": server_path(serving, adapter_path)}
        headers = {"Authorization": f"Bearer {serving.api_key.get_secret_value()}"} if serving.api_key else {}
        self._client = httpx.Client(base_url=serving.url, headers=headers, timeout=serving.timeout_s)
        try:
            self._ensure_served()
        except ServingError:
            self._client.close()
            raise

    def generate(self, messages: list[dict[str, str]]) -> str:
        body = {"model": self.model, "messages": messages, "temperature": 0, "max_tokens": self._max_tokens}
        response = self._post("chat/completions", body)
        if response.status_code == 404 and self._load_request is not None:
            # The server forgot the adapter (it restarted, or someone unloaded it): load it again, once.
            log.warning("the model server no longer has adapter %s; loading it again", self.model)
            self._load_adapter()
            response = self._post("chat/completions", body)
        payload = self._json(response, f"answering with {self.model}")
        try:
            text = str(payload["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError):
            raise ServingError(f"the model server at {self._url} sent a chat completion without a message") from None
        return without_repeated_sentences(text)

    def _ensure_served(self) -> None:
        served = self._served_models()
        if self.model in served:
            return
        if self._load_request is None:
            raise ServingError(
                f"the model server at {self._url} does not serve the base model {self.model!r} (it serves "
                f"{', '.join(sorted(served)) or 'nothing'}): set FTBOT_SERVING__BASE_MODEL_NAME to the name it "
                "serves it under (vLLM: --served-model-name)"
            )
        self._load_adapter()

    def _served_models(self) -> set[str]:
        payload = self._json(self._request("GET", "models"), "listing its models")
        return {str(card.get("id")) for card in payload.get("data", []) if isinstance(card, dict)}

    def _load_adapter(self) -> None:
        assert self._load_request is not None
        response = self._post("load_lora_adapter", self._load_request)
        # vLLM answers 400 when the name is already loaded: another bot replica may just have loaded it.
        if response.is_success or self.model in self._served_models():
            log.info("the model server has adapter %s (version %s)", self.model, self.version)
            return
        raise ServingError(
            f"the model server at {self._url} refused to load adapter {self.model} of version {self.version} from "
            f"{self._load_request['lora_path']} ({_error_text(response)}). It must serve the base model the "
            f"version was trained on ({self.base_model}) with --enable-lora and --max-lora-rank at least "
            "training.lora_rank, allow runtime loading (VLLM_ALLOW_RUNTIME_LORA_UPDATING=True), and see the "
            "adapters folder there (FTBOT_SERVING__ADAPTER_DIR_ON_SERVER)"
        )

    def unload_versions(self, versions: set[str]) -> None:
        """Take the adapters of these versions (trained on erased data) off the server. Their files may be gone
        already, so they are found by name (`ftbot-<version>-`). Best effort: a failure is logged, and a server
        restart clears them too."""
        if not versions:
            return
        prefixes = tuple(f"ftbot-{version}-" for version in versions)
        for name in sorted(n for n in self._served_models() if n.startswith(prefixes)):
            response = self._post("unload_lora_adapter", {"lora_name": name})
            if response.is_success or response.status_code == 404:
                log.info("the model server no longer has adapter %s", name)
            else:
                log.error("the model server kept adapter %s of an erased version: %s", name, _error_text(response))

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self._request("POST", path, json=body)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise ServingError(
                f"the model server at {self._url} did not answer within {self._client.timeout.read} s "
                "(FTBOT_SERVING__TIMEOUT_S)"
            ) from None
        except httpx.HTTPError as error:
            raise ServingError(
                f"cannot reach the model server at {self._url} ({type(error).__name__}: {error}); is it running, "
                "and is FTBOT_SERVING__URL its OpenAI-compatible base URL?"
            ) from None

    def _json(self, response: httpx.Response, doing: str) -> dict[str, Any]:
        if response.status_code == 401:
            raise ServingError(
                f"the model server at {self._url} refused ftbot's API key (HTTP 401): set FTBOT_SERVING__API_KEY "
                "to the server's --api-key"
            )
        if not response.is_success:
            raise ServingError(
                f"the model server at {self._url} failed {doing} (HTTP {response.status_code}: {_error_text(response)})"
            )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise ServingError(f"the model server at {self._url} sent no JSON object {doing}")
        return payload


def adapter_name(version: str, adapter_path: Path) -> str:
    """The name the server knows a version's adapter by: the version, and a hash of what the adapter computes."""
    digest = hashlib.sha256()
    found = [adapter_path / name for name in ADAPTER_FILES if (adapter_path / name).is_file()]
    if not any(path.name != "adapter_config.json" for path in found):
        raise ServingError(
            f"version {version}'s adapter has no weights in {adapter_path}: the bot must see FTBOT_HOME/adapters, "
            "the folder it shares with the trainer and the model server"
        )
    for path in found:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    return f"ftbot-{version}-{digest.hexdigest()[:12]}"


def server_path(serving: ServingConfig, adapter_path: Path) -> str:
    """Where the server finds the adapter: the same path, or its folder under adapter_dir_on_server (the trainer
    writes every adapter to a folder directly in FTBOT_HOME/adapters)."""
    if serving.adapter_dir_on_server is None:
        return str(adapter_path)
    return f"{serving.adapter_dir_on_server.rstrip('/')}/{adapter_path.name}"


def _error_text(response: httpx.Response) -> str:
    """The server's reason: OpenAI's {"error": {"message"}}, vLLM's older {"message"}, else the body's start."""
    try:
        payload = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if payload.get("message"):
            return str(payload["message"])
    return str(payload)[:200]
