"""Clean Air Act applicability screening of the on-site units, stage by stage.

Checks (thresholds and citations from ``data/thresholds.csv``): Title V major source (any
regulated pollutant 100 tpy; one HAP 10 tpy, all HAP 25 tpy), PSD major source (250 tpy, 100 tpy
for the listed categories), the PSD significant emission rates once the source is PSD major, the
lower ozone-precursor thresholds of the site's nonattainment class, and the NSPS KKKK NOx limit of
each turbine's heat-input band (KKKKa for turbines commenced after 13 Dec 2024). Every finding
says it is a screening, not a permit determination.
"""

from __future__ import annotations

from grid_models.emissions.onsite import group_pte
from grid_models.factors import FactorSet, factor
from grid_models.results.environment import (
    DISCLAIMER,
    OnsiteGroupResult,
    OnsiteResult,
    OnsiteStageResult,
    Pollutant,
    ScreeningCheck,
)
from grid_models.results.kinds import FindingCategory, Severity
from grid_models.results.study import Finding
from grid_models.results.text import co2_text
from grid_models.spec.environment import OnsiteGeneration

__all__ = ["onsite_findings", "screen_onsite"]

_CRITERIA = (Pollutant.NOX, Pollutant.CO, Pollutant.VOC, Pollutant.PM10, Pollutant.PM25, Pollutant.SO2)
_PSD = (Pollutant.NOX, Pollutant.CO, Pollutant.VOC, Pollutant.PM, Pollutant.PM10, Pollutant.PM25, Pollutant.SO2)
_SER = {
    Pollutant.NOX: "ser.nox",
    Pollutant.SO2: "ser.so2",
    Pollutant.VOC: "ser.voc",
    Pollutant.CO: "ser.co",
    Pollutant.PM: "ser.pm",
    Pollutant.PM10: "ser.pm10",
    Pollutant.PM25: "ser.pm25",
    Pollutant.CO2E: "ser.co2e",
}
TITLE_V, PSD_MAJOR, PSD_SER, OZONE = (
    "Title V major source",
    "PSD major source",
    "PSD significant emission rate",
    "ozone nonattainment major source",
)


def _check(
    rule: str, citation: str, pollutant: Pollutant, value: float, threshold: float, *, applies: bool = True
) -> ScreeningCheck:
    return ScreeningCheck(
        rule=rule,
        citation=citation,
        pollutant=pollutant,
        value_tpy=value,
        threshold_tpy=threshold,
        triggered=applies and value >= threshold,
    )


def _checks(pte: dict[Pollutant, float], onsite: OnsiteGeneration, factors: FactorSet) -> list[ScreeningCheck]:
    def cite(key: str) -> str:
        return factor("thresholds", key).source

    major = factors.value("thresholds", "title_v.any_regulated")
    checks = [_check(TITLE_V, cite("title_v.any_regulated"), p, pte[p], major) for p in _CRITERIA]
    checks.append(_check(TITLE_V, cite("title_v.hap_single"), Pollutant.FORMALDEHYDE, pte[Pollutant.FORMALDEHYDE],
                         factors.value("thresholds", "title_v.hap_single")))  # fmt: skip
    checks.append(_check(TITLE_V, cite("title_v.hap_total"), Pollutant.HAP_TOTAL, pte[Pollutant.HAP_TOTAL],
                         factors.value("thresholds", "title_v.hap_total")))  # fmt: skip
    psd_key = "psd.major_listed" if onsite.psd_listed_category else "psd.major"
    psd = [_check(PSD_MAJOR, cite(psd_key), p, pte[p], factors.value("thresholds", psd_key)) for p in _PSD]
    is_major = any(c.triggered for c in psd)
    checks.extend(psd)
    checks.extend(
        _check(PSD_SER, cite(key), p, pte[p], factors.value("thresholds", key), applies=is_major) for p, key in _SER.items()
    )
    if onsite.ozone_nonattainment is not None:
        key = f"ozone.{onsite.ozone_nonattainment.value}"
        rule = f"{OZONE} ({onsite.ozone_nonattainment.value})"
        checks.extend(
            _check(rule, cite(key), p, pte[p], factors.value("thresholds", key)) for p in (Pollutant.NOX, Pollutant.VOC)
        )
    return checks


def _notes(onsite: OnsiteGeneration, groups: list[OnsiteGroupResult]) -> list[str]:
    notes = [
        "total HAP counts formaldehyde only: it is the only HAP factor in the tables (AP-42 Table 3.1-3 lists others)",
        "CO2e counts CO2 only: the tables have no CH4 or N2O factor for turbines",
        "PM = PM10 = PM2.5 as in AP-42 section 3.1",
    ]
    startups = sum(u.startups_per_year * u.count for u in onsite.units)
    if startups:
        notes.append(f"{startups:,} startups a year are recorded; startup emissions are not added (no factor in the tables)")
    notes.extend(
        f"{g.label}: commenced after 13 Dec 2024, so NSPS KKKKa applies (91 FR 1910); its NOx limits are not in the tables"
        for g in groups
        if g.nsps_subpart == "KKKKa"
    )
    notes.extend(_temporary_note(g) for u, g in zip(onsite.units, groups, strict=True) if u.temporary)
    return notes


