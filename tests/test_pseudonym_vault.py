"""Specifications for connectors.anonymize.vault: the optional reversible mode, off by default."""

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from connectors.anonymize import Anonymizer
from connectors.anonymize.vault import PseudonymVault, VaultKeyError, open_vault

SOURCE = "/exports/support.jsonl"
RECORDS = {
    "row 1": [
        "Hi, Jonas Albrecht here (jonas.albrecht@example.com).",
        "Thanks Jonas Albrecht, we call +49 30 5557 2301.",
    ],
    "row 2": ["Maria Schmidt asked to pay to DE89 3704 0044 0532 0130 00.", "Done, Maria Schmidt."],
    "row 3": ["How many vacation days do I get?", "28 per year."],
}
RAW_VALUES = ["Jonas", "Albrecht", "jonas.albrecht@example.com", "5557 2301", "Maria", "Schmidt", "DE89 3704"]


@pytest.fixture(scope="module")
def anonymized(anonymizer: Anonymizer) -> dict[str, tuple[list[str], dict[str, str]]]:
    done = anonymizer.anonymize_records_with_mapping(list(RECORDS.values()))
    return {external_id: (d.texts, d.originals) for external_id, d in zip(RECORDS, done, strict=True)}


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "vault" / "pseudonyms.db"


def _fill(vault: PseudonymVault, anonymized: dict[str, tuple[list[str], dict[str, str]]]) -> None:
    vault.replace_source(SOURCE, {external_id: originals for external_id, (_, originals) in anonymized.items()})


def test_when_texts_are_revealed_with_the_key_then_the_originals_come_back(
    vault_path: Path, key: str, anonymized: dict[str, tuple[list[str], dict[str, str]]]
) -> None:
    _fill(PseudonymVault(vault_path, key), anonymized)
    reopened = PseudonymVault(vault_path, key)  # as a later, authorized process would
    for external_id, (texts, _) in anonymized.items():
        assert [reopened.reveal(SOURCE, external_id, text) for text in texts] == RECORDS[external_id]


def test_when_vault_is_opened_with_another_key_then_it_fails_with_a_clear_error(
    vault_path: Path, key: str, anonymized: dict[str, tuple[list[str], dict[str, str]]]
) -> None:
    _fill(PseudonymVault(vault_path, key), anonymized)
    other = Fernet.generate_key().decode()
    with pytest.raises(VaultKeyError, match="not the key the pseudonym vault .* was written with") as caught:
        PseudonymVault(vault_path, other)
    assert other not in str(caught.value)


@pytest.mark.parametrize("bad_key", ["", "not-a-key", "a" * 44])
def test_when_key_is_no_fernet_key_then_it_fails_naming_the_fix_and_not_the_key(vault_path: Path, bad_key: str) -> None:
    with pytest.raises(VaultKeyError, match="FTBOT_PSEUDONYM_KEY is not a Fernet key; make one with") as caught:
        PseudonymVault(vault_path, bad_key)
    assert not bad_key or bad_key not in str(caught.value)
    assert not vault_path.exists()


def test_when_records_are_anonymized_then_no_original_is_in_their_texts_or_readable_in_the_vault_file(
    vault_path: Path, key: str, anonymized: dict[str, tuple[list[str], dict[str, str]]]
) -> None:
    _fill(PseudonymVault(vault_path, key), anonymized)
    stored_texts = "\n".join(text for texts, _ in anonymized.values() for text in texts)
    vault_bytes = vault_path.read_bytes()
    for raw in RAW_VALUES:
        assert raw not in stored_texts
        assert raw.encode() not in vault_bytes


def test_when_a_source_is_ingested_again_then_its_entries_are_replaced(
    vault_path: Path, key: str, anonymized: dict[str, tuple[list[str], dict[str, str]]]
) -> None:
    vault = PseudonymVault(vault_path, key)
    _fill(vault, anonymized)
    vault.replace_source(SOURCE, {"row 9": {"<PERSON_1>": "Anna Weber"}})
    assert vault.originals(SOURCE, "row 1") == {}
    assert vault.reveal(SOURCE, "row 9", "Ask <PERSON_1> or <PERSON_2>") == "Ask Anna Weber or <PERSON_2>"
    vault.forget(SOURCE)
    assert vault.originals(SOURCE, "row 9") == {}


def test_when_reversible_mode_is_off_then_no_vault_file_is_created(
    tmp_path: Path, anonymizer: Anonymizer, vault_path: Path, key: str
) -> None:
    assert open_vault(False, vault_path, key) is None
    anonymizer.anonymize_records(list(RECORDS.values()))
    assert not vault_path.exists()
    assert not (tmp_path / "home").exists()


def test_when_reversible_mode_is_on_without_a_key_then_it_fails_naming_the_setting(vault_path: Path) -> None:
    with pytest.raises(VaultKeyError, match="needs FTBOT_PSEUDONYM_KEY"):
        open_vault(True, vault_path, None)
    assert not vault_path.exists()


def test_when_reversible_mode_is_on_then_the_vault_is_a_separate_owner_only_file(vault_path: Path, key: str) -> None:
    vault = open_vault(True, vault_path, key)
    assert vault is not None and vault.path == vault_path
    assert vault_path.stat().st_mode & 0o077 == 0
