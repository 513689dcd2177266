"""Phase 2 of a study: its parts, the pieces any process holding the same plan can solve.

:func:`plan_parts` cuts the work into :class:`Part` s, :func:`solve_part` solves one and
:func:`merge_parts` joins the solved parts back together. Every runner (one process, forked local
processes, the worker fleet) uses these three and nothing else, so a new kind of part is added
here: a :class:`PartKind`, its cut in ``plan_parts``, its solve in ``solve_part``, its join in
``merge_parts`` and its bytes in :mod:`grid_models.pipeline.part_io`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from grid_models.errors import InternalError
from grid_models.pipeline.plan import StudyPlan, contingency_options
from grid_models.studies.annual.block import HourBlock, solve_block
from grid_models.studies.hosting.n1 import N1Inputs, N1Part, hosting_n1_part
from grid_models.studies.n1.outages import run_contingencies
from grid_models.studies.n1.table import OutageTable

__all__ = ["Outages", "Part", "PartKind", "PartResult", "merge_parts", "plan_parts", "solve_part"]


class PartKind(StrEnum):
    """What a part solves."""

    OUTAGES = "outages"  # a slice of one stage's outage list (the base case's also search the N-1 hosting capacity)
    HOURS = "hours"  # a block of hours of an annual study (start:stop are hours of the profile)


@dataclass(frozen=True)
class Part:
    """One piece of a study's work: outages ``start:stop`` of stage ``stage_index`` (0 = base case),
    with its share of the N-1 hosting-capacity search when ``hosting``; or, for ``HOURS``, hours
    ``start:stop`` of an annual study (``stage_index`` -1)."""

    stage_index: int
    start: int
    stop: int
    hosting: bool = False
    kind: PartKind = PartKind.OUTAGES

    @property
    def size(self) -> int:
        """Outages (or hours) in the part."""
        return self.stop - self.start


@dataclass(frozen=True)
class PartResult:
    """What solving a part yields: its outage table and its share of the N-1 hosting capacity, or
    its block of hours."""

    table: OutageTable | None = None
    n1_part: N1Part | None = None
    hours: HourBlock | None = None

    @property
    def duration_s(self) -> float:
        """Solver time spent on the part, seconds."""
        parts = (self.table, self.n1_part, self.hours)
        return sum(part.duration_s for part in parts if part is not None)


@dataclass(frozen=True)
class Outages:
    """The merged parts: the outage table of each stage, the N-1 hosting-capacity parts, and an
    annual study's blocks of hours (in hour order)."""

    tables: dict[int, OutageTable] = field(default_factory=dict)
    n1_parts: list[N1Part] = field(default_factory=list)
    hours: list[HourBlock] = field(default_factory=list)


def plan_parts(
    plan: StudyPlan,
    *,
    rows_per_part: int | None = None,
    hosting_rows_per_part: int | None = None,
    hours_per_part: int | None = None,
) -> list[Part]:
    """The parts to solve: one per stage when ``rows_per_part`` is None; the base case's parts that
    also search the N-1 hosting capacity (which solves them at a dozen or so demand levels) may be
    cut smaller with ``hosting_rows_per_part``; an annual study's hours in blocks of
    ``hours_per_part`` rounded up to whole screening windows (one block when None). Heaviest
    (hosting) parts first, hours last."""
    count = len(plan.contingencies)
    parts: list[Part] = []
    if plan.annual is not None:
        first, last = plan.annual.first_hour, plan.annual.last_hour
        window = plan.annual.options.window_hours
        size = window * math.ceil(max(hours_per_part or (last - first), 1) / window)
        parts.extend(Part(-1, start, min(start + size, last), kind=PartKind.HOURS) for start in range(first, last, size))
    for stage in plan.outage_stages:
        hosting = stage == 0 and plan.hosting_n1
        size = max((hosting_rows_per_part if hosting else None) or rows_per_part or count, 1)
        parts.extend(Part(stage, start, min(start + size, count), hosting=hosting) for start in range(0, count, size))
    return sorted(parts, key=lambda part: (not part.hosting, part.kind is PartKind.HOURS))


def solve_part(plan: StudyPlan, part: Part, *, check: Callable[[], None] | None = None, threads: int | None = None) -> PartResult:
    """Solve one part: its outages at its stage (and its share of the N-1 hosting capacity).

    ``check()`` is called every few solves; it may raise (for example ``StudyCanceled``) to stop
    the part early. ``threads`` caps the batch solver's threads (processes that share the cores
    use fewer); results do not depend on it.

    Raises:
        InternalError: the part does not belong to this plan.
    """
    if part.kind is PartKind.HOURS:
        if plan.annual is None:
            raise InternalError(f"part {part} is a block of hours, but the plan has no annual study")
        return PartResult(hours=solve_block(plan.annual, part.start, part.stop, check=check))
    options = contingency_options(plan.spec)
    if options is not None and threads is not None:
        options = options.model_copy(update={"threads": min(options.threads, threads)})
    if options is None or plan.context is None or part.stage_index not in plan.outage_stages:
        raise InternalError(f"part {part} does not belong to this study's plan")
    stage = next(s for s in plan.solves if s.index == part.stage_index)
    contingencies = plan.contingencies[part.start : part.stop]
    table = run_contingencies(
        plan.backend,
        stage=stage,
        contingencies=contingencies,
        eligible=plan.context.eligible,
        options=options,
        settings=plan.settings,
        check=check,
    )
    n1_part = None
    if part.hosting and plan.hosting is not None:
        n1_part = hosting_n1_part(plan.hosting, N1Inputs(contingencies, table, options), check=check)
    return PartResult(table, n1_part)


def merge_parts(plan: StudyPlan, results: Mapping[Part, PartResult]) -> Outages:
    """Join the parts of each stage back into one table in outage order, and collect the N-1
    hosting-capacity parts (in outage order).

    Raises:
        InternalError: a part is missing (every outage of every stage must be solved).
    """
    tables: dict[int, OutageTable] = {}
    outages = {part: result for part, result in results.items() if part.kind is PartKind.OUTAGES}
    for stage in plan.outage_stages:
        parts = sorted((part for part in outages if part.stage_index == stage), key=lambda part: part.start)
        covered = sum(part.size for part in parts)
        if covered != len(plan.contingencies):
            raise InternalError(f"stage {stage}: {covered} of {len(plan.contingencies)} outages solved; a part is missing")
        tables[stage] = OutageTable.join([t for t in (outages[part].table for part in parts) if t is not None])
    ordered = sorted(outages, key=lambda part: (part.stage_index, part.start))
    n1_parts = [n1 for n1 in (outages[part].n1_part for part in ordered) if n1 is not None]
    return Outages(tables=tables, n1_parts=n1_parts, hours=_hours(plan, results))


def _hours(plan: StudyPlan, results: Mapping[Part, PartResult]) -> list[HourBlock]:
    """An annual study's blocks in hour order, checked to cover its hours once."""
    blocks = sorted(
        (r.hours for p, r in results.items() if p.kind is PartKind.HOURS and r.hours is not None), key=lambda b: b.start
    )
    if plan.annual is None:
        return []
    expected, covered = plan.annual.first_hour, 0
    for block in blocks:
        if block.start != expected:
            raise InternalError(f"the hours from {expected} are missing or solved twice (a block starts at {block.start})")
        expected, covered = block.stop, covered + block.stop - block.start
    if expected != plan.annual.last_hour:
        raise InternalError(f"hours {expected}-{plan.annual.last_hour} of the annual study are missing")
    return blocks
