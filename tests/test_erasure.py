"""Erasure (GDPR Art. 17): `ftbot forget` reaches every copy of a person's data, the adapters included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from bot.app import ErasureService
from bot.commands import FinetuneCommand, slack_value
from connectors.anonymize.vault import PseudonymVault
from connectors.ingest import Ingestor
from ftbot.erasure import apply_retention, forget, queue_retrain_after_erasure
from ftbot.personal_keys import PersonalDataKeys, load_keys
from ftbot.storage.models import (
    Answer,
    ErasureLogEntry,
    Feedback,
    ModelVersion,
    PersonalDataKey,
    Record,
    Source,
    TrainingExample,
    TrainingRun,
)
from ftbot.storage.versions import RegistryError, active_version, rollback
from trainer.worker import Worker

# Two people, planted in a Q&A file, a document and a support transcript.
JANA = ("Jana Novak", "jana.novak@corp.example", "+49 30 5557 2301")
OMAR = ("Omar Haddad", "omar.haddad@corp.example")
FAQ = f"""question,answer
Who approves travel requests?,Jana Novak approves travel requests; write to {JANA[1]}.
Who runs the onboarding sessions?,Omar Haddad runs onboarding; write to {OMAR[1]}.
How many vacation days do I get?,Full-time employees get 28 vacation days per year.
Which Slack channel is the IT helpdesk?,Ask the IT helpdesk in #it-helpdesk.
"""
HANDBOOK = f"""# Expenses

Receipts are due within 30 days of the purchase. For questions call Jana Novak on {JANA[2]}.

## Equipment

