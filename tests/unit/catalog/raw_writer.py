"""A PSS/E RAW writer for the tests (versions 33, 34, 35): a MATPOWER case written as RAW, so that
reading it back can be compared with the MATPOWER upload of the same case (lines as branches,
every other branch as a two-winding transformer with CW = CZ = CM = 1, loads and shunts per bus).
v34/v35 differ as the converter's ``_LAYOUTS`` say: twelve ratings and a name on branches, twelve
ratings on windings, v35's NREG on generators and its system-wide data section."""

from __future__ import annotations

import numpy as np

from grid_models.catalog.matpower_text import MatpowerCase

_SECTIONS_AFTER_TRANSFORMERS = 13  # area, two-terminal DC, ..., switched shunt, GNE, induction machine


def _name(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def is_transformer(case: MatpowerCase, row: np.ndarray | list[float], kv: dict[float, float] | None = None) -> bool:
    """A branch the MATPOWER converter makes a transformer: off-nominal ratio, a shift or two kV
    levels (a ratio of exactly 1 between buses of one kV is a line, which keeps its charging: a RAW
    transformer has none)."""
    kv = kv if kv is not None else base_kv(case)
    return bool(row[8] not in (0, 1) or row[9] != 0 or kv[row[0]] != kv[row[1]])


def base_kv(case: MatpowerCase) -> dict[float, float]:
    return dict(zip(case.bus[:, 0].tolist(), case.bus[:, 9].tolist(), strict=True))


def write_raw(case: MatpowerCase, *, version: int = 33) -> str:
    names = case.bus_name or [f"BUS {int(b)}" for b in case.bus[:, 0]]
    out = [f"0, {case.base_mva:.2f}, {version}, 0, 1, 60.00 / PSS(R)E-{version} written by the gridimpact tests", "TEST", "RAW"]
    if version == 35:
        out.insert(0, "@!IC,SBASE,REV,XFRRAT,NXFRAT,BASFRQ")
        out.append("0 / END OF SYSTEM-WIDE DATA, BEGIN BUS DATA")
    for row, name in zip(case.bus.tolist(), names, strict=True):
        i, typ, _, _, _, _, area, vm, va, kv, zone, vmax, vmin = row[:13]
        limits = f"{vmax!r}, {vmin!r}, {vmax!r}, {vmin!r}"
        out.append(f"{int(i)}, {_name(name)}, {kv!r}, {int(typ)}, {int(area)}, {int(zone)}, 1, {vm!r}, {va!r}, {limits}")
    out.append("0 / END OF BUS DATA, BEGIN LOAD DATA")
    for row in case.bus.tolist():
        if row[2] or row[3]:
            out.append(f"{int(row[0])}, '1', 1, {int(row[6])}, {int(row[10])}, {row[2]!r}, {row[3]!r}, 0, 0, 0, 0, 1, 1, 0")
    out.append("0 / END OF LOAD DATA, BEGIN FIXED SHUNT DATA")
    for row in case.bus.tolist():
        if row[4] or row[5]:
            out.append(f"{int(row[0])}, '1', 1, {row[4]!r}, {row[5]!r}")
    out.append("0 / END OF FIXED SHUNT DATA, BEGIN GENERATOR DATA")
    for number, row in enumerate(case.gen.tolist()):
        bus, pg, qg, qmax, qmin, vg, mbase, status, pmax, pmin = row[:10]
        nreg = "0, " if version == 35 else ""
        head = f"{int(bus)}, '{number % 99 + 1}', {pg!r}, {qg!r}, {qmax!r}, {qmin!r}, {vg!r}, 0, {nreg}{mbase!r}"
        out.append(f"{head}, 0, 1, 0, 0, 1, {int(status)}, 100, {pmax!r}, {pmin!r}, 1, 1.0")
    out.append("0 / END OF GENERATOR DATA, BEGIN BRANCH DATA")
    transformers, kv = [], base_kv(case)
    for number, row in enumerate(case.branch.tolist()):
        if is_transformer(case, row, kv):
            transformers.append((number, row))
            continue
        f, t, r, x, b, ra, rb, rc = row[:8]
        ratings = f"{ra!r}, {rb!r}, {rc!r}" if version == 33 else f"'L{number}', {ra!r}, {rb!r}, {rc!r}" + ", 0" * 9
        out.append(
            f"{int(f)}, {int(t)}, '{number % 99 + 1}', {r!r}, {x!r}, {b!r}, {ratings}, 0, 0, 0, 0, {int(row[10])}, 1, 0, 1, 1.0"
        )
    if version >= 34:
        out.append("0 / END OF BRANCH DATA, BEGIN SYSTEM SWITCHING DEVICE DATA")
        out.append("0 / END OF SYSTEM SWITCHING DEVICE DATA, BEGIN TRANSFORMER DATA")
    else:
        out.append("0 / END OF BRANCH DATA, BEGIN TRANSFORMER DATA")
    for number, row in transformers:
        f, t, r, x, _, ra, rb, rc, tap, shift = row[:10]
        out.append(f"{int(f)}, {int(t)}, 0, '{number % 99 + 1}', 1, 1, 1, 0, 0, 2, 'T{number}', {int(row[10])}, 1, 1.0")
        out.append(f"{r!r}, {x!r}, {case.base_mva!r}")
        ratings = f"{ra!r}, {rb!r}, {rc!r}" + ("" if version == 33 else ", 0" * 9)
        out.append(f"{(tap or 1.0)!r}, 0, {shift!r}, {ratings}, 0, 0, 1.1, 0.9, 1.1, 0.9, 33, 0, 0, 0, 0")
        out.append("1.0, 0")
    out.append("0 / END OF TRANSFORMER DATA, BEGIN AREA DATA")
    out.extend(["0"] * _SECTIONS_AFTER_TRANSFORMERS)  # area .. induction machine, all empty
    out.append("Q")
    return "\n".join(out) + "\n"
