"""Keyed hashes of personal data: how an erasure finds every row that held a value without storing the value.

When a record, answer or feedback row is stored, each value the anonymizer replaced (a name, an email address,
a phone number, a Slack mention) is kept beside the row only as HMAC-SHA256(secret, type + canonical form).
`ftbot forget VALUE` hashes the value the same ways and deletes the rows whose keys match. Without the secret
the keys say nothing; the secret lives outside the database: FTBOT_ERASURE_KEY, or else a file
FTBOT_HOME/erasure.key made on first use (several replicas sharing one database must share FTBOT_ERASURE_KEY).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

import phonenumbers

# Regions whose national phone formats ("030 5557 2301", "(415) 555-0132") are recognized; numbers written
# with "+" or "00" are found whatever the region.
PHONE_REGIONS = ("DE", "US", "GB")

# Presidio's entity type -> the label inside our pseudonyms (connectors/anonymize looks for exactly these).
LABELS = {
    "PERSON": "PERSON",
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "IBAN_CODE": "IBAN",
    "CREDIT_CARD": "CARD",
    "IP_ADDRESS": "IP",
    "DE_TAX_ID": "TAX_ID",
    "DE_SOCIAL_SECURITY": "SOCIAL_SECURITY",
    "STREET_ADDRESS": "ADDRESS",
    # A mention is a person: "<@U012ABCDEF> asked" becomes "<PERSON_1> asked".
    "SLACK_MENTION": "PERSON",
}
# A label -> the entity type whose canonical form its value takes (a mention is told apart by its value).
LABEL_TYPES = {label: entity_type for entity_type, label in LABELS.items() if entity_type != "SLACK_MENTION"}
# What Anonymizer writes: <PERSON_1>, <EMAIL_2>, <SOCIAL_SECURITY_1>; group 1 is the label.
PSEUDONYM = re.compile(r"<([A-Z]+(?:_[A-Z]+)*)_\d+>")
# What an erasure log entry calls each type (never the value itself).
TYPE_NAMES = {
    "PERSON": "person name",
    "PERSON_PART": "person name",
    "SLACK_MENTION": "Slack user",
    "EMAIL_ADDRESS": "email address",
    "PHONE_NUMBER": "phone number",
    "IBAN_CODE": "bank account",
    "CREDIT_CARD": "card number",
    "IP_ADDRESS": "IP address",
    "DE_TAX_ID": "tax id",
    "DE_SOCIAL_SECURITY": "social security number",
    "STREET_ADDRESS": "street address",
}
# A Slack user id as a value to erase: "U012ABCDEF", "@U012ABCDEF", or as Slack writes it, "<@U012ABCDEF|jana>".
SLACK_USER_ID = re.compile(r"^<?@?([UW][A-Z0-9]{6,})(?:\|[^>]*)?>?$")


def canonical(entity_type: str, value: str) -> str:
    """The form two spellings of one value share ("DE89 3704 ..." and "DE893704...")."""
    if entity_type in ("PERSON", "PERSON_PART"):
        # Case-insensitive: chat writes "anna" for "Anna".
        return " ".join(value.split()).lower()
    if entity_type == "SLACK_MENTION":
        return value.strip("<@>").split("|")[0]
    if entity_type == "EMAIL_ADDRESS":
        return value.strip().lower()
    if entity_type == "PHONE_NUMBER":
        return phone_e164(value)
    return re.sub(r"[\s-]", "", value).upper()


def phone_e164(value: str) -> str:
    # National numbers are read as German: "(415) 555-0132" is a valid German number too, so without the
    # "+1" it cannot be told apart from one and gets its own pseudonym.
    try:
        number = phonenumbers.parse(value, PHONE_REGIONS[0])
    except phonenumbers.NumberParseException:
        return re.sub(r"\D", "", value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class PersonalDataKeys:
    """Turns values into the keyed hashes stored beside rows, and a value to erase into the hashes to look for."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the erasure key must be at least 16 bytes")
        self._secret = secret

    def digest(self, entity_type: str, value: str) -> str:
        message = f"{entity_type}:{canonical(entity_type, value)}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def of_originals(self, originals: Mapping[str, str]) -> set[str]:
        """The keys of a row whose pseudonyms stand for `originals` (pseudonym -> value, as the anonymizer made)."""
        digests: set[str] = set()
        for pseudonym, value in originals.items():
            label = PSEUDONYM.fullmatch(pseudonym)
            entity_type = LABEL_TYPES.get(label.group(1), label.group(1)) if label else "PERSON"
            for kind, form in _stored_forms(entity_type, value):
                if canonical(kind, form):
                    digests.add(self.digest(kind, form))
        return digests

    def to_find(self, value: str, *, name_parts: bool = True) -> dict[str, str]:
        """digest -> entity type, for every way `value` may have been stored.

        A value's type is not known (is "Jana Novak" a name? "+49 30 1234567" a phone number?), so it is hashed
        as each type; the type is part of what is hashed, so one type never matches another's keys. A full name
        also finds rows that name the person by first or last name alone, unless `name_parts` is off.
        """
        value = value.strip()
        forms: dict[str, str] = {}
        for entity_type in (*LABEL_TYPES.values(), "PERSON_PART"):
            if canonical(entity_type, value):  # a name has no phone-number form, say
                forms[self.digest(entity_type, value)] = entity_type
        if (user := SLACK_USER_ID.match(value)) is not None:
            forms[self.digest("SLACK_MENTION", user.group(1))] = "SLACK_MENTION"
        words = value.split()
        if name_parts and len(words) > 1:
            for word in words:
                forms.setdefault(self.digest("PERSON", word), "PERSON")
        return forms


def _stored_forms(entity_type: str, value: str) -> list[tuple[str, str]]:
    if entity_type == "PERSON" and value.strip().startswith("<@"):  # a mention: keyed by its user id
        return [("SLACK_MENTION", value.strip())]
    forms = [(entity_type, value)]
    if entity_type == "PERSON":  # "Jana Novak" is also found by "Jana" and by "Novak"
        forms += [("PERSON_PART", word) for word in value.split() if len(value.split()) > 1]
    return forms


def load_keys(home: Path, configured: str | None = None) -> PersonalDataKeys:
    """The keys' secret: `configured` (FTBOT_ERASURE_KEY) if set, else FTBOT_HOME/erasure.key, made on first use."""
    if configured:
        return PersonalDataKeys(configured.encode())
    path = home / "erasure.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once never write two different secrets.
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_hex(32))
    return PersonalDataKeys(path.read_text().strip().encode())
