"""Outage slices as bytes, to travel between the processes of a worker fleet through the store.

Format: a numpy ``.npz`` archive of the table's arrays plus one ``meta`` entry, a UTF-8 JSON
document (work item, plan fingerprint, outage labels, the N-1 hosting part). It is stored without
compression: deflate took 8.5 s for the 176 MB of an activsg2000 full N-1 study, writing its
303 MB plainly takes 0.1 s, and the payloads live only until the study finishes. Read back with
``allow_pickle=False``: no code runs on load. The outage labels are checked against the reader's
plan, so a slice cannot be merged into a study it does not belong to.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np

from grid_models.errors import PlanMismatchError
from grid_models.studies.contingency import OutageTable
from grid_models.studies.hosting_n1 import N1Part
from grid_models.study_plan import SliceResult, StudyPlan, WorkItem

__all__ = ["decode_slice", "encode_slice"]

_ARRAYS = ("converged", "exact", "vm_pu", "loading_percent", "islanded_buses", "islanded_load_mw", "islanded_generation_mw")
_VERSION = 1


def encode_slice(item: WorkItem, result: SliceResult, *, fingerprint: str) -> bytes:
    """The bytes of a solved work item."""
    table = result.table
    meta = {
        "version": _VERSION,
        "fingerprint": fingerprint,
        "item": [item.stage_index, item.start, item.stop, item.hosting],
        "labels": [c.label for c in table.contingencies],
        "duration_s": table.duration_s,
        "n1_part": None if result.n1_part is None else result.n1_part.model_dump(mode="json"),
    }
    arrays: dict[str, Any] = {name: getattr(table, name) for name in _ARRAYS}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _read(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in (*_ARRAYS, "meta")}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise PlanMismatchError(f"stored outage slice cannot be read ({type(exc).__name__}: {exc}); rerun the study") from None
    return meta, arrays


def decode_slice(data: bytes, *, plan: StudyPlan, item: WorkItem, fingerprint: str) -> SliceResult:
    """A solved work item back from its bytes.

    Raises:
        PlanMismatchError: unreadable bytes, or a slice of another plan or work item.
    """
    meta, arrays = _read(data)
    if meta.get("version") != _VERSION or meta.get("fingerprint") != fingerprint:
        raise PlanMismatchError("stored outage slice belongs to another plan of this study; rerun the study")
    if meta.get("item") != [item.stage_index, item.start, item.stop, item.hosting]:
        raise PlanMismatchError(f"stored outage slice is for work item {meta.get('item')}, expected {item}")
    contingencies = plan.contingencies[item.start : item.stop]
    if meta.get("labels") != [c.label for c in contingencies]:
        raise PlanMismatchError("stored outage slice lists other outages than the plan; rerun the study")
    rows = len(contingencies)
    if any(len(arrays[name]) != rows for name in _ARRAYS):
        raise PlanMismatchError(f"stored outage slice has arrays that do not have {rows} rows; rerun the study")
    table = OutageTable(contingencies=list(contingencies), duration_s=float(meta["duration_s"]), **arrays)
    part = None if meta.get("n1_part") is None else N1Part.model_validate(meta["n1_part"])
    return SliceResult(table, part)
