"""The projection runner on every backend: exactly-once saves, crash recovery, one active runner,
rebuilds that switch over, and following new events.

"Truth" is always a fresh projection folded over the whole ledger in one go, plus an
independent count of the generated steps.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger import Ledger, StepRecorded, open_ledger
from ledger.backends.base import SavedView
from ledger.errors import ViewConflictError
from ledger.workload import generate
from projections import CORE_PROJECTIONS, Projection, ProjectionRunner, ReliabilityProjection, RunnerBusyError
from projections.fold import fold_range
from projections.fold.runner import SHADOW_SUFFIX
from tests.conftest import MakeLedger

TIMEOUT = 10.0
NAMES = ["reliability", "slo", "costs"]


def append_traffic(ledger: Ledger, n: int, seed: int) -> int:
    """Append ``n`` generated events; return how many of them are steps."""
    events = list(generate(n, seed=seed, active_workflows=4))
    ledger.append(events)
    return sum(isinstance(e, StepRecorded) for e in events)


def fresh(ledger: Ledger, projection_type: type[Projection]) -> Projection:
    projection = projection_type()
    fold_range(ledger, [projection])
    return projection


def stored(ledger: Ledger, name: str) -> SavedView:
    view = ledger.backend.load_view(name)
    assert view is not None, f"no stored view '{name}'"
    return view


def stored_position(ledger: Ledger) -> int:
    view = ledger.backend.load_view("reliability")
    return 0 if view is None else view.position


def stored_steps(ledger: Ledger) -> int:
    restored = ReliabilityProjection.from_bytes(stored(ledger, "reliability").state)
    assert restored is not None
    return restored.report().total_steps


def disk_gone(*args: Any, **kwargs: Any) -> None:
    """Stands in for a storage call that fails."""
    raise RuntimeError("the disk went away")


def follow_in_thread(
    runner: ProjectionRunner, failure: list[BaseException], **options: Any
) -> threading.Thread:
    """Start ``runner.follow(idle_timeout=0.05, **options)`` in a thread; errors go to ``failure``."""

    def follow() -> None:
        try:
            runner.follow(idle_timeout=0.05, **options)
        except BaseException as exc:  # reported by the test, not lost in the thread
            failure.append(exc)

    thread = threading.Thread(target=follow)
    thread.start()
    return thread


def another_connection(ledger: Ledger, make_ledger: MakeLedger) -> Ledger:
    """A second handle on the same ledger (the memory backend lives in one object only)."""
    return ledger if ledger.url.startswith("memory") else make_ledger()


def test_catch_up_saves_each_state_with_its_position(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    steps = append_traffic(ledger, 300, seed=1)

    with ProjectionRunner(ledger, CORE_PROJECTIONS, save_every=100, page_size=64) as runner:
        assert runner.names == NAMES
        assert runner.catch_up() == ledger.latest_offset() == 300
        for projection in runner.projections:
            view = stored(ledger, projection.name)
            restored = type(projection).from_bytes(view.state)
            assert restored is not None
            assert view.position == restored.position == 300
            assert view.digest == projection.digest() == restored.digest()
            assert view.digest == fresh(ledger, type(projection)).digest()
        assert stored_steps(ledger) == steps

        more = append_traffic(ledger, 50, seed=2)
        assert runner.catch_up() == 350

    assert [stored(ledger, name).position for name in NAMES] == [350] * 3
    assert stored_steps(ledger) == steps + more


def test_catch_up_before_acquire_is_refused(make_ledger: MakeLedger) -> None:
    runner = ProjectionRunner(make_ledger(), CORE_PROJECTIONS)

    with pytest.raises(RuntimeError, match="acquire"):
        runner.catch_up()


def test_a_crash_between_fold_and_save_does_not_double_count(
    make_ledger: MakeLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_ledger()
    steps = append_traffic(ledger, 300, seed=3)
    backend = ledger.backend
    save_view = backend.save_view
    calls = 0

    def crash_on_fifth_save(view: SavedView, *, reset: bool = False) -> None:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise RuntimeError("power cut")
        save_view(view, reset=reset)

    monkeypatch.setattr(backend, "save_view", crash_on_fifth_save)
    with (
        ProjectionRunner(ledger, CORE_PROJECTIONS, save_every=100) as crashing,
        pytest.raises(RuntimeError, match="power cut"),
    ):
        crashing.catch_up()
    monkeypatch.undo()

    # Saved: every projection at 100, then reliability at 200 before the crash.
    assert [stored(ledger, name).position for name in NAMES] == [200, 100, 100]

    restarted = make_ledger() if not ledger.url.startswith("memory") else ledger
    with ProjectionRunner(restarted, CORE_PROJECTIONS, save_every=100) as runner:
        assert runner.catch_up() == 300
        for projection in runner.projections:
            truth = fresh(restarted, type(projection))
            assert projection.digest() == truth.digest()
            assert projection.report() == truth.report()  # type: ignore[attr-defined]

    assert [stored(ledger, name).position for name in NAMES] == [300] * 3
    assert stored_steps(ledger) == steps


def test_a_second_runner_is_busy_while_the_first_holds_the_lock(
    make_ledger: MakeLedger,
) -> None:
    ledger = make_ledger()
    first = ProjectionRunner(ledger, CORE_PROJECTIONS)
    second = ProjectionRunner(another_connection(ledger, make_ledger), CORE_PROJECTIONS)
    first.acquire()
    try:
        with pytest.raises(RunnerBusyError) as caught:
            second.acquire()
        assert caught.value.names == NAMES
        assert "another runner is already keeping reliability, slo, costs current" in str(caught.value)
    finally:
        first.release()

    second.acquire()
    second.release()


def test_a_waiting_acquire_gets_the_lock_once_it_is_released(
    make_ledger: MakeLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_ledger()
    other = another_connection(ledger, make_ledger)
    first = ProjectionRunner(ledger, CORE_PROJECTIONS)
    second = ProjectionRunner(other, CORE_PROJECTIONS)
    first.acquire()
    refused = threading.Event()
    try_lock = other.backend.try_lock_runner

    def watched(name: str) -> Any:
        lock = try_lock(name)
        if lock is None:
            refused.set()
        return lock

    monkeypatch.setattr(other.backend, "try_lock_runner", watched)
    outcome: dict[str, Any] = {}

    def wait_for_lock() -> None:
        try:
            second.acquire(wait=True, poll=0.01)
            outcome["acquired"] = True
        except BaseException as exc:  # reported below, not lost in the thread
            outcome["error"] = exc

    waiter = threading.Thread(target=wait_for_lock)
    waiter.start()
    try:
        assert refused.wait(TIMEOUT), "the waiting runner never tried the lock"
        assert "acquired" not in outcome
    finally:
        first.release()
        waiter.join(TIMEOUT)
    try:
        assert not waiter.is_alive()
        assert outcome == {"acquired": True}
    finally:
        second.release()


def test_stop_ends_a_waiting_acquire(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    first = ProjectionRunner(ledger, CORE_PROJECTIONS)
    second = ProjectionRunner(another_connection(ledger, make_ledger), CORE_PROJECTIONS)
    first.acquire()
    try:
        second.stop()
        with pytest.raises(RunnerBusyError):
            second.acquire(wait=True, poll=0.01)
    finally:
        first.release()


def test_saving_a_position_already_saved_is_a_conflict_not_a_double_count(
    make_ledger: MakeLedger,
) -> None:
    ledger = make_ledger()
    steps = append_traffic(ledger, 120, seed=4)
    projection = fresh(ledger, ReliabilityProjection)
    view = SavedView(
        projection.name, projection.position, projection.to_bytes(), projection.digest(), datetime.now(UTC)
    )
    other = another_connection(ledger, make_ledger)
    ledger.backend.save_view(view)

    with pytest.raises(ViewConflictError) as caught:
        other.backend.save_view(view)

    assert (caught.value.name, caught.value.position) == ("reliability", 120)
    assert stored(ledger, "reliability").position == 120
    assert stored(ledger, "reliability").digest == projection.digest()
    assert stored_steps(ledger) == steps


def test_saving_an_older_position_after_a_newer_one_is_a_conflict(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    append_traffic(ledger, 80, seed=5)
    newer = fresh(ledger, ReliabilityProjection)
    older = ReliabilityProjection()
    fold_range(ledger, [older], through=40)
    now = datetime.now(UTC)
    ledger.backend.save_view(SavedView("reliability", 80, newer.to_bytes(), newer.digest(), now))

    with pytest.raises(ViewConflictError):
        ledger.backend.save_view(SavedView("reliability", 40, older.to_bytes(), older.digest(), now))

    assert stored(ledger, "reliability").digest == newer.digest()


def test_rebuild_gives_the_digests_of_a_fold_from_scratch_and_switches_over(
    make_ledger: MakeLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_ledger()
    append_traffic(ledger, 250, seed=6)
    backend = ledger.backend
    with ProjectionRunner(ledger, CORE_PROJECTIONS, save_every=100) as runner:
        runner.catch_up()
        # A wrong stored state (only the first 10 events) claiming to be complete.
        wrong = ReliabilityProjection()
        fold_range(ledger, [wrong], through=10)
        backend.save_view(
            SavedView("reliability", 250, wrong.to_bytes(), wrong.digest(), datetime.now(UTC)),
            reset=True,
        )
        append_traffic(ledger, 40, seed=7)
        saved_names: list[str] = []
        save_view = backend.save_view

        def spy(view: SavedView, *, reset: bool = False) -> None:
            saved_names.append(view.name)
            save_view(view, reset=reset)

        monkeypatch.setattr(backend, "save_view", spy)

        digests = runner.rebuild()
        monkeypatch.undo()

        truth = {t.name: fresh(ledger, t).digest() for t in CORE_PROJECTIONS}
        assert digests == truth
        assert {p.name: p.digest() for p in runner.projections} == truth
        assert any(name.endswith(SHADOW_SUFFIX) for name in saved_names)
        for name in NAMES:
            assert stored(ledger, name).position == ledger.latest_offset() == 290
            assert stored(ledger, name).digest == truth[name]
            assert backend.load_view(name + SHADOW_SUFFIX) is None

        # It carries on incrementally from the switched-over state.
        append_traffic(ledger, 30, seed=8)
        assert runner.catch_up() == 320
        assert stored(ledger, "costs").digest == fresh(ledger, CORE_PROJECTIONS[2]).digest()

    # The same digests as a runner catching up from nothing.
    after_rebuild = {name: stored(ledger, name).digest for name in NAMES}
    for name in NAMES:
        ledger.backend.delete_view(name)
    with ProjectionRunner(ledger, CORE_PROJECTIONS, save_every=100) as scratch:
        assert scratch.catch_up() == 320
        assert {p.name: p.digest() for p in scratch.projections} == after_rebuild


def test_a_failed_rebuild_leaves_the_stored_states_serving_and_the_runner_usable(
    make_ledger: MakeLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rebuild drops the runner's in-memory states while it folds fresh ones (memory); if
    # it fails, the runner must carry on from the stored states, as if it had not started.
    ledger = make_ledger()
    append_traffic(ledger, 120, seed=11)
    with ProjectionRunner(ledger, CORE_PROJECTIONS) as runner:
        runner.catch_up()
        before = {p.name: (p.position, p.digest()) for p in runner.projections}

        monkeypatch.setattr("projections.fold.runner.fold_range", disk_gone)
        with pytest.raises(RuntimeError, match="disk went away"):
            runner.rebuild()
        monkeypatch.undo()

        assert {p.name: (p.position, p.digest()) for p in runner.projections} == before
        append_traffic(ledger, 30, seed=12)
        assert runner.catch_up() == 150
        truth = {t.name: fresh(ledger, t).digest() for t in CORE_PROJECTIONS}
        assert {p.name: p.digest() for p in runner.projections} == truth


def test_a_rebuild_that_fails_after_switching_over_or_cannot_reload_still_leaves_a_usable_runner(
    make_ledger: MakeLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_ledger()
    append_traffic(ledger, 120, seed=13)
    backend = ledger.backend
    with ProjectionRunner(ledger, CORE_PROJECTIONS) as runner:
        runner.catch_up()

        # Switched over, then the shadow clean-up fails: memory must match the store.
        def no_delete(name: str) -> None:
            raise RuntimeError("database is locked")

        monkeypatch.setattr(backend, "delete_view", no_delete)
        with pytest.raises(RuntimeError, match="locked"):
            runner.rebuild()
        monkeypatch.undo()
        assert [p.position for p in runner.projections] == [120, 120, 120]

        # The fold fails and so does reloading the stored states: the next catch_up loads them.
        monkeypatch.setattr("projections.fold.runner.fold_range", disk_gone)
        monkeypatch.setattr(backend, "load_view", disk_gone)
        with pytest.raises(RuntimeError, match="disk went away"):
            runner.rebuild()
        monkeypatch.undo()
        append_traffic(ledger, 30, seed=14)
        assert runner.catch_up() == 150
        truth = {t.name: fresh(ledger, t).digest() for t in CORE_PROJECTIONS}
        assert {p.name: p.digest() for p in runner.projections} == truth
        for name in NAMES:
            assert stored(ledger, name).position == 150


def test_a_runner_needs_a_projection() -> None:
    with pytest.raises(ValueError, match="at least one projection"):
        ProjectionRunner(open_ledger("memory://"), [])


def test_follow_picks_up_events_appended_meanwhile_and_stops_on_stop(
    make_ledger: MakeLedger,
) -> None:
    ledger = make_ledger()
    writer = another_connection(ledger, make_ledger)
    runner = ProjectionRunner(ledger, [ReliabilityProjection])
    runner.acquire()
    positions: list[int] = []
    progressed = threading.Condition()
    failure: list[BaseException] = []

    def on_batch(position: int) -> None:
        with progressed:
            positions.append(position)
            progressed.notify_all()

    follower = follow_in_thread(runner, failure, on_batch=on_batch)
    try:
        for batch in range(3):
            writer.append([StepRecorded(agent=f"a{batch}", success=i % 2 == 0) for i in range(5)])
            target = writer.latest_offset()
            with progressed:
                assert progressed.wait_for(
                    lambda target=target: bool(positions) and positions[-1] >= target,  # type: ignore[misc]
                    timeout=TIMEOUT,
                ), f"follow never reached offset {target}"
    finally:
        runner.stop()
        follower.join(TIMEOUT)
        runner.release()

    assert not follower.is_alive()
    assert failure == []
    assert positions[-1] == 15
    assert stored(ledger, "reliability").position == 15
    assert stored_steps(ledger) == 15


def test_follow_with_a_save_interval_saves_less_often_and_keeps_everything_on_stop(
    make_ledger: MakeLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Saves are spaced out while events keep coming; nothing folded is lost at stop.
    ledger = make_ledger()
    writer = another_connection(ledger, make_ledger)
    saves: list[int] = []
    save_view = ledger.backend.save_view

    def counting(view: SavedView, *, reset: bool = False) -> None:
        saves.append(view.position)
        save_view(view, reset=reset)

    monkeypatch.setattr(ledger.backend, "save_view", counting)
    runner = ProjectionRunner(ledger, [ReliabilityProjection])
    runner.acquire()
    seen: list[int] = []
    failure: list[BaseException] = []

    follower = follow_in_thread(runner, failure, on_batch=seen.append, save_interval=60.0)
    try:
        for batch in range(10):
            writer.append([StepRecorded(agent=f"a{batch}", success=True) for _ in range(3)])
            time.sleep(0.01)
        # The stream goes quiet: what was folded is saved without waiting out the interval.
        deadline = time.monotonic() + TIMEOUT
        while stored_position(ledger) < 30 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stored_position(ledger) == 30
        writer.append([StepRecorded(agent="late", success=False)])
    finally:
        runner.stop()
        follower.join(TIMEOUT)
        runner.release()

    assert not follower.is_alive()
    assert failure == []
    # Fewer saves than appends, and the last one holds everything, the late event included
    # (saved on stop if not before).
    assert len(saves) < 10
    assert stored(ledger, "reliability").position == 31
    assert stored_steps(ledger) == 31
    # Reported positions are saved ones (folded but unsaved positions are never reported).
    assert set(seen) <= {0, *saves}
    assert seen == sorted(seen)


def test_ctrl_c_in_follow_saves_what_was_folded(make_ledger: MakeLedger) -> None:
    # rledger follow is usually stopped with Ctrl-C: folded but not yet saved events (a save
    # interval was running) must be saved on the way out.
    ledger = make_ledger()
    writer = another_connection(ledger, make_ledger)
    writer.append([StepRecorded(agent="a", success=True) for _ in range(10)])
    runner = ProjectionRunner(ledger, [ReliabilityProjection])
    runner.acquire()
    calls: list[int] = []

    def on_batch(position: int) -> None:
        calls.append(position)
        if len(calls) == 1:
            writer.append([StepRecorded(agent="b", success=False) for _ in range(5)])
        elif runner.projections[0].position == 15:
            raise KeyboardInterrupt  # folded, not saved (the interval has not passed)

    try:
        with pytest.raises(KeyboardInterrupt):
            runner.follow(idle_timeout=0.05, on_batch=on_batch, save_interval=60.0)
    finally:
        runner.release()

    assert calls[0] == 10 and calls[-1] == 10  # the last reported (saved) position was 10
    assert stored(ledger, "reliability").position == 15
    assert stored_steps(ledger) == 15


def test_ctrl_c_mid_fold_saves_nothing_torn_and_the_runner_reloads(
    make_ledger: MakeLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C inside a page leaves a state holding part of the page beyond its position:
    # saving it would count those events twice after a restart.
    ledger = make_ledger()
    writer = another_connection(ledger, make_ledger)
    writer.append([StepRecorded(agent="a", success=True) for _ in range(10)])
    steps = {"n": 0, "rounds": 0}
    original = ReliabilityProjection._step

    def step(self: ReliabilityProjection, t: int, e: Any) -> None:
        steps["n"] += 1
        if steps["n"] == 10 + 6:  # the second event of the second page after the first ten
            raise KeyboardInterrupt
        original(self, t, e)

    # Patched before the runner binds its handlers (acquire loads the projections).
    monkeypatch.setattr(ReliabilityProjection, "_step", step)
    runner = ProjectionRunner(ledger, [ReliabilityProjection], page_size=4)
    runner.acquire()

    def on_batch(position: int) -> None:
        steps["rounds"] += 1
        if steps["rounds"] > 500:
            runner.stop()  # never hang: the test then fails on the missing KeyboardInterrupt
        if position == 10 and writer.latest_offset() == 10:
            writer.append([StepRecorded(agent="b", success=True) for _ in range(10)])

    try:
        with pytest.raises(KeyboardInterrupt):
            runner.follow(idle_timeout=0.05, on_batch=on_batch, save_interval=60.0)
        monkeypatch.undo()
        assert stored(ledger, "reliability").position == 10
        assert stored_steps(ledger) == 10
        assert runner.catch_up() == 20  # reloads the saved state: every event counted once
        (reloaded,) = runner.projections
        assert isinstance(reloaded, ReliabilityProjection)
        assert reloaded.report().total_steps == 20
    finally:
        runner.release()


def test_ctrl_c_between_two_projections_saves_finishes_the_others(
    make_ledger: MakeLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_ledger()
    writer = another_connection(ledger, make_ledger)
    writer.append([StepRecorded(agent="a", success=True) for _ in range(3)])
    backend = ledger.backend
    save_view = backend.save_view
    armed = {"on": False, "saves": 0}

    def interrupted(view: SavedView, *, reset: bool = False) -> None:
        if armed["on"]:
            armed["saves"] += 1
            if armed["saves"] == 2:
                raise KeyboardInterrupt  # after the first projection's save, before the second
        save_view(view, reset=reset)

    def on_batch(position: int) -> None:
        if not armed["on"]:
            armed["on"] = True
            writer.append([StepRecorded(agent="b", success=True)])
        elif position >= 4 and armed["saves"] < 2:
            runner.stop()  # never hang: the test then fails on the missing KeyboardInterrupt

    monkeypatch.setattr(backend, "save_view", interrupted)
    runner = ProjectionRunner(ledger, CORE_PROJECTIONS)
    runner.acquire()
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.follow(idle_timeout=0.05, on_batch=on_batch)
    finally:
        runner.release()
    monkeypatch.undo()

    assert {name: stored(ledger, name).position for name in NAMES} == dict.fromkeys(NAMES, 4)
