"""Every backend has one shape: a registered package parsing its own URLs, serving the library's API.

The registry in ``ledger.url`` lists backend packages; each declares its schemes and a
``from_url``. Every backend also serves eventsourcing's process-recorder interface (tracking,
notifications, subscriptions) from the ledger's own storage. The Redis client is an extra: a
``redis://`` URL without it says how to install it.
"""

from __future__ import annotations

import importlib
import sys
import threading

import pytest
from eventsourcing.persistence import IntegrityError, Notification, ProcessRecorder, Tracking

from ledger import BackendUnavailableError, PlanRevised, UnsupportedURLError, open_ledger
from ledger.url import BACKENDS, backend_for
from tests.conftest import MakeLedger


def test_each_registered_backend_declares_its_schemes_and_opens_its_own_urls() -> None:
    served: list[str] = []
    for name in BACKENDS:
        module = importlib.import_module(name)
        assert callable(module.from_url), name
        assert module.SCHEMES, name
        served += module.SCHEMES
    assert len(served) == len(set(served)), "two backends claim one scheme"
    assert set(served) == {"memory", "sqlite", "postgresql", "postgres", "redis", "rediss", "nats", "tls"}
    assert backend_for("SQLite") is importlib.import_module("ledger.backends.sqlite")
    assert backend_for("mysql") is None


def test_a_redis_url_without_the_redis_client_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate a SQLite-only install: the client module is absent, and nothing of the Redis
    # backend that imports it is loaded yet.
    monkeypatch.setitem(sys.modules, "redis", None)
    for loaded in [m for m in sys.modules if m.startswith("ledger.backends.redis.")]:
        if loaded != "ledger.backends.redis.layout":
            monkeypatch.delitem(sys.modules, loaded)

    with pytest.raises(BackendUnavailableError) as caught:
        open_ledger("redis://127.0.0.1:6379/0")

    assert "pip install 'reliability-ledger[redis]'" in str(caught.value)
    with open_ledger("memory://") as ledger:  # the other backends do not need it
        assert ledger.append(PlanRevised(reason="x")).offsets == (1,)


def test_a_bad_ttl_days_is_refused_before_connecting() -> None:
    # Port 1: nothing listens there, so refusing the URL must come before any connection.
    with pytest.raises(UnsupportedURLError):
        open_ledger("redis://127.0.0.1:1/0?ttl_days=soon")


def test_every_backend_serves_the_librarys_tracking_api(make_ledger: MakeLedger) -> None:
    backend = make_ledger().backend
    assert isinstance(backend, ProcessRecorder)

    assert backend.max_tracking_id("app") is None
    backend.insert_tracking(Tracking("app", 5))
    with pytest.raises(IntegrityError):
        backend.insert_tracking(Tracking("app", 5))
    with pytest.raises(IntegrityError):
        backend.insert_tracking(Tracking("app", 4))
    backend.insert_tracking(Tracking("app", 7))

    assert backend.max_tracking_id("app") == 7
    assert backend.has_tracking_id("app", 6)
    assert not backend.has_tracking_id("app", 8)
    assert backend.max_tracking_id("other") is None


def test_every_backend_serves_the_librarys_reads(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    ledger.append([PlanRevised(workflow_id="w1", reason="a"), PlanRevised(workflow_id="w1", reason="b")])
    ledger.append(PlanRevised(workflow_id="w2", reason="c"))
    backend = ledger.backend

    assert [(e.originator_id, e.originator_version) for e in backend.select_events("wf:w1")] == [
        ("wf:w1", 1),
        ("wf:w1", 2),
    ]
    assert [e.originator_version for e in backend.select_events("wf:w1", gt=1)] == [2]
    assert [e.originator_version for e in backend.select_events("wf:w1", desc=True, limit=1)] == [2]
    assert [n.id for n in backend.select_notifications(2, 10)] == [2, 3]
    assert backend.max_notification_id() == 3
    with pytest.raises(NotImplementedError):
        backend.insert_events([])


def test_every_backend_serves_a_subscription_of_stored_then_new_events(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    ledger.append([PlanRevised(workflow_id="w1", reason="a"), PlanRevised(workflow_id="w1", reason="b")])
    got: list[Notification] = []

    with ledger.backend.subscribe(gt=1) as subscription:

        def consume() -> None:
            for notification in subscription:
                got.append(notification)
                if len(got) == 3:
                    return

        consumer = threading.Thread(target=consume)
        consumer.start()
        ledger.append([PlanRevised(workflow_id="w2", reason="c"), PlanRevised(workflow_id="w3", reason="d")])
        consumer.join(timeout=10)
        alive = consumer.is_alive()
    consumer.join(timeout=10)

    assert not alive, "the subscription never delivered the new events"
    assert [(n.id, n.originator_id) for n in got] == [(2, "wf:w1"), (3, "wf:w2"), (4, "wf:w3")]


def test_a_subscription_by_topic_waits_past_events_it_does_not_want(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    ledger.append([PlanRevised(reason="skip me"), PlanRevised(reason="me too")])
    got: list[int] = []

    with ledger.backend.subscribe(topics=["StepRecorded"]) as subscription:

        def consume() -> None:
            for notification in subscription:
                got.append(notification.id)
                return

        consumer = threading.Thread(target=consume)
        consumer.start()
        ledger.append({"type": "StepRecorded", "agent": "a", "success": True})
        consumer.join(timeout=10)
        alive = consumer.is_alive()
    consumer.join(timeout=10)

    assert not alive and got == [3]
