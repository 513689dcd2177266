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
from dataclasses import fields
from typing import Any

import numpy as np

from grid_models.errors import InternalError, PlanMismatchError
from grid_models.pipeline.parts import Part, PartKind, PartResult
from grid_models.pipeline.plan import StudyPlan
from grid_models.studies.annual.block import HourBlock
from grid_models.studies.hosting.n1 import N1Part
from grid_models.studies.n1.table import OutageTable

__all__ = ["decode_part", "encode_part"]

_ARRAYS = ("converged", "exact", "vm_pu", "loading_percent", "islanded_buses", "islanded_load_mw", "islanded_generation_mw")
_HOUR_ARRAYS = tuple(f.name for f in fields(HourBlock) if f.name not in ("start", "stop", "duration_s"))
_VERSION = 4  # 4: hour blocks carry whether each solve's reactive limits settled


def _identity(part: Part) -> list[object]:
    return [part.kind.value, part.stage_index, part.start, part.stop, part.hosting]


def _outage_content(result: PartResult) -> tuple[dict[str, Any], dict[str, Any]]:
    table = result.table
    if table is None:
        raise InternalError("an outage part without its table")
    meta = {
        "labels": [c.label for c in table.contingencies],
        "duration_s": table.duration_s,
        "n1_part": None if result.n1_part is None else result.n1_part.model_dump(mode="json"),
    }
    return meta, {name: getattr(table, name) for name in _ARRAYS}


def _hour_content(result: PartResult) -> tuple[dict[str, Any], dict[str, Any]]:
    block = result.hours
    if block is None:
        raise InternalError("a block of hours without its arrays")
    return {"duration_s": block.duration_s}, {name: getattr(block, name) for name in _HOUR_ARRAYS}


def encode_part(part: Part, result: PartResult, *, fingerprint: str) -> bytes:
    """The bytes of a solved part."""
    meta, arrays = _hour_content(result) if part.kind is PartKind.HOURS else _outage_content(result)
    meta |= {"version": _VERSION, "fingerprint": fingerprint, "part": _identity(part)}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _read(data: bytes, names: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in (*names, "meta")}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise PlanMismatchError(f"stored part cannot be read ({type(exc).__name__}: {exc}); rerun the study") from None
    return meta, arrays


def decode_part(data: bytes, *, plan: StudyPlan, part: Part, fingerprint: str) -> PartResult:
    """A solved part back from its bytes.

    Raises:
        PlanMismatchError: unreadable bytes, or a part of another plan or another part.
    """
    meta, arrays = _read(data, _HOUR_ARRAYS if part.kind is PartKind.HOURS else _ARRAYS)
    if meta.get("version") != _VERSION or meta.get("fingerprint") != fingerprint:
        raise PlanMismatchError("stored part belongs to another plan of this study; rerun the study")
    if meta.get("part") != _identity(part):
        raise PlanMismatchError(f"stored part is {meta.get('part')}, expected {_identity(part)}")
    if part.kind is PartKind.HOURS:
        if any(array.shape[-1] != part.size for name, array in arrays.items() if name not in ("gen_base_mw", "gen_stage_mw")):
            raise PlanMismatchError(f"stored block does not hold {part.size} hours; rerun the study")
        block = HourBlock(start=part.start, stop=part.stop, duration_s=float(meta["duration_s"]), **arrays)
        return PartResult(hours=block)
    contingencies = plan.contingencies[part.start : part.stop]
    if meta.get("labels") != [c.label for c in contingencies]:
        raise PlanMismatchError("stored part lists other outages than the plan; rerun the study")
    rows = len(contingencies)
    if any(len(arrays[name]) != rows for name in _ARRAYS):
        raise PlanMismatchError(f"stored part has arrays that do not have {rows} rows; rerun the study")
    table = OutageTable(contingencies=list(contingencies), duration_s=float(meta["duration_s"]), **arrays)
    n1_part = None if meta.get("n1_part") is None else N1Part.model_validate(meta["n1_part"])
    return PartResult(table, n1_part)
