"""Storage backends, one package each, chosen by URL scheme (the registry is in :mod:`ledger.url`).

Every backend package (``memory``, ``sqlite``, ``postgres``, ``redis``) has the same shape: its
``__init__`` declares ``SCHEMES`` and ``from_url(url, shown, *, create, timeout)`` (it parses
its own URL; ``timeout`` is the deadline of every operation, :mod:`ledger.deadline`), and
``recorder.py`` holds its :class:`~ledger.backends.base.LedgerBackend`; a backend with more to
say splits along the same seams — ``layout.py`` (tables or keys), ``writes.py`` (the write
transaction), ``reads.py`` and ``prune.py`` (Redis adds ``scripts.py``, its server-side Lua).
Shared by all: :mod:`~ledger.backends.base` (the interface), :mod:`~ledger.backends.transaction`
(the write transaction), :mod:`~ledger.backends.rows`, :mod:`~ledger.backends.locks`,
:mod:`~ledger.backends.pruning`, :mod:`~ledger.backends.subscription`;
:mod:`~ledger.backends.sql` by the SQL backends.
"""