def _temporary_note(group: OnsiteGroupResult) -> str:
    """What declaring units temporary means: KKKKa's temporary subcategory, if they fall in it."""
    if group.nsps_subpart != "KKKKa":
        return (
            f"{group.label}: declared temporary, but the temporary subcategory is KKKKa's (turbines commenced after "
            "13 Dec 2024; give `commenced`): NSPS KKKK is screened as for any unit"
        )
    cap = factor("thresholds", "kkkka.temporary_max_heat_input").value
    months = factor("thresholds", "kkkka.temporary_max_months").value
    each = group.heat_input_mmbtu_per_h_each
    fits = f"within it at {each:,.0f} MMBtu/h each" if each <= cap else f"not in it: {each:,.0f} MMBtu/h each is above"
    return (
        f"{group.label}: declared temporary (used under {months:g} months); KKKKa's temporary subcategory covers turbines "
        f"up to {cap:g} MMBtu/h (91 FR 1910): {fits}; its limits are not in the tables"
    )


def screen_onsite(onsite: OnsiteGeneration, *, stages: list[str]) -> OnsiteResult:
    """Potential to emit of the on-site units running at each stage (cumulative by ``from_stage``),
    against the thresholds. ``stages``: the stage labels, stage 1 first."""
    factors = FactorSet(onsite.factor_overrides)
    start = factor("thresholds", "kkkka.commenced_after").as_date()
    groups = [group_pte(u, factors, commenced_after_kkkka=u.commenced is not None and u.commenced > start) for u in onsite.units]
    results = []
    for index, label in enumerate(stages, start=1):
        running = [g for g in groups if g.from_stage <= index]
        if not running:
            continue
        pte = {p: sum(g.pte_tpy[p] for g in running) for p in Pollutant}
        results.append(
            OnsiteStageResult(
                stage_index=index,
                stage=label,
                units=sum(g.count for g in running),
                total_mw=sum(g.count * g.mw_each for g in running),
                pte_tpy=pte,
                checks=_checks(pte, onsite, factors),
            )
        )
    keys = [f"turbines.{k}" for k in ("ap42.nox_lean_premix", "ap42.co", "ap42.formaldehyde", "ppm.nox_lb_per_dscf_ppm")]
    sources = sorted({factors.cite(*k.split(".", 1)) for k in keys})
    return OnsiteResult(groups=groups, stages=results, notes=_notes(onsite, groups), sources=sources)


def _trigger_findings(result: OnsiteResult) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[str, Pollutant]] = set()
    for stage in result.stages:
        new = [c for c in stage.checks if c.triggered and (c.rule, c.pollutant) not in seen]
        seen.update((c.rule, c.pollutant) for c in new)
        for rule in dict.fromkeys(c.rule for c in new):
            hits = [c for c in new if c.rule == rule]
            worst = max(hits, key=lambda c: c.value_tpy / c.threshold_tpy)
            listed = ", ".join(f"{c.pollutant.value.upper()} {c.value_tpy:,.1f} tpy (>= {c.threshold_tpy:,g})" for c in hits)
            units = f"{stage.stage}, {stage.units} on-site turbines ({stage.total_mw:,.0f} MW)"
            findings.append(
                Finding(
                    severity=Severity.WARNING,
                    category=FindingCategory.AIR_PERMIT,
                    stage_index=stage.stage_index,
                    stage=stage.stage,
                    what=f"{units}: {rule} by potential to emit: {listed} ({DISCLAIMER})",
                    where="on-site generation",
                    limit=worst.threshold_tpy,
                    value=worst.value_tpy,
                    unit="tpy",
                    rule=f"{rule} ({worst.citation})",
                )
            )
    return findings


def _nsps_finding(group: OnsiteGroupResult) -> Finding:
    """A stated NOx above the NSPS limit is a violation; the AP-42 average above it asks for the real number."""
    size = f"a {group.heat_input_mmbtu_per_h_each:,.0f} MMBtu/h turbine"
    limit = f"the NSPS {group.nsps_subpart} limit of {group.nsps_nox_limit_ppm:g} ppm for {size}"
    if group.nox_ppm_given:
        severity, what = Severity.VIOLATION, f"{group.label}: NOx {group.nox_ppm:.1f} ppm at 15 % O2 exceeds {limit}"
    else:
        severity = Severity.WARNING
        what = (
            f"{group.label}: the AP-42 average NOx factor ({group.nox_lb_per_mmbtu:g} lb/MMBtu = {group.nox_ppm:.1f} ppm at "
            f"15 % O2) is above {limit}; give the turbines' guaranteed nox_ppm"
        )
    return Finding(
        severity=severity,
        category=FindingCategory.AIR_PERMIT,
        stage_index=group.from_stage,
        what=f"{what} ({DISCLAIMER})",
        where="on-site generation",
        limit=group.nsps_nox_limit_ppm,
        value=group.nox_ppm,
        unit="ppm",
        rule=f"NSPS subpart {group.nsps_subpart} (40 CFR 60), Table 1",
    )


def onsite_findings(result: OnsiteResult) -> list[Finding]:
    """Thresholds crossed (at the first stage that crosses each), NSPS exceedances and a summary."""
    findings = _trigger_findings(result)
    findings.extend(_nsps_finding(group) for group in result.groups if group.nsps_exceeded)
    if result.stages:
        last = result.stages[-1]
        pte = last.pte_tpy
        amounts = (
            f"NOx {pte[Pollutant.NOX]:,.0f}, CO {pte[Pollutant.CO]:,.0f}, formaldehyde {pte[Pollutant.FORMALDEHYDE]:,.1f} "
            f"short tons/yr and CO2 {co2_text(pte[Pollutant.CO2])}"
        )
        findings.append(
            Finding(
                severity=Severity.INFO,
                category=FindingCategory.AIR_PERMIT,
                stage_index=last.stage_index,
                stage=last.stage,
                what=f"{last.stage}: {last.units} on-site turbines ({last.total_mw:,.0f} MW) could emit {amounts} "
                f"(potential to emit; {DISCLAIMER})",
                where="on-site generation",
            )
        )
    return findings
