"""Every table of a result, for a planner's report: CSV files (in a zip) and one Excel workbook.

The tables come from the result's JSON document, so a section or field added to the result appears
here without code of its own: each section's single values form a ``field, value, unit`` table,
and each list of records (at any depth) forms a table of its own, named by its path (for example
``stages.voltage_violations``), whose rows carry the identifying fields of the record they belong
to (``stages.label``). Base case and stages are one ``stages`` table. Units come from the
unit-suffixed field names the results use (``_mw``, ``_pu``, ``_percent``, ``_short_tons`` ...)
and are written in the headers: ``loading_percent (%)``. The study's provenance and its spec are
tables (sheets) of their own.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grid_models.results.study import StudyResult

__all__ = ["Table", "result_tables", "study_time", "tables_csv_zip", "tables_xlsx", "unit_of"]

# longest suffix first: "_mwh_per_year" before "_mwh", "_short_tons" before "_tons"
_UNITS: tuple[tuple[str, str], ...] = (
    ("_short_tons_per_year", "short tons/yr"),
    ("_tpy", "short tons/yr"),
    ("_short_tons", "short tons"),
    ("_metric_t_per_year", "metric t/yr"),
    ("_metric_t", "metric t"),
    ("_lb_per_mwh", "lb/MWh"),
    ("_lb_per_mmbtu", "lb/MMBtu"),
    ("_btu_per_kwh", "Btu/kWh"),
    ("_million_gal_per_year", "million gal/yr"),
    ("_gal_per_day", "gal/day"),
    ("_l_per_kwh", "L/kWh"),
    ("_mwh_per_year", "MWh/yr"),
    ("_twh", "TWh"),
    ("_gwh", "GWh"),
    ("_mwh", "MWh"),
    ("_kwh", "kWh"),
    ("_mvar", "Mvar"),
    ("_mva", "MVA"),
    ("_mw", "MW"),
    ("_kv", "kV"),
    ("_pu", "pu"),
    ("_percent", "%"),
    ("_degree", "degree"),
    ("_ppm", "ppm"),
    ("_hours", "h"),
    ("_h", "h"),
    ("_s", "s"),
)
_IDENTIFYING = ("index", "label", "stage_index", "stage", "name", "id", "outage", "branch", "pollutant", "hour", "size_mw")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_SHEET_MAX_CHARS = 31  # Excel's limit
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def unit_of(path: str) -> str | None:
    """The unit a dotted field path's names carry (the last name with a unit suffix), or None."""
    for name in reversed(path.split(".")):
        for suffix, unit in _UNITS:
            if f"_{name}".endswith(suffix):  # "lb_per_mwh" itself too
                return unit
    return None


@dataclass
class Table:
    """One table: ``columns`` are field paths, ``rows`` their values (None where a row has none)."""

    name: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)

    def headers(self) -> list[str]:
        """Column names with their units: ``loading_percent (%)``."""
        return [f"{column} ({unit})" if (unit := unit_of(column)) else column for column in self.columns]


class _Collector:
    """Builds tables from a JSON document: single values per section, lists of records per path."""

    def __init__(self) -> None:
        self.records: dict[str, list[dict[str, Any]]] = {}

    def flatten(self, document: dict[str, Any], *, path: str, context: dict[str, Any]) -> dict[str, Any]:
        """The document's single values by dotted name; its lists of records go to their own tables."""
        values: dict[str, Any] = {}
        own = {key: value for key, value in document.items() if _is_scalar(value)}
        identity = {f"{path.rsplit('.', 1)[-1]}.{key}": own[key] for key in _IDENTIFYING if key in own}
        for key, value in document.items():
            if isinstance(value, dict):
                nested = self.flatten(value, path=f"{path}.{key}", context={**context, **identity})
                values.update({f"{key}.{name}": item for name, item in nested.items()})
            elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
                self.rows(value, path=f"{path}.{key}", context={**context, **identity})
            elif isinstance(value, list):
                values[key] = "; ".join(_text(item) for item in value)
            else:
                values[key] = value
        return values

    def rows(self, records: Iterable[dict[str, Any]], *, path: str, context: dict[str, Any]) -> None:
        for record in records:
            self.records.setdefault(path, []).append({**context, **self.flatten(record, path=path, context=context)})


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _records_table(name: str, records: list[dict[str, Any]]) -> Table:
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    return Table(name=name, columns=list(columns), rows=[[record.get(column) for column in columns] for record in records])


def _summary_table(name: str, values: dict[str, Any]) -> Table:
    return Table(
        name=name, columns=["field", "value", "unit"], rows=[[key, value, unit_of(key)] for key, value in values.items()]
    )


