"""Anonymization at the ingest boundary: the Anonymizer, and every name callers import from `connectors.anonymize`.

    facade            Anonymizer: texts in, pseudonymized texts out (and what each pseudonym stands for)
    engine            the spaCy pipeline and Presidio analyzer it runs, set up to stay offline and fast
    recognizers       pattern recognizers: German IDs, street addresses, Slack mentions, phone numbers
    name_recognizers  people's names: spaCy's PERSON spans, names after a cue, the Slack member directory
    name_words        whether words read as a name: word shape, dictionary, given, tool and German words
    spans             fix-ups of what was found: allow-list, overlaps, further name mentions, replacement
    pseudonyms        <PERSON_1>, <EMAIL_2>... within one record
    vault             the optional reversible mode: each record's originals, encrypted apart

Names load on first use: spaCy and Presidio take seconds to import, and the vault's users (erasure, the
trainer) need neither.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.anonymize.engine import (
        POS_COMPONENTS,
        NerNlpEngine,
        NoContextEnhancer,
        OfflineEmailRecognizer,
        build_registry,
        load_ner_pipeline,
        pos_tagger,
        use_numpy_blas,
    )
    from connectors.anonymize.facade import BATCH_SIZE, AnonymizationError, Anonymizer, anonymizer_for
    from connectors.anonymize.pseudonyms import LABELS, AnonymizedRecord, PseudonymTable
    from connectors.anonymize.recognizers import LANGUAGE
    from connectors.anonymize.vault import PseudonymVault, VaultKeyError, open_vault, vault_for

# Public name -> the module of this package that defines it.
_HOMES = {
    "Anonymizer": "facade",
    "anonymizer_for": "facade",
    "AnonymizationError": "facade",
    "BATCH_SIZE": "facade",
    "AnonymizedRecord": "pseudonyms",
    "LABELS": "pseudonyms",
    "PseudonymTable": "pseudonyms",
    "LANGUAGE": "recognizers",
    "NerNlpEngine": "engine",
    "NoContextEnhancer": "engine",
    "OfflineEmailRecognizer": "engine",
    "POS_COMPONENTS": "engine",
    "build_registry": "engine",
    "load_ner_pipeline": "engine",
    "pos_tagger": "engine",
    "use_numpy_blas": "engine",
    "PseudonymVault": "vault",
    "VaultKeyError": "vault",
    "open_vault": "vault",
    "vault_for": "vault",
}

__all__ = [
    "BATCH_SIZE",
    "LABELS",
    "LANGUAGE",
    "POS_COMPONENTS",
    "AnonymizationError",
    "AnonymizedRecord",
    "Anonymizer",
    "anonymizer_for",
    "NerNlpEngine",
    "NoContextEnhancer",
    "OfflineEmailRecognizer",
    "PseudonymTable",
    "PseudonymVault",
    "VaultKeyError",
    "build_registry",
    "load_ner_pipeline",
    "open_vault",
    "pos_tagger",
    "use_numpy_blas",
    "vault_for",
]


def __getattr__(name: str) -> Any:
    """Imports the module that defines a public name the first time the name is read."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later reads skip this function
    return value
