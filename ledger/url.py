"""Open a ledger from a URL: the registry of backends, each parsing its own URLs."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ledger.deadline import timeout_of, without_timeout
from ledger.errors import UnsupportedURLError
from ledger.timeutil import utc_now

if TYPE_CHECKING:
    # The store (pydantic, the codec, the chain) loads on the first open: the CLI imports this
    # module for DEFAULT_URL, and `rledger --help` opens nothing.
    from ledger.backends.base import LedgerBackend
    from ledger.redaction import RedactionPolicy, Redactor
    from ledger.store import Clock, Ledger

DEFAULT_URL = "sqlite:///ledger.db"


def default_url() -> str:
    """The ledger a command opens when given none: ``$RLEDGER_URL``, else :data:`DEFAULT_URL`."""
    return os.environ.get("RLEDGER_URL", DEFAULT_URL)


"""The CLI's default ledger: a SQLite file in the working directory."""

BACKENDS = (
    "ledger.backends.memory",
    "ledger.backends.sqlite",
    "ledger.backends.postgres",
    "ledger.backends.redis",
    "ledger.backends.nats",
)
"""The backend packages, each declaring ``SCHEMES`` and ``from_url(url, shown, *, create,
timeout)``: adding a backend is one package under ``ledger/backends/`` and one line here. The
URL a backend is given has no ``timeout`` parameter left: :func:`open_backend` reads it (with
:func:`ledger.deadline.timeout_of`) and passes the deadline as ``timeout``."""


def redact(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def backend_for(scheme: str) -> ModuleType | None:
    """Return the backend package serving a URL scheme (``None`` if none does)."""
    for name in BACKENDS:
        module = importlib.import_module(name)
        if scheme.lower() in module.SCHEMES:
            return module
    return None


def open_backend(url: str, *, create: bool = True, timeout: float | None = None) -> LedgerBackend:
    """Return the backend a URL names (creating tables if needed).

    With ``create`` false a SQLite file must already exist (servers' ledgers are opened as ever).
    ``timeout`` (else the URL's ``?timeout=``, else :data:`ledger.deadline.DEFAULT_TIMEOUT`) is
    the deadline of each of its operations.

    Raises:
        UnsupportedURLError: no backend serves the URL's scheme (or the URL is malformed).
        InvalidURLOptionError: the deadline is not a positive number of seconds.
        BackendUnavailableError: the database cannot be reached or opened.
        FileNotFoundError: ``create`` is false and the SQLite file does not exist.
    """
    module = backend_for(urlsplit(url).scheme)
    if module is None:
        raise UnsupportedURLError(url)
    seconds = timeout_of(url, timeout, redact(url))
    bare = without_timeout(url) if "timeout=" in url else url
    backend: LedgerBackend = module.from_url(bare, redact(bare), create=create, timeout=seconds)
    backend.timeout = seconds
    return backend


def open_ledger(
    url: str = "memory://",
    *,
    clock: Clock = utc_now,
    ttl_days: float | None = None,
    create: bool = True,
    timeout: float | None = None,
    redaction: Redactor | RedactionPolicy | Mapping[str, Any] | str | None = None,
) -> Ledger:
    """Open the ledger a URL names.

    Args:
        url: ``memory://`` (default; nothing persists), ``sqlite:///path/to/file.db``,
            ``postgresql://user:password@host:port/dbname[?schema=name]`` or
            ``redis://[:password@]host:port/db[?prefix=name][&ttl_days=N]``. Any URL may
            carry ``?master_key_file=PATH`` (the master key of crypto-shredding, else
            ``$RLEDGER_MASTER_KEY``) and ``?retain=TYPE[.FIELD]:DAYS[,…]`` (retention by
            field, see :mod:`ledger.keys`).
        clock: returns aware UTC datetimes; the ledger's commit times come from it.
        ttl_days: remove events older than this many days automatically, after appends (at
            most hourly), once every stored projection has folded them (see
            :meth:`Ledger.keep_for`). A ``redis://`` URL may carry it as ``?ttl_days=``.
        create: create a SQLite file that does not exist yet (default); false for a reader,
            so a mistyped path is an error instead of a new, empty ledger.
        timeout: the deadline in seconds of each append and read's work with the store (one
            transaction, one page), on every backend; the URL may carry it as ``?timeout=S``.
            Default :data:`ledger.deadline.DEFAULT_TIMEOUT` (5 s). One that runs out raises
            :class:`~ledger.errors.BackendTimeoutError` naming the operation and the deadline.
        redaction: a redaction policy applied to every append before it is encoded and
            hashed: a :class:`~ledger.redaction.Redactor`, a policy, its mapping, or the path
            of its JSON file (see :mod:`ledger.redaction`).

    Raises:
        UnsupportedURLError: no backend understands the URL.
        InvalidURLOptionError: ``timeout`` (or ``?timeout=``) is not a positive number.
        BackendUnavailableError: the database cannot be reached or opened.
        FileNotFoundError: ``create`` is false and the SQLite file does not exist.
        RedactionPolicyError: the redaction policy is invalid or its hash key cannot be read.
        MasterKeyError: the ledger holds subject keys and no master key (or another one) is set.
    """
    from ledger.keys.options import split_options
    from ledger.store import Ledger

    url, key_file, horizons = split_options(url, redact(url))
    redactor = None
    if redaction is not None:  # before the backend: a bad policy opens nothing
        from ledger.redaction import Redactor

        redactor = redaction if isinstance(redaction, Redactor) else Redactor(redaction)
    backend = open_backend(url, create=create, timeout=timeout)
    ledger = Ledger(backend, clock=clock, redaction=redactor)
    days = ttl_days if ttl_days is not None else backend.ttl_days
    try:
        ledger.use_keys(master_key_file=key_file, horizons=horizons)
        if days is not None or horizons:
            ledger.keep_for(
                None if days is None else timedelta(days=days),
                fields={spec: timedelta(days=d) for spec, d in horizons.items()},
            )
    except BaseException:
        ledger.close()
        raise
    return ledger