def result_tables(result: StudyResult) -> list[Table]:
    """The result's tables, in the order a report reads them: overview, stages and their
    violations, each analysis, findings, assumptions, provenance, spec."""
    document = result.model_dump(mode="json")
    collector = _Collector()
    tables: list[Table] = []
    overview = {"study_name": document["study_name"], "schema_version": document["schema_version"]}
    for key in ("grid", "poi", "monitoring"):
        if isinstance(document.get(key), dict):
            overview.update(
                {f"{key}.{name}": value for name, value in collector.flatten(document[key], path=key, context={}).items()}
            )
    tables.append(_summary_table("overview", overview))
    collector.rows([document["base_case"], *document["stages"]], path="stages", context={})
    sections = ["contingency", "hosting_capacity", "load_loss", "environment", "annual"]
    summaries: dict[str, dict[str, Any]] = {}
    for key in sections:
        if isinstance(document.get(key), dict):
            summaries[key] = collector.flatten(document[key], path=key, context={})
    collector.rows(document["findings"], path="findings", context={})
    provenance = collector.flatten(document["provenance"], path="provenance", context={})
    spec = collector.flatten(document["spec"], path="spec", context={})
    for path, records in collector.records.items():
        if path.split(".")[0] in ("stages", *sections):
            tables.append(_records_table(path, records))
    for key, values in summaries.items():
        if values:
            tables.append(_summary_table(key, values))
    if "findings" in collector.records:
        tables.append(_records_table("findings", collector.records["findings"]))
    tables.append(Table(name="assumptions", columns=["assumption"], rows=[[text] for text in document["assumptions"]]))
    tables.append(_summary_table("provenance", provenance))
    tables.extend(_records_table(path, records) for path, records in collector.records.items() if path.startswith("provenance."))
    tables.append(_summary_table("spec", spec))
    tables.extend(_records_table(path, records) for path, records in collector.records.items() if path.startswith("spec."))
    return _ordered_by_section(tables)


def _ordered_by_section(tables: list[Table]) -> list[Table]:
    """Each section's summary just before its record tables (stable otherwise)."""
    order = {"overview": 0, "stages": 1, "contingency": 2, "hosting_capacity": 3, "load_loss": 4, "environment": 5, "annual": 6}
    order |= {"findings": 7, "assumptions": 8, "provenance": 9, "spec": 10}
    return sorted(tables, key=lambda table: (order.get(table.name.split(".")[0], 11), "." in table.name))


def study_time(result: StudyResult) -> datetime:
    """When the study finished (the workbook's date)."""
    return datetime.fromisoformat(result.provenance.finished_at)


def tables_csv_zip(tables: list[Table], *, created: datetime | None = None) -> bytes:
    """One CSV file per table (UTF-8, header row with units), zipped, dated ``created``."""
    when = (created or _EPOCH).astimezone(UTC).timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table in tables:
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(table.headers())
            writer.writerows(table.rows)
            archive.writestr(zipfile.ZipInfo(f"{table.name}.csv", date_time=when), text.getvalue(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _sheet_names(tables: list[Table]) -> list[str]:
    """Excel sheet names: at most 31 characters, none of []:*?/\\, unique."""
    names: list[str] = []
    for table in tables:
        base = _SHEET_FORBIDDEN.sub("_", table.name)
        name, number = base[:_SHEET_MAX_CHARS], 2
        while name in names:
            tail = f"~{number}"
            name, number = base[: _SHEET_MAX_CHARS - len(tail)] + tail, number + 1
        names.append(name)
    return names


def tables_xlsx(tables: list[Table], *, created: datetime | None = None) -> bytes:
    """One workbook, a sheet per table (header row with units, frozen); each sheet's A1 comment
    names the table's full path when the sheet name had to be shortened. The workbook's dates are
    ``created`` (the study's end), so the same result always gives the same bytes."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.comments import Comment
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    stamp = (created or _EPOCH).astimezone(UTC).replace(tzinfo=None)
    workbook.properties.created = workbook.properties.modified = stamp
    bold = Font(bold=True)
    for table, name in zip(tables, _sheet_names(tables), strict=True):
        sheet = workbook.create_sheet(title=name)
        sheet.freeze_panes = "A2"
        header = []
        for index, text in enumerate(table.headers()):
            cell = WriteOnlyCell(sheet, value=text)
            cell.font = bold
            if index == 0 and name != table.name:
                cell.comment = Comment(f"table {table.name}", "gridimpact")
            header.append(cell)
        sheet.append(header)
        for row in table.rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _restamped(buffer.getvalue(), stamp)


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _restamped(xlsx: bytes, stamp: datetime) -> bytes:
    """The workbook with every member and its modified property dated ``stamp`` (openpyxl uses
    the clock for both when it saves)."""
    out = io.BytesIO()
    when = stamp.timetuple()[:6]
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            content = source.read(member)
            if member.filename == "docProps/core.xml":
                content = _MODIFIED.sub(rb"\g<1>" + stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode() + rb"\g<2>", content)
            target.writestr(zipfile.ZipInfo(member.filename, date_time=when), content, zipfile.ZIP_DEFLATED)
    return out.getvalue()
