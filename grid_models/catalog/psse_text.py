"""Read the records of a PSS/E RAW file (versions 33, 34 and 35) without executing anything.

This is the first layer of the RAW upload: it cuts the text into sections and records, keeps the
line number of every record, and reports every problem with its line; turning the records into
a grid (buses, loads, branches, transformers, switched shunts, DC lines) is the next layer's work.

The rules, from the PSS/E Program Operation Manual's "Power Flow Raw Data File Contents":

- Line 1 is the case identification (``IC, SBASE, REV, XFRRAT, NXFRAT, BASFRQ``); lines 2 and 3
  are two free heading lines. Lines that start with ``@!`` (v35 column headers) are skipped.
- v35 continues with system-wide data (until ``0 / END OF SYSTEM-WIDE DATA``); then every version
  has the same sequence of sections, each ended by a record ``0`` (a comment after it is allowed);
  ``Q`` ends the file. Sections are known by their position, never by the comment text (files
  written with a bare ``0`` are valid), but a terminator comment that names another section than
  the position says is reported, so a misread never passes silently.
- Fields are separated by commas or blanks; an empty field between commas takes its default;
  text is quoted with ``'`` (v35 also ``"``), a doubled quote inside is one quote; ``/`` outside
  quotes starts a comment.
- Records span several lines in a few sections: two-winding transformers 4, three-winding 5 (the
  third bus ``K`` is not 0), two-terminal and VSC DC lines 3, multi-terminal DC lines 1 + converters
  + DC buses + DC links (counts on the first line), v35 impedance correction tables until a
  closing ``0, 0, 0``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from grid_models.errors import GridValidationError, ValidationIssue

__all__ = ["SECTIONS", "RawCase", "RawRecord", "parse_raw_text", "split_fields"]

VERSIONS = (33, 34, 35)
_V33 = (
    "bus", "load", "fixed_shunt", "generator", "branch", "transformer", "area", "two_terminal_dc", "vsc_dc",
    "impedance_correction", "multi_terminal_dc", "multi_section_line", "zone", "inter_area_transfer", "owner", "facts",
    "switched_shunt", "gne", "induction_machine",
)  # fmt: skip
_V34 = (*_V33[:5], "system_switching_device", *_V33[5:], "substation")
SECTIONS: dict[int, tuple[str, ...]] = {33: _V33, 34: _V34, 35: ("system_wide", *_V34)}
_FIXED_LINES = {"two_terminal_dc": 3, "vsc_dc": 3}
# the words a terminator comment uses for each section ("0 / END OF BUS DATA, BEGIN LOAD DATA")
_COMMENT_NAMES = {
    "SYSTEM-WIDE": "system_wide", "BUS": "bus", "LOAD": "load", "FIXED SHUNT": "fixed_shunt", "GENERATOR": "generator",
    "BRANCH": "branch", "NON-TRANSFORMER BRANCH": "branch", "SYSTEM SWITCHING DEVICE": "system_switching_device",
    "TRANSFORMER": "transformer", "AREA": "area", "AREA INTERCHANGE": "area", "TWO-TERMINAL DC": "two_terminal_dc",
    "VSC DC LINE": "vsc_dc", "VSC DC": "vsc_dc", "IMPEDANCE CORRECTION": "impedance_correction",
    "MULTI-TERMINAL DC": "multi_terminal_dc", "MULTI-SECTION LINE": "multi_section_line", "ZONE": "zone",
    "INTER-AREA TRANSFER": "inter_area_transfer", "OWNER": "owner", "FACTS DEVICE": "facts", "FACTS": "facts",
    "SWITCHED SHUNT": "switched_shunt", "GNE DEVICE": "gne", "GNE": "gne", "INDUCTION MACHINE": "induction_machine",
    "SUBSTATION": "substation",
}  # fmt: skip
_BEGIN = re.compile(r"BEGIN\s+(.+?)\s+DATA", re.IGNORECASE)
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?$")


@dataclass(frozen=True)
class RawRecord:
    """One record: its section, the line number of its first line, and the fields of each of
    its lines (``None`` where a field was left empty)."""

    section: str
    line: int
    lines: tuple[tuple[str | None, ...], ...]


@dataclass
class RawCase:
    """The records of a RAW file by section, with the case identification."""

    version: int
    base_mva: float
    frequency_hz: float
    headings: tuple[str, str]
    sections: dict[str, list[RawRecord]] = field(default_factory=dict)
    warnings: list[ValidationIssue] = field(default_factory=list)

    def records(self, section: str) -> list[RawRecord]:
        """The records of a section (empty when the file has none)."""
        return self.sections.get(section, [])


class _Unterminated(ValueError):
    pass


def _quoted(line: str, start: int) -> tuple[str, int]:
    """The text of the quoted field starting at ``start`` and the position after its closing quote."""
    quote, position, text = line[start], start + 1, []
    while position < len(line):
        char = line[position]
        if char == quote:
            if line[position + 1 : position + 2] == quote:  # a doubled quote is one quote
                text.append(quote)
                position += 2
                continue
            return "".join(text), position + 1
        text.append(char)
        position += 1
    raise _Unterminated(f"a quoted text opened at column {start + 1} is not closed")


def split_fields(line: str) -> list[str | None]:
    """The fields of one line: comma- or blank-separated, quotes removed, ``None`` for an empty
    field between commas; a ``/`` outside quotes ends the data.

    Raises:
        ValueError: a quoted text is not closed on the line.
    """
    fields: list[str | None] = []
    position, pending = 0, True  # pending: a field is expected (start of line, or after a comma)
    while position < len(line):
        char = line[position]
        if char.isspace():
            position += 1
        elif char == "/":
            break
        elif char == ",":
            if pending:
                fields.append(None)
            pending, position = True, position + 1
        elif char in "'\"":
            text, position = _quoted(line, position)
            fields.append(text)
            pending = False
        else:
            end = position
            while end < len(line) and not line[end].isspace() and line[end] not in ",/'\"":
                end += 1
            fields.append(line[position:end])
            position, pending = end, False
    return fields


def number(text: str | None) -> float | None:
    """A field as a number (``None`` when empty); Fortran's ``1.0D2`` is accepted.

    Raises:
        ValueError: the field is not a number.
    """
    if text is None or text == "":
        return None
    if not _NUMBER.match(text):
        raise ValueError(f"{text!r} is not a number")
    return float(text.replace("D", "E").replace("d", "e"))


@dataclass
class _Reader:
    """Walks the lines of the file, skipping v35's ``@!`` header comments and blank lines."""

    lines: list[str]
    issues: list[ValidationIssue]
    position: int = 0

    def next(self) -> tuple[int, str] | None:
        while self.position < len(self.lines):
            number_, text = self.position + 1, self.lines[self.position]
            self.position += 1
            if text.lstrip().startswith("@!") or not text.strip():
                continue
            return number_, text
        return None

    def fields(self, line_number: int, text: str, section: str) -> tuple[str | None, ...] | None:
        try:
            return tuple(split_fields(text))
        except ValueError as exc:
            self.issues.append(ValidationIssue(section, f"line {line_number}", str(exc), [line_number]))
            return None


