"""The dataframe side of :func:`llm_connectivity.integrations.dask.map_chat` (needs pandas):
one result column set per row, ``llm_``-prefixed so they never clash with yours."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ..errors import ConfigurationError

__all__ = ["RESULT_COLUMNS", "map_frame"]

#: result column -> key of the row dict
RESULT_COLUMNS = {"llm_status": "status", "llm_content": "content", "llm_error": "error",
                  "llm_error_type": "error_type", "llm_total_tokens": "total_tokens", "llm_cost_usd": "cost_usd"}

RunPartition = Callable[[list[Any], int, dict[str, Any]], list[dict[str, Any]]]


def _frame_partition(frame: Any, column: str, spec: dict[str, Any], run_partition: RunPartition,
                     partition_info: dict[str, Any] | None = None) -> Any:
    number = int(partition_info["number"]) if partition_info else 0
    rows = run_partition(frame[column].tolist(), number, spec)
    result = frame.copy()
    for name, key in RESULT_COLUMNS.items():
        result[name] = [row[key] for row in rows]
    return result


def map_frame(frame: Any, column: str, spec: dict[str, Any], run_partition: RunPartition) -> Any:
    """``frame`` with the result columns added, partition by partition (lazy)."""
    dd: Any = importlib.import_module("dask.dataframe")
    pd: Any = importlib.import_module("pandas")
    if not isinstance(frame, dd.DataFrame):
        raise ConfigurationError(f"column= needs a dask DataFrame, got {type(frame).__name__}")
    if column not in frame.columns:
        raise ConfigurationError(f"column {column!r} is not in the dataframe (columns: {', '.join(map(str, frame.columns))})")
    dtypes = {"llm_total_tokens": "int64", "llm_cost_usd": "float64"}
    meta = frame._meta.assign(**{name: pd.Series(dtype=dtypes.get(name, "object")) for name in RESULT_COLUMNS})
    mapped: Any = frame.map_partitions
    return mapped(_frame_partition, column, spec, run_partition, meta=meta)
