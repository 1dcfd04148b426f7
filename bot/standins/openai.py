"""A local stand-in for an OpenAI-compatible LoRA server, for tests and trials: vLLM's routes and shapes, a real
model (transformers) and real adapters (peft, several loaded at once), greedy decoding.

    python -m bot.standins.openai --port 8000    # then FTBOT_SERVING__BACKEND=openai
                                                 #      FTBOT_SERVING__URL=http://127.0.0.1:8000/v1

Routes, as vLLM answers them: GET /v1/models; POST /v1/chat/completions (unknown model: 404); with runtime LoRA
updating, POST /v1/load_lora_adapter (a name already loaded: 400; no adapter at the path: 404; rank above
max_lora_rank: 400) and POST /v1/unload_lora_adapter (unknown name: 404). With an api_key every /v1 route needs
`Authorization: Bearer <key>` (else 401). Sampling parameters are ignored: decoding is always greedy.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import torch

from bot.standins.http import BackgroundServer, RoutingHandler, serve_until_interrupted
from ftbot.llm import load_model_and_tokenizer, pick_device

log = logging.getLogger(__name__)

JSON = dict[str, Any]
DEFAULT_MAX_TOKENS = 256  # when a request names none (vLLM: the rest of the context)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in received it, for tests to assert on."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the parsed JSON, or None


class RequestError(Exception):
    """A request the server refuses: its HTTP status and OpenAI-style error type."""

    def __init__(self, status: HTTPStatus, message: str, error_type: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error_type, self.param = status, error_type, param

    def body(self) -> JSON:
        error = {"message": str(self), "type": self.error_type, "param": self.param, "code": self.status.value}
        return {"error": error}


class LoraEngine:
    """The base model and the adapters loaded into it by name; one generation at a time."""

    def __init__(self, base_model: str, cache_dir: Path, device: str = "cpu", max_lora_rank: int = 16) -> None:
        self.base_model, self.max_lora_rank = base_model, max_lora_rank
        self._device = pick_device(device)
        self._base: Any
        self._tokenizer, self._base = load_model_and_tokenizer(
            base_model, cache_dir, self._device, setting="the stand-in's --base-model"
        )
        self._base.eval()
        self._peft: Any = None  # the PeftModel wrapping the base, from the first adapter on
        self.adapters: dict[str, str] = {}  # name -> path
        self._lock = threading.Lock()
        self._stop_ids = [
            i
            for i in (self._tokenizer.eos_token_id, self._tokenizer.convert_tokens_to_ids("<|im_end|>"))
            if isinstance(i, int) and i >= 0
        ]
        self.max_model_len = int(getattr(self._base.config, "max_position_embeddings", 2048))

    def load(self, name: str, path: str) -> None:
        with self._lock:
            if name in self.adapters:
                raise RequestError(
                    HTTPStatus.BAD_REQUEST, f"The lora adapter '{name}' has already been loaded.", "InvalidUserInput"
                )
            self._check_adapter(name, Path(path))
            try:
                self._load_weights(name, path)
            except Exception as error:  # a broken or mismatched adapter: vLLM answers 400 with the reason
                raise RequestError(HTTPStatus.BAD_REQUEST, str(error), "BadRequestError") from None
            self.adapters[name] = path

    def _check_adapter(self, name: str, path: Path) -> None:
        config_file = path / "adapter_config.json"
        if not config_file.is_file():
            raise RequestError(
                HTTPStatus.NOT_FOUND, f"Loading lora {name} failed: No adapter found for {path}", "NotFoundError"
            )
        rank = int(json.loads(config_file.read_text()).get("r", 0))
        if rank > self.max_lora_rank:
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                f"LoRA rank {rank} is greater than max_lora_rank {self.max_lora_rank}.",
                "BadRequestError",
            )

    def _load_weights(self, name: str, path: str) -> None:
        from peft import PeftModel

        if self._peft is None:
            self._peft = PeftModel.from_pretrained(self._base, path, adapter_name=name)
        else:
            self._peft.load_adapter(path, adapter_name=name)
        self._peft.eval()

    def unload(self, name: str) -> None:
        with self._lock:
            if name not in self.adapters:
                raise RequestError(HTTPStatus.NOT_FOUND, f"The lora adapter '{name}' cannot be found.", "NotFoundError")
            self._peft.delete_adapter(name)
            del self.adapters[name]

    @torch.inference_mode()
    def chat(self, adapter: str | None, messages: list[JSON], max_tokens: int) -> tuple[str, int, int, bool]:
        """Greedy reply with `adapter` (None: the base model): (text, prompt tokens, reply tokens, hit max_tokens)."""
        prompt = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = self._tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"].to(self._device)
        with self._lock:
            output = self._generate(adapter, ids, max_tokens)
        produced = output[0, ids.shape[1] :].tolist()
        stopped = bool(produced) and produced[-1] in self._stop_ids
        text = str(self._tokenizer.decode(produced, skip_special_tokens=True))
        return text, ids.shape[1], len(produced), not stopped and len(produced) >= max_tokens

    def _generate(self, adapter: str | None, ids: torch.Tensor, max_tokens: int) -> torch.Tensor:
        options: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "do_sample": False,
            "eos_token_id": self._stop_ids,
            "pad_token_id": self._tokenizer.pad_token_id,
            "attention_mask": torch.ones_like(ids),
        }
        if self._peft is None:
            return self._base.generate(ids, **options)
        if adapter is None:
            with self._peft.disable_adapter():  # the LoRA layers sit inside the base model's modules now
                return self._peft.generate(input_ids=ids, **options)
        self._peft.set_adapter(adapter)
        return self._peft.generate(input_ids=ids, **options)


class OpenAIStandIn(BackgroundServer):
    """A running stand-in: construct it and it serves on `host` (port 0 picks a free port) until `close()`."""

    def __init__(
        self,
        engine: LoraEngine,
        *,
        served_model_name: str,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.engine, self.served_model_name, self.api_key = engine, served_model_name, api_key
        self.requests: list[RecordedRequest] = []
        http = _StandInHTTPServer((host, port), self)
        self.url = f"http://{host}:{http.server_address[1]}/v1"
        self._serve_in_background(http, "openai-standin")

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The requests to one route, e.g. "/v1/chat/completions", oldest first."""
        return [r for r in self.requests if r.path == path]

    # --- the routes ---------------------------------------------------------------------------------------

    def models(self) -> JSON:
        created = int(time.time())
        cards = [_card(self.served_model_name, created, root=self.engine.base_model, parent=None)]
        cards[0]["max_model_len"] = self.engine.max_model_len
        cards += [
            _card(name, created, root=path, parent=self.served_model_name)
            for name, path in self.engine.adapters.items()
        ]
        return {"object": "list", "data": cards}

    def chat_completions(self, body: JSON) -> JSON:
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError(HTTPStatus.BAD_REQUEST, "'messages' must be a non-empty list", "BadRequestError")
        if body.get("stream"):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the stand-in does not stream", "BadRequestError", "stream")
        if model != self.served_model_name and model not in self.engine.adapters:
            raise RequestError(HTTPStatus.NOT_FOUND, f"The model `{model}` does not exist.", "NotFoundError", "model")
        adapter = None if model == self.served_model_name else str(model)
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or DEFAULT_MAX_TOKENS)
        text, prompt_tokens, reply_tokens, cut = self.engine.chat(adapter, messages, max_tokens)
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "length" if cut else "stop",
        }
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": reply_tokens,
                "total_tokens": prompt_tokens + reply_tokens,
            },
        }

    def load_lora_adapter(self, body: JSON) -> str:
        name, path = body.get("lora_name"), body.get("lora_path")
        if not name or not path:
            raise RequestError(
                HTTPStatus.BAD_REQUEST, "Both 'lora_name' and 'lora_path' must be provided.", "InvalidUserInput"
            )
        self.engine.load(str(name), str(path))
        return f"Success: LoRA adapter '{name}' added successfully."

    def unload_lora_adapter(self, body: JSON) -> str:
        name = body.get("lora_name")
        if not name:
            raise RequestError(
                HTTPStatus.BAD_REQUEST, "'lora_name' needs to be provided to unload a LoRA adapter.", "InvalidUserInput"
            )
        self.engine.unload(str(name))
        return f"Success: LoRA adapter '{name}' removed successfully."


