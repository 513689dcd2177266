"""The year assembled from its blocks of hours: curtailment at every stage and along a sweep of
sizes, the firm size, the curtailment-enabled headroom, and their findings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from grid_models.catalog.profiles import LoadProfile
from grid_models.results.annual import CurtailmentResult, EnabledHeadroom, FirmSize, ProfileInfo, ScreeningInfo, SweepPoint
from grid_models.results.kinds import FindingCategory, Severity
from grid_models.results.study import Finding
from grid_models.results.text import mw_text, named, stage_title
from grid_models.studies.annual.block import BINDING_KINDS, AnnualContext, HourBlock
from grid_models.studies.annual.curtailment import curtailment, enabled_headroom, firm_size

__all__ = [
    "Year",
    "annual_findings",
    "curtailment_result",
    "enabled_results",
    "firm_result",
    "join_blocks",
    "profile_info",
    "screening_info",
    "sweep",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Year:
    """The blocks of an annual study joined in hour order (one :class:`HourBlock` over all hours)."""

    hours: HourBlock
    timestamps: list[datetime]


def join_blocks(blocks: list[HourBlock], profile: LoadProfile) -> Year:
    """One block over every hour (the blocks are in order and cover the hours once)."""
    hours = HourBlock.concat(blocks)
    stamps = profile.timestamps()[hours.start : hours.stop]
    return Year(hours, stamps)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _when(result: CurtailmentResult) -> str:
    """When the curtailment falls: its three largest months and most frequent hours of the day."""
    if not result.hours:
        return ""
    months = [m for m in np.argsort(result.by_month_mwh, kind="stable")[::-1][:3] if result.by_month_mwh[m] > 0]
    hours = [h for h in np.argsort(result.by_hour_of_day, kind="stable")[::-1][:3] if result.by_hour_of_day[h] > 0]
    return (
        f"; most energy in {', '.join(_MONTHS[m] for m in sorted(months))}, "
        f"most often at {', '.join(f'{h:02d}:00' for h in sorted(hours))}"
    )


def _hour_text(year: Year, index: int) -> str:
    return year.timestamps[index].strftime("%Y-%m-%d %H:00")


def _binding(ctx: AnnualContext, year: Year, index: int) -> tuple[str | None, str | None, str | None]:
    """The element, outage and kind that bind the headroom at ``index`` (as the estimate names them)."""
    hours, prepared = year.hours, ctx.prepared
    kind = BINDING_KINDS[int(hours.binding_kind[index])] or None
    element, outage = int(hours.binding_element[index]), int(hours.binding_outage[index])
    if element < 0:
        name = None
    elif kind == "thermal":
        name = named(prepared.branch_label(element), prepared.branch_names[element])
    else:
        name = named(f"bus {int(prepared.bus_ids[element])}", prepared.bus_names[element])
    outage_name = (
        named(ctx.contingencies[outage].label, ctx.contingencies[outage].name) if 0 <= outage < len(ctx.contingencies) else None
    )
    return name, outage_name, kind


def curtailment_result(year: Year, want_mw: FloatArray, size_mw: float) -> CurtailmentResult:
    """Curtailment of one stage's hourly demand against the year's headroom."""
    stats = curtailment(want_mw, year.hours.headroom_mw, year.timestamps)
    return CurtailmentResult(
        size_mw=size_mw,
        hours=stats.hours,
        energy_mwh=stats.energy_mwh,
        share_percent=stats.share_percent,
        events=stats.events,
        longest_event_h=stats.longest_event_h,
        by_month_mwh=stats.by_month_mwh,
        by_hour_of_day=stats.by_hour_of_day,
    )


def sweep(year: Year, ctx: AnnualContext) -> list[SweepPoint]:
    """Curtailment of flat sizes from 0 to the largest stage (the facility's shape applied)."""
    largest = max((stage.p_mw for stage in ctx.stages), default=0.0)
    shape = ctx.shape[year.hours.start : year.hours.stop]
    points = []
    for size in np.linspace(0.0, largest, ctx.options.size_sweep_points + 1)[1:]:
        stats = curtailment(shape * size, year.hours.headroom_mw, year.timestamps)
        points.append(
            SweepPoint(
                size_mw=float(size),
                hours=stats.hours,
                energy_mwh=stats.energy_mwh,
                share_percent=stats.share_percent,
                events=stats.events,
            )
        )
    return points


def firm_result(year: Year, ctx: AnnualContext) -> FirmSize:
    """The largest flat size never curtailed, with what binds it."""
    size, index = firm_size(year.hours.headroom_mw)
    element, outage, kind = _binding(ctx, year, index)
    return FirmSize(
        size_mw=size,
        hour=_hour_text(year, index),
        binding_element=element,
        binding_outage=outage,
        binding_kind=kind,
        exact=bool(year.hours.headroom_exact[index]),
    )


def enabled_results(year: Year, ctx: AnnualContext) -> list[EnabledHeadroom]:
    """The curtailment-enabled headroom at each limit, with the tightest hour it curtails."""
    out = []
    headroom = year.hours.headroom_mw
    for limit in ctx.options.curtailment_limits_percent:
        size, bounded = enabled_headroom(headroom, limit_percent=limit, cap_mw=ctx.cap_mw)
        curtailed = np.flatnonzero(np.nan_to_num(headroom, nan=0.0) < size)
        element = outage = kind = hour = None
        if len(curtailed):
            index = int(curtailed[np.argmin(np.nan_to_num(headroom[curtailed], nan=0.0))])
            element, outage, kind = _binding(ctx, year, index)
            hour = _hour_text(year, index)
        out.append(
            EnabledHeadroom(
                limit_percent=limit,
                size_mw=size,
                bounded=bounded,
                binding_hour=hour,
                binding_element=element,
                binding_outage=outage,
                binding_kind=kind,
            )
        )
    return out


def screening_info(year: Year, ctx: AnnualContext) -> ScreeningInfo:
    """How much of the N-1 and of the headroom was screened, estimated or searched exactly."""
    hours = year.hours
    n_hours = hours.stop - hours.start
    return ScreeningInfo(
        outages=len(ctx.contingencies),
        pairs_screened=len(ctx.contingencies) * int(hours.base_converged.sum()) if ctx.n1 else 0,
        pairs_flagged=int(hours.pairs_flagged.sum()),
        exact_hours=int(hours.headroom_exact.sum()),
        estimated_hours=int(n_hours - hours.headroom_exact.sum() - (~hours.base_converged).sum()),
        search_cap_mw=ctx.cap_mw,
        resolution_mw=ctx.options.headroom_resolution_mw,
        margin_percent=ctx.options.screening_margin_percent,
        margin_pu=ctx.options.screening_margin_pu,
    )


def profile_info(year: Year, profile: LoadProfile, ctx: AnnualContext, *, proxy: bool) -> ProfileInfo:
    """What the hourly load was."""
    load = year.hours.load_mw
    return ProfileInfo(
        name=profile.name,
        source=profile.source,
        columns=profile.columns_kind.value,
        unit=profile.unit.value,
        hours=len(load),
        first_hour=_hour_text(year, 0),
        proxy=proxy,
        reactive_load=ctx.options.reactive_load.value,
        peak_load_mw=float(load.max()),
        min_load_mw=float(load.min()),
    )


def unsettled_findings(year: Year, ctx: AnnualContext) -> list[Finding]:
    """Solved hours whose reactive-limit loop cycled: their answer stands on an unsettled regulator
    state (the snapshot study warns the same way for a stage)."""
    hours = year.hours
    counts = [("without the campus", int(hours.base_unsettled.sum()))]
    counts += [(stage_title(stage.label, stage.p_mw), int(hours.stage_unsettled[s].sum())) for s, stage in enumerate(ctx.stages)]
    listed = [(name, count) for name, count in counts if count]
    if not listed:
        return []
    text = "; ".join(f"{name}: {count:,} of {hours.load_mw.size:,}" for name, count in listed)
    return [
        Finding(
            severity=Severity.WARNING,
            category=FindingCategory.REACTIVE,
            what="hours whose set of generators at a reactive limit did not settle (the switching cycled or ran out of "
            f"passes), so voltages near those generators are uncertain in them ({text}); the dataset marks them "
            "(hour_q_unsettled, hour_stage_q_unsettled)",
            value=float(max(count for _, count in listed)),
            unit="h",
        )
    ]


def annual_findings(
    year: Year,
    ctx: AnnualContext,
    *,
    stages: list[CurtailmentResult],
    firm: FirmSize,
    enabled: list[EnabledHeadroom],
    proxy: bool,
) -> list[Finding]:
    """Plain-language findings of the year."""
    found = []
    if proxy:
        found.append(
            Finding(
                severity=Severity.WARNING,
                category=FindingCategory.ANNUAL,
                what="the hourly load is another grid's shape (a proxy named in annual.profile.proxy), not this grid's own: "
                "the hours and the curtailment are indicative only",
            )
        )
    unsolved = int((~year.hours.base_converged).sum())
    if unsolved:
        found.append(
            Finding(
                severity=Severity.WARNING,
                category=FindingCategory.ANNUAL,
                what=f"{unsolved:,} hours have no AC solution even without the campus; they count as fully curtailed",
                value=float(unsolved),
                unit="h",
            )
        )
    found.extend(unsettled_findings(year, ctx))
    where = (
        f" ({firm.binding_kind} on {firm.binding_element}"
        + (f" after the outage of {firm.binding_outage}" if firm.binding_outage else "")
        + ")"
        if firm.binding_element
        else ""
    )
    found.append(
        Finding(
            severity=Severity.INFO,
            category=FindingCategory.ANNUAL,
            what=f"firm size (no curtailment in any hour, N-0 and N-1 secure): {mw_text(firm.size_mw)}, "
            f"set at {firm.hour}{where}",
            value=firm.size_mw,
            unit="MW",
        )
    )
    for stage, result in zip(ctx.stages, stages, strict=True):
        severity = Severity.VIOLATION if result.hours else Severity.INFO
        found.append(
            Finding(
                severity=severity,
                category=FindingCategory.ANNUAL,
                stage=stage.label,
                what=f"{stage_title(stage.label, stage.p_mw)} as a flexible load: curtailed {result.hours:,} hours, "
                f"{result.energy_mwh:,.0f} MWh ({result.share_percent:.2f} % of its energy) in {result.events:,} events, "
                f"the longest {result.longest_event_h} h{_when(result)}",
                value=result.share_percent,
                unit="%",
            )
        )
    text = "; ".join(f"{e.limit_percent:g} %: {'at least ' if not e.bounded else ''}{mw_text(e.size_mw)}" for e in enabled)
    found.append(
        Finding(
            severity=Severity.INFO,
            category=FindingCategory.ANNUAL,
            what=f"curtailment-enabled headroom at the POI (largest flat size curtailed within a share of its energy): {text}",
        )
    )
    return found