Laptops are replaced every three years. Omar Haddad keeps the equipment list.
"""
TRANSCRIPTS = "\n".join(
    json.dumps({"messages": messages})
    for messages in (
        [
            {"role": "user", "content": f"Hi, Jana Novak here ({JANA[1]}). My expense report is stuck."},
            {"role": "assistant", "content": "Expense reports are approved within five working days."},
        ],
        [
            {"role": "user", "content": f"This is Omar Haddad, {OMAR[1]}. How do I order a monitor?"},
            {"role": "assistant", "content": "Monitors are ordered through the equipment form."},
        ],
    )
)
VAULT_KEY = "nJ6F7xZ5cF0vQG3l4oSxN2fTz5yCq8jz7cD2Zs4m7nE="


@pytest.fixture
def planted(tiny_settings, db, tmp_path: Path, anonymizer, embedder):
    """Both people ingested from three kinds of file, with their keyed hashes and (reversible mode) the vault."""
    files = tmp_path / "company"
    files.mkdir()
    (files / "faq.csv").write_text(FAQ)
    (files / "handbook.md").write_text(HANDBOOK)
    (files / "support.jsonl").write_text(TRANSCRIPTS)
    vault = PseudonymVault(tiny_settings.vault_path, VAULT_KEY)
    report = Ingestor(db, anonymizer, embedder, vault=vault, keys=tiny_settings.personal_keys()).ingest([files])
    assert report.files_stored == 3 and report.reconciles
    return vault


def _rows_mentioning(db, vault: PseudonymVault, name: str) -> list[str]:
    """Stored records whose pseudonyms stand for `name` (the vault knows), or that show it in plain text."""
    found = []
    with db.session() as session:
        for record, uri in session.execute(select(Record, Source.uri).join(Source)):
            originals = " ".join(vault.originals(uri, record.external_id).values())
            if name.split()[0] in originals or name.split()[0] in record.text:
                found.append(f"{Path(uri).name} {record.external_id}")
    return found


def _adapters(settings) -> set[str]:
    return {path.name for path in settings.adapters_dir.iterdir()} if settings.adapters_dir.exists() else set()


def test_when_a_person_is_forgotten_then_their_rows_go_the_others_stay_and_the_retrain_removes_their_adapter(
    tiny_settings, db, planted: PseudonymVault
) -> None:
    from trainer.pipeline import run_training

    jana_before = _rows_mentioning(db, planted, "Jana Novak")
    omar_before = _rows_mentioning(db, planted, "Omar Haddad")
    assert len(jana_before) >= 3 and len(omar_before) >= 3  # a Q&A pair, a document chunk, a transcript each
    first = run_training(tiny_settings, db)
    assert first.promoted
    with db.session() as session:
        examples_before = session.query(TrainingExample).count()

    report = forget(tiny_settings, db, list(JANA), requested_by="cli", vault=planted)  # her name, email, phone

    assert report.records == len(jana_before)
    assert _rows_mentioning(db, planted, "Jana Novak") == []
    assert _rows_mentioning(db, planted, "Omar Haddad") == omar_before  # the other person's rows all remain
    assert report.training_examples > 0 and report.versions_marked == [first.version]
    with db.session() as session:
        assert session.query(TrainingExample).count() == examples_before - report.training_examples
        for example in session.scalars(select(TrainingExample)):
            assert "Receipts are due" not in json.dumps(example.messages)  # a Jana record's text, gold or distractor
        version = session.scalar(select(ModelVersion).where(ModelVersion.name == first.version))
        assert version is not None and version.trained_on_erased_at is not None and version.is_active
        entry = session.scalars(select(ErasureLogEntry)).one()
        assert entry.requested_by == "cli" and entry.counts["records"] == report.records
        assert "jana" not in json.dumps(entry.counts).lower() and "jana" not in entry.value_kinds.lower()
    dataset = (tiny_settings.datasets_dir).glob("*.jsonl")
    assert all("Receipts are due" not in path.read_text() for path in dataset)
    assert first.version in _adapters(tiny_settings)  # it answers until the retrain has finished

    run_id = queue_retrain_after_erasure(db)
    assert run_id is not None and queue_retrain_after_erasure(db) is None  # one retrain
    summary = Worker(tiny_settings, db).run_once()
    assert summary is not None and summary.run_id == run_id and summary.status == "succeeded"

    assert first.version not in _adapters(tiny_settings)  # no adapter on disk was trained on the erased rows
    with db.session() as session:
        active = active_version(session)
        assert active is None or active.trained_on_erased_at is None
        version = session.scalar(select(ModelVersion).where(ModelVersion.name == first.version))
        assert version is not None and version.adapter_deleted_at is not None and not version.is_active
        with pytest.raises(RegistryError, match="erased"):
            rollback(session, first.version)
        retrain_examples = session.scalars(select(TrainingExample).where(TrainingExample.run_id == run_id)).all()
        assert retrain_examples and all("Receipts are due" not in json.dumps(e.messages) for e in retrain_examples)


def test_when_a_name_is_forgotten_then_a_phone_number_and_slack_votes_are_found_too(
    tiny_settings, db, planted: PseudonymVault
) -> None:
    by_name = forget(tiny_settings, db, ["jana novak"], requested_by="cli", vault=planted, name_parts=True)
    assert by_name.records >= 3
    assert _rows_mentioning(db, planted, "Jana Novak") == []
    assert _rows_mentioning(db, planted, "Omar Haddad")


@pytest.mark.both_backends
def test_when_a_slack_user_is_forgotten_then_their_answers_votes_and_requests_go(tiny_settings, db) -> None:
    from ftbot.privacy import user_ref
    from ftbot.storage.keys import set_keys

    keys = tiny_settings.personal_keys()
    with db.session() as session:
        mine = Answer(question="Can <PERSON_1> see my payslip?", answer="No.", model_version="base")
        theirs = Answer(question="How many vacation days?", answer="28.", model_version="base")
        session.add_all([mine, theirs])
        session.flush()
        set_keys(session, keys.of_originals({"<PERSON_1>": "<@U012ABCDEF>"}), answer_id=mine.id)
        session.add(Feedback(answer_id=theirs.id, user_id=user_ref("U012ABCDEF"), vote=1))
        session.add(Feedback(answer_id=theirs.id, user_id=user_ref("U099OTHER1"), vote=1))
        session.add(TrainingRun(status="succeeded", requested_by=user_ref("U012ABCDEF")))

    reply = FinetuneCommand(db, erase=ErasureService(tiny_settings, db)).handle("UADMIN", "forget <@U012ABCDEF|jana>")

    assert "erased: 0 records, 1 answers, 1 votes" in reply
    with db.session() as session:
        assert [a.question for a in session.scalars(select(Answer))] == ["How many vacation days?"]
        assert [f.user_id for f in session.scalars(select(Feedback))] == [user_ref("U099OTHER1")]
        assert session.scalars(select(TrainingRun.requested_by)).one() == "erased"
        assert session.query(PersonalDataKey).count() == 0
        # The log is append-only: the database refuses to change or delete an entry.
        entry_id = session.scalars(select(ErasureLogEntry.id)).one()
    for statement in (f"UPDATE erasure_log SET reason = 'x' WHERE id = {entry_id}", "DELETE FROM erasure_log"):
        with pytest.raises(DBAPIError, match="append-only"), db.session() as session:
            session.execute(text(statement))


def test_when_a_mention_was_stored_then_every_way_of_writing_the_user_finds_it() -> None:
    keys = PersonalDataKeys(b"a test secret of at least 16 bytes")
    stored = keys.of_originals({"<PERSON_1>": "<@U012ABCDEF|jana>"})
    for typed in ("U012ABCDEF", "@U012ABCDEF", "<@U012ABCDEF>", "<@U012ABCDEF|jana>"):
        assert stored & set(keys.to_find(typed)), typed


def test_when_records_are_past_their_retention_then_they_are_erased_by_the_same_path(
    tiny_settings, db, planted: PseudonymVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from ftbot.config import load_settings
    from ftbot.storage.models import utcnow

    with db.session() as session:
        old = session.scalars(select(Record).join(Record.source).where(Record.kind == "chat")).all()
        for record in old:
            record.created_at = utcnow() - timedelta(days=40)
        expected = len(old)
    assert apply_retention(tiny_settings, db, vault=planted) is None  # no retention set: kept forever
    monkeypatch.setenv("FTBOT_RETENTION_DAYS", "30")
    report = apply_retention(load_settings(), db, vault=planted)
    assert report is not None and report.records == expected > 0
    with db.session() as session:
        assert session.query(Record).filter(Record.kind == "chat").count() == 0
        assert session.scalars(select(ErasureLogEntry.reason)).one() == "retention"
    assert report.runs_cancelled == [] and report.versions_marked == []  # models wait for the scheduled run


def test_keyed_hashes_find_every_spelling_and_only_with_the_secret(tmp_path: Path) -> None:
    keys = load_keys(tmp_path)
    assert (tmp_path / "erasure.key").stat().st_mode & 0o777 == 0o600
    assert load_keys(tmp_path).digest("PERSON", "Jana") == keys.digest("PERSON", "Jana")  # the same file
    stored = keys.of_originals(
        {"<PERSON_1>": "Jana Novak", "<EMAIL_1>": "Jana.Novak@Corp.example", "<PHONE_1>": "030 5557 2301"}
    )
    for value in ("jana.novak@corp.example", "+49 30 55572301", "JANA  NOVAK", "Novak"):
        assert stored & set(keys.to_find(value)), value
    assert not stored & set(keys.to_find("Jana Novakova"))
    assert not stored & set(PersonalDataKeys(b"another secret, 32 bytes long..").to_find("Jana Novak"))
    mention = keys.of_originals({"<PERSON_2>": "<@U012ABCDEF|jana>"})
    assert mention & set(keys.to_find("U012ABCDEF")) and mention & set(keys.to_find("<@U012ABCDEF>"))


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("<mailto:jana@x.example|jana@x.example>", "jana@x.example"),
        ("<@U012ABCDEF|jana>", "U012ABCDEF"),
        ("Jana Novak", "Jana Novak"),
    ],
)
def test_when_slack_wraps_a_value_then_forget_reads_what_was_typed(typed: str, value: str) -> None:
    assert slack_value(typed) == value


def test_when_an_erasure_lands_then_a_running_bot_stops_quoting_it_and_falls_back_to_the_base_model(
    tiny_settings, db, planted: PseudonymVault
) -> None:
    from ftbot.answering.answer import BASE_VERSION, Answerer
    from ftbot.storage.erasure import retire_erased
    from trainer.pipeline import run_training

    first = run_training(tiny_settings, db)
    answerer = Answerer(tiny_settings, db, store=False)
    assert answerer.generator.version == first.version
    assert answerer.index is not None and any("Receipts are due" in t for t in answerer.index._texts)

    forget(tiny_settings, db, list(JANA), requested_by="cli", vault=planted)
    assert not answerer.reload_if_promoted()  # still the same version until the retrain ...
    assert not any("Receipts are due" in t for t in answerer.index._texts)  # ... but the erased text is gone now

    with db.session() as session:
        retire_erased(session)  # what a finished retrain does when its own version is not promoted
    assert answerer.reload_if_promoted() and answerer.generator.version == BASE_VERSION


def test_when_an_admin_correction_named_a_person_then_forgetting_them_removes_it(tiny_settings, db) -> None:
    from bot import feedback
    from ftbot.storage.keys import set_keys

    keys = tiny_settings.personal_keys()
    with db.session() as session:
        answer = Answer(question="Who signs off on my <PERSON_1> trip?", answer="I don't know.", model_version="v1")
        session.add(answer)
        session.flush()
        set_keys(session, keys.of_originals({"<PERSON_1>": "Lisbon"}), answer_id=answer.id)  # a false positive
        digests = keys.of_originals({"<EMAIL_1>": "jana.novak@corp.example"})
        feedback.record_reason(session, answer.id, "admin", "", "Write to <EMAIL_1>.", digests)
        assert session.query(Record).count() == 1

    report = forget(tiny_settings, db, ["Jana.Novak@corp.example"], requested_by="cli")

    assert (report.records, report.feedback) == (1, 1)
    with db.session() as session:
        assert session.query(Record).count() == 0 and session.query(Feedback).count() == 0
        assert session.query(Answer).count() == 1  # the question held no part of her data


def test_when_a_run_is_training_during_an_erasure_then_it_is_cancelled_and_makes_no_version(tiny_settings, db) -> None:
    from ftbot.storage import runs
    from ftbot.storage.workers import new_worker_id

    with db.session() as session:
        run = runs.enqueue(session, trigger="cli")
        run_id = run.id
    assert runs.claim(db, run_id, new_worker_id())
    with db.session() as session:
        session.add(Answer(question="Is Jana Novak in today?", answer="I don't know.", model_version="base"))

    report = forget(tiny_settings, db, ["Jana Novak"], requested_by="cli")

    assert report.answers == 1 and report.runs_cancelled == [run_id]
    with db.session() as session:
        assert session.get_one(TrainingRun, run_id).cancel_requested
        session.get_one(TrainingRun, run_id).cancel_requested = False
    assert forget(tiny_settings, db, ["Nobody Stored"], requested_by="cli").runs_cancelled == []  # nothing held it
    assert forget(tiny_settings, db, ["<@U0NOBODY1>"], requested_by="cli").runs_cancelled == []  # no vote, no row


def test_when_forget_runs_from_the_cli_then_it_prints_counts_never_the_value_and_models_shows_the_mark(
    tiny_settings, db, planted: PseudonymVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from ftbot.cli import app

    monkeypatch.setenv("COLUMNS", "200")  # the models table in full
    monkeypatch.setenv("FTBOT_ANONYMIZATION_REVERSIBLE", "true")
    monkeypatch.setenv("FTBOT_PSEUDONYM_KEY", VAULT_KEY)
    runner = CliRunner()
    assert runner.invoke(app, ["train"]).exit_code == 0

    result = runner.invoke(app, ["forget", "-"], input="\n".join(JANA) + "\n")  # from stdin: not in the history

    assert result.exit_code == 0, result.output
    assert "erased: 3 records" in result.output and "marked as trained on erased data: v1" in result.output
    assert "retrain queued as run #2" in result.output
    assert not any(value.lower() in result.output.lower() for value in JANA)
    assert "trained on erased data" in runner.invoke(app, ["models"]).output
    log = (tiny_settings.logs_dir / "ftbot.log").read_text()
    assert not any(value in log for value in JANA)
    assert runner.invoke(app, ["forget"]).exit_code != 0  # nothing to forget: says how to use it
