"""Read user-supplied grids: pandapower JSON, MATPOWER ``.m`` text and PSS/E RAW (versions 33-35).

Nothing in an upload is executed. ``pandapower.from_json`` is not used on uploads because its
decoder imports modules and instantiates classes named in the file; this reader takes only the
element tables the engine supports, as plain JSON tables, and ignores everything else. A bad
file raises :class:`GridValidationError` with one issue per problem.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from enum import StrEnum
from typing import Any, TypeGuard

import numpy as np
import pandapower as pp
import pandas as pd

from grid_models.catalog.convert import matpower_to_net
from grid_models.catalog.matpower_text import parse_matpower_text
from grid_models.catalog.trafo3w import trafo3w_to_star
from grid_models.catalog.validation import MAX_BUSES, SUPPORTED_ELEMENTS, validate_matpower_case, validate_net
from grid_models.errors import GridValidationError, ValidationIssue
from grid_models.grid import Grid

__all__ = ["MAX_UPLOAD_BYTES", "UploadFormat", "detect_format", "load_upload"]

MAX_UPLOAD_BYTES = 64 * 1024 * 1024
_UNSUPPORTED_TABLES = (
    "switch",
    "impedance",
    "dcline",
    "ward",
    "xward",
    "storage",
    "motor",
    "svc",
    "ssc",
    "tcsc",
    "vsc",
    "controller",
)


class UploadFormat(StrEnum):
    """Accepted grid file formats."""

    AUTO = "auto"
    PANDAPOWER_JSON = "pandapower_json"
    MATPOWER = "matpower"
    PSSE_RAW = "psse_raw"


def _fail(element: str, field: str, message: str) -> GridValidationError:
    return GridValidationError([ValidationIssue(element=element, field=field, message=message)])


def detect_format(content: bytes, filename: str | None = None) -> UploadFormat:
    """Guess the format from the file name, else from the first non-blank character."""
    name = (filename or "").lower()
    if name.endswith(".json"):
        return UploadFormat.PANDAPOWER_JSON
    if name.endswith(".m"):
        return UploadFormat.MATPOWER
    if name.endswith(".raw"):
        return UploadFormat.PSSE_RAW
    head = content.lstrip()[:1]
    return UploadFormat.PANDAPOWER_JSON if head in (b"{", b"[") else UploadFormat.MATPOWER


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail("file", "encoding", f"the file is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


_MAX_NUMBER_CHARS = 100  # longer numbers are not data (float64 holds 17 digits; Python refuses ints over 4,300 digits)


def _checked(text: str) -> str:
    if len(text) > _MAX_NUMBER_CHARS:
        raise ValueError(f"a number {len(text):,} characters long")
    return text


def _integer(text: str) -> int:
    return int(_checked(text))


def _float(text: str) -> float:
    return float(_checked(text))


def _json(text: str, element: str) -> Any:
    """Parse JSON text of the upload (the whole file, or a table in it); every failure is a 422."""
    where = "the file" if element == "file" else f"the '{element}' table"
    field = "json" if element == "file" else "_object"
    try:
        return json.loads(text, parse_int=_integer, parse_float=_float)
    except json.JSONDecodeError as exc:
        raise _fail(element, field, f"{where} is not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise _fail(element, field, f"{where} is nested too deeply to be a pandapower network") from None
    except ValueError as exc:
        raise _fail(element, field, f"{where} holds {exc}: write numbers of at most {_MAX_NUMBER_CHARS} characters") from None


def _table(raw: Any, element: str) -> pd.DataFrame:
    """One pandapower JSON table (``orient='split'``) as a DataFrame, built from plain values only."""
    body = raw.get("_object") if isinstance(raw, dict) else None
    if isinstance(body, str):
        body = _json(body, element)
    if not isinstance(body, dict) or not {"columns", "index", "data"} <= set(body):
        raise _fail(element, "_object", f"the '{element}' table must be a pandas 'split' table with columns, index and data")
    columns, index, data = body["columns"], body["index"], body["data"]
    if not (isinstance(columns, list) and isinstance(index, list) and isinstance(data, list)):
        raise _fail(element, "_object", f"the '{element}' table's columns, index and data must be lists")
    if any(not isinstance(row, list) or len(row) != len(columns) for row in data) or len(data) != len(index):
        raise _fail(element, "data", f"the '{element}' table has rows whose length does not match its columns or index")
    names = [str(c) for c in columns]
    if len(set(names)) != len(names):
        raise _fail(element, "columns", f"the '{element}' table names a column twice; keep one of each")
    if not all(_is_id(i) for i in index) or len(set(index)) != len(index):
        raise _fail(element, "index", f"the '{element}' table's index must be distinct whole numbers from 0 to {_MAX_ID:,}")
    frame = pd.DataFrame(data, index=pd.Index(index, dtype=np.int64), columns=names)
    return frame.drop(columns=[c for c in ("geo",) if c in frame.columns])


_MAX_ID = 2**53  # element ids and bus references: whole numbers a float64 still holds exactly


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_ID


# pandapower's naming of numeric columns (limits and quantities with a unit), for columns the
# empty-net template does not have (e.g. sgen.min_q_mvar): all null, they must still be numbers
_NUMERIC_NAME = re.compile(r"^(min|max)_|_(mw|mvar|mva|kv|ka|pu|percent|degree|ohm|km|mw_per_mvar)$")


def _numeric_column(element: str, column: str, values: pd.Series) -> pd.Series:
    """A column that must hold numbers (or nulls), as float64; booleans and text are refused."""
    refused = values.map(lambda v: isinstance(v, (bool, str, list, dict)) and not _numeric_text(v))
    numbers = pd.to_numeric(values.where(~refused), errors="coerce")
    bad = refused | (numbers.isna() & values.notna())
    if bad.any():
        raise _fail(element, column, f"{element}.{column} must hold numbers (rows {_rows(values.index[bad])})")
    return numbers.astype(np.float64)


def _numeric_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _rows(index: pd.Index) -> str:
    shown = ", ".join(str(i) for i in index[:10])
    return shown + (", ..." if len(index) > 10 else "")


def _boolean_column(element: str, column: str, values: pd.Series) -> pd.Series:
    bad = values.notna() & ~values.map(lambda v: isinstance(v, bool) or (isinstance(v, (int, float)) and v in (0, 1)))
    if bad.any():
        raise _fail(element, column, f"{element}.{column} must be true or false (rows {_rows(values.index[bad])})")
    return values


def _merge_into(net: pp.pandapowerNet, element: str, frame: pd.DataFrame) -> None:
    template = net[element]
    for column in frame.columns:
        in_template = column in template.columns
        if (in_template and template[column].dtype.kind in "iuf") or (not in_template and _NUMERIC_NAME.search(column)):
            frame[column] = _numeric_column(element, column, frame[column])
            if in_template and template[column].dtype.kind in "iu":  # bus references and counts: whole numbers
                values = frame[column]
                bad = values.notna() & ~((values % 1 == 0) & (values.abs() <= _MAX_ID))
                if bad.any():
                    raise _fail(
                        element,
                        column,
                        f"{element}.{column} must hold whole numbers up to {_MAX_ID:,} (rows {_rows(values.index[bad])})",
                    )
        elif in_template and template[column].dtype.kind == "b":
            frame[column] = _boolean_column(element, column, frame[column])
    merged = frame.reindex(columns=list(dict.fromkeys([*template.columns, *frame.columns])))
    for column in merged.columns[merged.isna().all().to_numpy()]:  # all null (JSON nulls): NaN, not Python objects
        numeric = column in template.columns and template[column].dtype.kind in "biuf"
        if numeric or (column not in template.columns and _NUMERIC_NAME.search(str(column))):
            merged[column] = merged[column].astype(np.float64)
    for column, dtype in template.dtypes.items():
        if column in frame.columns and merged[column].notna().all():
            try:
                merged[column] = merged[column].astype(dtype)
            except (TypeError, ValueError):
                raise _fail(element, str(column), f"{element}.{column} has values that are not {dtype}") from None
    net[element] = merged


def _pandapower_net(text: str, *, max_buses: int) -> pp.pandapowerNet:
    document = _json(text, "file")
    body = document.get("_object") if isinstance(document, dict) else None
    if not isinstance(body, dict) or document.get("_class") != "pandapowerNet":
        raise _fail("file", "_class", "not a pandapower network: save it with pandapower.to_json(net, path)")
    f_hz, sn_mva = body.get("f_hz"), body.get("sn_mva")
    if not (_positive(f_hz) and _positive(sn_mva)):
        raise _fail("net", "sn_mva", "f_hz and sn_mva must be positive finite numbers")
    net = pp.create_empty_network(name=str(body.get("name") or "upload")[:120], f_hz=float(f_hz), sn_mva=float(sn_mva))
    issues = [
        ValidationIssue(element=key, field="table", message=f"'{key}' elements are not supported; remove or convert them")
        for key in _UNSUPPORTED_TABLES
        if key in body and len(_table(body[key], key))
    ]
    if issues:
        raise GridValidationError(issues)
    for element in SUPPORTED_ELEMENTS:
        table = body.get(element)
        inner = table.get("_object") if isinstance(table, dict) else None
        if isinstance(inner, str):  # pandapower stores each table as JSON text: count its rows before parsing it
            error = _too_many(element, inner.count("],[") + 1, max_buses=max_buses)
            if error is not None:
                raise error
    for element in SUPPORTED_ELEMENTS:
        if element in body:
            _merge_into(net, element, _table(body[element], element))
    return net


def _pandapower_upload(text: str, *, max_buses: int) -> tuple[pp.pandapowerNet, list[str]]:
    """A pandapower JSON net, its three-winding transformers as three two-winding ones each."""
    net = _pandapower_net(text, max_buses=max_buses)
    net, note = trafo3w_to_star(net)
    return net, [note] if note else []


def _positive(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


_ROWS_PER_BUS = 10  # any table may hold at most this many rows per allowed bus (activsg70k: 1.3 branches a bus)


def _too_many(element: str, rows: int, *, max_buses: int) -> GridValidationError | None:
    """An error when a table (counted before parsing) is beyond the size limits."""
    limit = max_buses if element == "bus" else _ROWS_PER_BUS * max_buses
    if rows <= limit:
        return None
    return _fail(element, "rows", f"the file holds about {rows:,} {element} rows; the limit is {limit:,}")


def _matpower_rows(text: str, name: str) -> int:
    """Rows of the ``mpc.<name>`` matrix, counted without parsing it (rows end in ';' or a line end)."""
    found = re.search(rf"mpc\.{name}\s*=\s*\[", text)
    if found is None:
        return 0
    end = text.find("]", found.end())
    end = len(text) if end < 0 else end
    body = text[found.end() : end]
    return max(body.count(";"), body.count("\n"))


def _matpower_net(text: str, *, max_buses: int) -> tuple[pp.pandapowerNet, list[str]]:
    for name in ("bus", "gen", "branch", "gencost"):  # refuse an absurd file before parsing it (1.1 M buses: 1.4 GB)
        error = _too_many("bus" if name == "bus" else name, _matpower_rows(text, name), max_buses=max_buses)
        if error is not None:
            raise error
    case = parse_matpower_text(text)
    issues = validate_matpower_case(case, max_buses=max_buses)
    if issues:
        raise GridValidationError(issues)
    net, report = matpower_to_net(case, name="upload")
    return net, report.notes


def _raw_net(text: str, *, max_buses: int) -> tuple[pp.pandapowerNet, list[str]]:
    from grid_models.catalog.psse_convert import raw_to_matpower
    from grid_models.catalog.psse_text import parse_raw_text

    error = _too_many("bus", text.count("\n"), max_buses=_ROWS_PER_BUS * max_buses)  # lines bound every table
    if error is not None:
        raise error
    raw = parse_raw_text(text)
    error = _too_many("bus", len(raw.records("bus")), max_buses=max_buses)
    if error is not None:
        raise error
    conversion = raw_to_matpower(raw)
    issues = validate_matpower_case(conversion.case, max_buses=max_buses)
    if issues:
        raise GridValidationError(issues)
    net, report = matpower_to_net(conversion.case, name="upload")
    return net, [*conversion.warnings, *report.notes]


def load_upload(
    content: bytes,
    *,
    grid_id: str,
    filename: str | None = None,
    fmt: UploadFormat = UploadFormat.AUTO,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_buses: int = MAX_BUSES,
) -> Grid:
    """Parse and validate an uploaded grid.

    Parameters:
        content: the file's bytes.
        grid_id: id to give the grid (the service's upload id).
        filename: used to detect the format and as the grid's title.
        fmt: ``auto`` (by extension, then content), ``pandapower_json``, ``matpower`` or ``psse_raw``.
        max_bytes, max_buses: size limits.

    Returns:
        A validated :class:`Grid` whose checksum is the SHA-256 of ``content``.

    Raises:
        GridValidationError: every problem found, each with a message that says how to fix it.
    """
    if len(content) > max_bytes:
        raise _fail("file", "size", f"the file has {len(content):,} bytes; the limit is {max_bytes:,}")
    if not content.strip():
        raise _fail("file", "size", "the file is empty")
    kind = detect_format(content, filename) if fmt is UploadFormat.AUTO else fmt
    text = _decode(content)
    notes: list[str] = []
    if kind is UploadFormat.PANDAPOWER_JSON:
        net, notes = _pandapower_upload(text, max_buses=max_buses)
    elif kind is UploadFormat.PSSE_RAW:
        net, notes = _raw_net(text, max_buses=max_buses)
    else:
        net, notes = _matpower_net(text, max_buses=max_buses)
    issues = validate_net(net, max_buses=max_buses)
    if issues:
        raise GridValidationError(issues)
    return Grid(
        net=net,
        grid_id=grid_id,
        title=(filename or grid_id)[:120],
        checksum=hashlib.sha256(content).hexdigest(),
        source=f"upload:{kind.value}",
        notes=notes,
    )
