"""The errors of crypto-shredding: a master key that is missing or unusable, a ledger without a key store.

They sit in the ledger's one error tree (:mod:`ledger.errors`)::

    LedgerError
    └── PrivacyError                 crypto-shredding cannot do what was asked
        ├── MasterKeyError           no master key where one is needed, or one that cannot be used
        └── SubjectsUnsupportedError  this backend keeps no subject keys (Redis, NATS)

No message ever holds a key, a wrapped key or a plaintext value.
"""

from __future__ import annotations

from ledger.errors import LedgerError


class PrivacyError(LedgerError):
    """Crypto-shredding cannot do what was asked (see the subclasses)."""


class MasterKeyError(PrivacyError):
    """No master key where one is needed, or one that cannot be used.

    Attributes:
        source: where the key was looked for (``$RLEDGER_MASTER_KEY``, a key file's path).
        reason: what is wrong, in words (never the key itself).
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"master key ({source}): {reason}")


class SubjectsUnsupportedError(PrivacyError):
    """An event names a data subject but this ledger's backend keeps no subject keys.

    Attributes:
        url: the ledger (password redacted).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"the ledger at {url} cannot store events with a 'subject': its backend keeps no "
            "subject keys (crypto-shredding needs a sqlite://, postgresql:// or memory:// ledger); "
            "nothing was written"
        )


__all__ = ["MasterKeyError", "PrivacyError", "SubjectsUnsupportedError"]