def _header(reader: _Reader) -> tuple[int, float, float, tuple[str, str]]:
    first = reader.next()
    if first is None:
        raise GridValidationError([ValidationIssue("case", "line 1", "no case identification line")], "the RAW file is empty")
    line_number, text = first
    fields = reader.fields(line_number, text, "case") or ()
    values: list[float | None] = []
    for index, item in enumerate(fields[:6]):
        try:
            values.append(number(item))
        except ValueError as exc:
            reader.issues.append(ValidationIssue("case", f"line {line_number}", f"field {index + 1}: {exc}", [line_number]))
            values.append(None)
    values += [None] * (6 - len(values))
    revision = values[2]
    if revision is None or int(revision) not in VERSIONS or revision != int(revision):
        shown = "missing" if revision is None else f"{revision:g}"
        raise GridValidationError(
            [
                ValidationIssue(
                    "case", f"line {line_number}", "REV must be 33, 34 or 35 (save the case in one of them)", [line_number]
                )
            ],
            f"the RAW file's version (REV, field 3 of line {line_number}) is {shown}; versions 33, 34 and 35 are read",
        )
    base_mva = values[1] if values[1] is not None else 100.0
    frequency_hz = values[5] if values[5] is not None else 60.0
    headings = tuple(
        (reader.lines[index] if index < len(reader.lines) else "").strip() for index in (reader.position, reader.position + 1)
    )
    reader.position += 2
    return int(revision), base_mva, frequency_hz, (headings[0], headings[1])


