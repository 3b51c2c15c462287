"""Crypto-shredding: per-subject data keys, sealed fields, ``forget`` and retention by field.

An event that names a ``subject`` has its free-form fields (:data:`ENCRYPTED_FIELDS`) stored
encrypted with that subject's own data key (AES-GCM), sealed before the hash chain so the chain
covers the ciphertext. Data keys are stored wrapped by a master key (:mod:`ledger.keys.master`)
in a key store apart from the events (:mod:`ledger.keys.stores`). :func:`forget` destroys a
subject's keys: its fields then read as :data:`ERASED`, and nothing else changes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.keys.envelope import Envelope
    from ledger.keys.errors import MasterKeyError, PrivacyError, SubjectsUnsupportedError
    from ledger.keys.fields import ENCRYPTED_FIELDS, ERASED
    from ledger.keys.master import ENV_KEY, ENV_KEY_FILE, MasterKey, load_master_key, new_master_key_text
    from ledger.keys.shredder import ForgetResult, forget
    from ledger.keys.stores import KeyStore, MemoryKeyStore, PostgresKeyStore, SQLiteKeyStore, key_store_for

# Lazy, as in :mod:`ledger`: a ledger opened without a master key never loads the cipher.
_WHERE = {
    "ENCRYPTED_FIELDS": "fields",
    "ENV_KEY": "master",
    "ENV_KEY_FILE": "master",
    "ERASED": "fields",
    "Envelope": "envelope",
    "ForgetResult": "shredder",
    "KeyStore": "stores",
    "MasterKey": "master",
    "MasterKeyError": "errors",
    "MemoryKeyStore": "stores",
    "PostgresKeyStore": "stores",
    "PrivacyError": "errors",
    "SQLiteKeyStore": "stores",
    "SubjectsUnsupportedError": "errors",
    "forget": "shredder",
    "key_store_for": "stores",
    "load_master_key": "master",
    "new_master_key_text": "master",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ledger.keys' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ledger.keys.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ENCRYPTED_FIELDS",
    "ENV_KEY",
    "ENV_KEY_FILE",
    "ERASED",
    "Envelope",
    "ForgetResult",
    "KeyStore",
    "MasterKey",
    "MasterKeyError",
    "MemoryKeyStore",
    "PostgresKeyStore",
    "PrivacyError",
    "SQLiteKeyStore",
    "SubjectsUnsupportedError",
    "forget",
    "key_store_for",
    "load_master_key",
    "new_master_key_text",
]
