"""The fold machinery: projections, their columns, the runner and the base of every guide object."""

from ledger import SHADOW_SUFFIX
from projections.fold.bound import Bound, Facade, ReportingFacade, fold_new
from projections.fold.columns import Column, Interner, Table, Vector, window_mask
from projections.fold.event_schema import fields_of
from projections.fold.projection import (
    Arrays,
    Handler,
    Projection,
    dt_to_us,
    fold_together,
    gc_paused,
    iso_to_us,
)
from projections.fold.runner import ProjectionRunner, RunnerBusyError, fold_range, load_stored
from projections.fold.snapshots import SNAPSHOT_EVERY, is_snapshot, nearest_snapshot, snapshot_name
from projections.fold.storage import MemoryMetricStorage, MetricStorage, SQLMetricStorage

__all__ = [
    "SHADOW_SUFFIX",
    "SNAPSHOT_EVERY",
    "Arrays",
    "Bound",
    "Column",
    "Facade",
    "Handler",
    "Interner",
    "MemoryMetricStorage",
    "MetricStorage",
    "Projection",
    "ProjectionRunner",
    "ReportingFacade",
    "RunnerBusyError",
    "SQLMetricStorage",
    "Table",
    "Vector",
    "dt_to_us",
    "fields_of",
    "fold_new",
    "fold_range",
    "fold_together",
    "gc_paused",
    "is_snapshot",
    "iso_to_us",
    "load_stored",
    "nearest_snapshot",
    "snapshot_name",
    "window_mask",
]
