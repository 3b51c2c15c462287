"""Crypto-shredding: per-subject data keys, sealed fields, ``forget`` and retention by field.

An event that names a ``subject`` has its free-form fields (:data:`ENCRYPTED_FIELDS`) stored
encrypted with that subject's own data key (AES-GCM), sealed before the hash chain so the chain
covers the ciphertext. Data keys are stored wrapped by a master key (:mod:`ledger.keys.master`)
in a key store apart from the events (:mod:`ledger.keys.stores`). :func:`forget` destroys a
subject's keys: its fields then read as :data:`ERASED`, and nothing else changes.
"""

from __future__ import annotations

from ledger.keys.envelope import Envelope
from ledger.keys.errors import MasterKeyError, PrivacyError, SubjectsUnsupportedError
from ledger.keys.fields import ENCRYPTED_FIELDS, ERASED
from ledger.keys.master import ENV_KEY, ENV_KEY_FILE, MasterKey, load_master_key, new_master_key_text
from ledger.keys.shredder import ForgetResult, forget
from ledger.keys.stores import KeyStore, MemoryKeyStore, PostgresKeyStore, SQLiteKeyStore, key_store_for

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
