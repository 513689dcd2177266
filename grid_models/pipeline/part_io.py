"""Solved parts as bytes, to travel between the processes of a worker fleet through the store.

Format: a numpy ``.npz`` archive of the table's arrays plus one ``meta`` entry, a UTF-8 JSON
document (part, plan fingerprint, outage labels, the N-1 hosting share). It is stored without
compression: a full N-1 study's payloads are hundreds of MB that deflate compresses slowly and
that live only until the study finishes. Read back with ``allow_pickle=False``: no code runs on
load. The outage labels are checked against the reader's plan, so a part cannot be merged into a
study it does not belong to.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np

from grid_models.errors import PlanMismatchError
from grid_models.pipeline.parts import Part, PartKind, PartResult
from grid_models.pipeline.plan import StudyPlan
from grid_models.studies.hosting.n1 import N1Part
from grid_models.studies.n1.table import OutageTable

__all__ = ["decode_part", "encode_part"]

_ARRAYS = ("converged", "exact", "vm_pu", "loading_percent", "islanded_buses", "islanded_load_mw", "islanded_generation_mw")
_VERSION = 2


def _identity(part: Part) -> list[object]:
    return [part.kind.value, part.stage_index, part.start, part.stop, part.hosting]


def encode_part(part: Part, result: PartResult, *, fingerprint: str) -> bytes:
    """The bytes of a solved part."""
    table = result.table
    meta = {
        "version": _VERSION,
        "fingerprint": fingerprint,
        "part": _identity(part),
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
        raise PlanMismatchError(f"stored part cannot be read ({type(exc).__name__}: {exc}); rerun the study") from None
    return meta, arrays


def decode_part(data: bytes, *, plan: StudyPlan, part: Part, fingerprint: str) -> PartResult:
    """A solved part back from its bytes.

    Raises:
        PlanMismatchError: unreadable bytes, or a part of another plan or another part.
    """
    meta, arrays = _read(data)
    if meta.get("version") != _VERSION or meta.get("fingerprint") != fingerprint:
        raise PlanMismatchError("stored part belongs to another plan of this study; rerun the study")
    if meta.get("part") != _identity(part) or part.kind is not PartKind.OUTAGES:
        raise PlanMismatchError(f"stored part is {meta.get('part')}, expected {_identity(part)}")
    contingencies = plan.contingencies[part.start : part.stop]
    if meta.get("labels") != [c.label for c in contingencies]:
        raise PlanMismatchError("stored part lists other outages than the plan; rerun the study")
    rows = len(contingencies)
    if any(len(arrays[name]) != rows for name in _ARRAYS):
        raise PlanMismatchError(f"stored part has arrays that do not have {rows} rows; rerun the study")
    table = OutageTable(contingencies=list(contingencies), duration_s=float(meta["duration_s"]), **arrays)
    n1_part = None if meta.get("n1_part") is None else N1Part.model_validate(meta["n1_part"])
    return PartResult(table, n1_part)