def _card(model_id: str, created: int, *, root: str, parent: str | None) -> JSON:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "vllm", "root": root, "parent": parent}


class _StandInHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], standin: OpenAIStandIn) -> None:
        super().__init__(address, _Handler)
        self.standin = standin


class _Handler(RoutingHandler):
    server: _StandInHTTPServer

    def _route(self, verb: str) -> None:
        standin, path = self.server.standin, self.path.split("?", 1)[0]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {name.lower(): value for name, value in self.headers.items()}
        standin.requests.append(RecordedRequest(verb, path, headers, body))
        if (
            standin.api_key
            and path.startswith("/v1")
            and self.headers.get("Authorization") != f"Bearer {standin.api_key}"
        ):
            self._send_json(HTTPStatus.UNAUTHORIZED, {"error": "Unauthorized"})  # vLLM's answer, word for word
            return
        try:
            self._dispatch(standin, verb, path, body if raw else {})
        except RequestError as error:
            self._send_json(error.status, error.body())
        except Exception:
            log.exception("the stand-in failed on %s %s", verb, path)
            failure = RequestError(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error", "InternalServerError")
            self._send_json(failure.status, failure.body())

    def _dispatch(self, standin: OpenAIStandIn, verb: str, path: str, body: Any) -> None:
        routes: dict[tuple[str, str], Callable[[], JSON | str]] = {
            ("GET", "/v1/models"): lambda: standin.models(),
            ("POST", "/v1/chat/completions"): lambda: standin.chat_completions(body),
            ("POST", "/v1/load_lora_adapter"): lambda: standin.load_lora_adapter(body),
            ("POST", "/v1/unload_lora_adapter"): lambda: standin.unload_lora_adapter(body),
        }
        if (verb, path) not in routes:
            known = any(route_path == path for _, route_path in routes)
            status = HTTPStatus.METHOD_NOT_ALLOWED if known else HTTPStatus.NOT_FOUND
            self._send_json(status, {"detail": status.phrase})  # FastAPI's answer
            return
        if verb == "POST" and not isinstance(body, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object", "BadRequestError")
        result = routes[(verb, path)]()
        if isinstance(result, str):
            self._send(HTTPStatus.OK, result.encode(), "text/plain; charset=utf-8")
        else:
            self._send_json(HTTPStatus.OK, result)

    def _send_json(self, status: HTTPStatus, body: JSON) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main(argv: list[str] | None = None) -> None:
    """`python -m bot.standins.openai`: serve ftbot's base model (or --base-model) until Ctrl-C."""
    from ftbot.config import load_settings

    settings = load_settings()
    parser = argparse.ArgumentParser(
        prog="python -m bot.standins.openai", description="A local OpenAI-compatible LoRA server (vLLM's API)."
    )
    parser.add_argument("--base-model", default=settings.base_model, help="default: FTBOT_BASE_MODEL")
    parser.add_argument("--served-model-name", help="default: the --base-model value, as vLLM does")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free one")
    parser.add_argument("--api-key", help="require Authorization: Bearer <key>")
    parser.add_argument("--max-lora-rank", type=int, default=16)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    engine = LoraEngine(args.base_model, settings.cache_dir, args.device, args.max_lora_rank)
    name = args.served_model_name or args.base_model
    standin = OpenAIStandIn(engine, served_model_name=name, api_key=args.api_key, host=args.host, port=args.port)
    print(f"OpenAI-compatible API: {standin.url}  (FTBOT_SERVING__URL)")
    print(f"Base model served as:  {name}")
    serve_until_interrupted(standin)


if __name__ == "__main__":
    main()