def _is_end(fields: tuple[str | None, ...], marker: str) -> bool:
    return len(fields) >= 1 and fields[0] is not None and fields[0].upper() == marker and all(f is None for f in fields[1:])


def _named_next(text: str) -> str | None:
    """The section a terminator's comment says begins next, if it names one we know."""
    comment = text.partition("/")[2]
    found = _BEGIN.search(comment)
    return _COMMENT_NAMES.get(found.group(1).strip().upper()) if found else None


def _record_lines(section: str, first: tuple[str | None, ...], version: int) -> int | None:
    """How many lines the record starting with ``first`` spans (None: read until a closing 0, 0, 0)."""
    if section == "transformer":
        third = first[2] if len(first) > 2 else None
        return 4 if third in (None, "0") else 5
    if section == "multi_terminal_dc":
        try:
            counts = [int(number(first[index]) or 0) for index in (2, 3, 4)]
        except (ValueError, IndexError):
            return 1
        return 1 + sum(counts)
    if section == "impedance_correction" and version >= 35:
        return None
    return _FIXED_LINES.get(section, 1)


def _closes_table(fields: list[str | None]) -> bool:
    """A v35 impedance correction table ends with the point 0, 0, 0."""
    tail = [f for f in fields if f is not None][-3:]
    try:
        return len(tail) == 3 and all(number(f) == 0.0 for f in tail)
    except ValueError:
        return False


def _read_record(
    reader: _Reader, section: str, line_number: int, first: tuple[str | None, ...], version: int
) -> RawRecord | None:
    count = _record_lines(section, first, version)
    lines = [first]
    if count is None:  # until the table's closing point
        gathered = list(first[1:])
        while not _closes_table(gathered):
            following = reader.next()
            if following is None:
                break
            more = reader.fields(*following, section) or ()
            lines.append(more)
            gathered += list(more)
        else:
            return RawRecord(section, line_number, tuple(lines))
        reader.issues.append(ValidationIssue(section, f"line {line_number}", "the table is not closed by 0, 0, 0", [line_number]))
        return None
    for _ in range(count - 1):
        following = reader.next()
        if following is None:
            reader.issues.append(
                ValidationIssue(
                    section, f"line {line_number}", f"the record needs {count} lines; the file ends first", [line_number]
                )
            )
            return None
        lines.append(reader.fields(*following, section) or ())
    return RawRecord(section, line_number, tuple(lines))


def _read_section(reader: _Reader, case: RawCase, section: str, following: str | None) -> bool:
    """Read one section into ``case``; False when the file ended (``Q`` or no more lines)."""
    while (item := reader.next()) is not None:
        line_number, text = item
        fields = reader.fields(line_number, text, section)
        if fields is None:
            continue
        if _is_end(fields, "Q"):
            return False
        if _is_end(fields, "0"):
            named = _named_next(text)
            if named is not None and following is not None and named != following:
                case.warnings.append(
                    ValidationIssue(
                        section, f"line {line_number}",
                        f"the comment says {named} data begins, but version {case.version} puts {following} data here",
                        [line_number],
                    )
                )  # fmt: skip
            return True
        if section in ("system_wide", "substation"):  # free-form or nested: kept line by line
            case.sections.setdefault(section, []).append(RawRecord(section, line_number, (fields,)))
            continue
        record = _read_record(reader, section, line_number, fields, case.version)
        if record is not None:
            case.sections.setdefault(section, []).append(record)
    return False


def parse_raw_text(text: str) -> RawCase:
    """The records of a RAW file by section.

    Raises:
        GridValidationError: the file cannot be read as RAW 33, 34 or 35; every problem found is
            listed with its line.
    """
    reader = _Reader(lines=text.splitlines(), issues=[])
    version, base_mva, frequency_hz, headings = _header(reader)
    case = RawCase(version=version, base_mva=base_mva, frequency_hz=frequency_hz, headings=headings)
    order = SECTIONS[version]
    for index, section in enumerate(order):
        following = order[index + 1] if index + 1 < len(order) else None
        if not _read_section(reader, case, section, following):
            break
    if reader.issues:
        raise GridValidationError(reader.issues, f"the RAW file has {len(reader.issues)} problem(s)")
    if not case.records("bus"):
        raise GridValidationError(
            [ValidationIssue("bus", "", "no bus records before the first 0")], "the RAW file has no bus data"
        )
    return case
