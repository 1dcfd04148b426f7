"""Settings sources and validation; the schema migrations; the version registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from ftbot.config import ConfigError, load_settings
from ftbot.storage.db import Database, with_driver
from ftbot.storage.models import ModelVersion
from ftbot.storage.versions import RegistryError, active_version, promote, rollback

pytestmark = pytest.mark.both_backends  # the database tests here run on SQLite and on PostgreSQL


def test_when_ftbot_toml_sets_values_then_the_environment_still_wins(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("ftbot.toml").write_text('allow_list = ["Lumora"]\n[training]\nepochs = 2.5\nlora_rank = 4\n')
    monkeypatch.setenv("FTBOT_TRAINING__LORA_RANK", "8")
    settings = load_settings()
    assert settings.allow_list == ("Lumora",)
    assert (settings.training.epochs, settings.training.lora_rank) == (2.5, 8)


def test_when_ftbot_toml_has_an_unknown_key_then_it_is_rejected_by_name(home: Path) -> None:
    Path("ftbot.toml").write_text("[training]\nepochz = 2\n")
    with pytest.raises(ConfigError, match="epochz"):
        load_settings()


def test_when_the_shipped_ftbot_toml_is_loaded_then_it_is_valid(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTBOT_CONFIG", str(Path(__file__).resolve().parent.parent / "ftbot.toml"))
    assert "Lumora Ledger" in load_settings().allow_list


def test_when_database_is_created_then_migrations_bring_every_table(db_url: str) -> None:
    db = Database(db_url)
    tables = set(inspect(db.engine).get_table_names())
    assert {
        "sources",
        "records",
        "training_runs",
        "training_examples",
        "model_versions",
        "answers",
        "feedback",
        "alembic_version",
    } <= tables
    Database(db.url).engine.dispose()  # migrating an up-to-date database again is a no-op
    db.engine.dispose()


@pytest.mark.parametrize(
    ("url", "used"),
    [
        ("postgresql://u:p%40ss@db:5432/ftbot", "postgresql+psycopg://u:p%40ss@db:5432/ftbot"),
        ("postgres://u@db/ftbot", "postgresql+psycopg://u@db/ftbot"),  # as some hosting providers write it
        ("postgresql+psycopg://u@db/ftbot", "postgresql+psycopg://u@db/ftbot"),
        ("sqlite:///var/ftbot.db", "sqlite:///var/ftbot.db"),
    ],
)
def test_when_a_postgresql_url_names_no_driver_then_the_bundled_psycopg_is_used(url: str, used: str) -> None:
    assert with_driver(url) == used


def _version(name: str) -> ModelVersion:
    return ModelVersion(name=name, base_model="b", adapter_path=f"/a/{name}", dataset_hash="h")


def test_when_versions_are_promoted_then_exactly_one_is_active_and_rollback_restores_the_previous(db) -> None:
    with db.session() as s:
        v1, v2 = _version("v1"), _version("v2")
        s.add_all([v1, v2])
        s.flush()
        promote(s, v1)
        s.flush()
        promote(s, v2)
    with db.session() as s:
        assert active_version(s).name == "v2"  # type: ignore[union-attr]
        assert rollback(s).name == "v1"
    with db.session() as s:
        assert active_version(s).name == "v1"  # type: ignore[union-attr]
        assert [v.name for v in s.query(ModelVersion).filter_by(is_active=True)] == ["v1"]
        with pytest.raises(RegistryError, match="v9"):
            rollback(s, "v9")
