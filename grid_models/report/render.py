"""Render a study result as one self-contained HTML page (Jinja2 with autoescaping; figures as
embedded PNG), readable by a non-engineer: what was studied, the findings, the grid, air and
water, assumptions, provenance and the source of every factor."""

from __future__ import annotations

from collections import Counter
from functools import cache
from importlib import resources

from jinja2 import Environment, Template, select_autoescape

from grid_models.factors import TABLES, table
from grid_models.report.annual_plots import annual_figures
from grid_models.report.plots import figures
from grid_models.results.kinds import Severity
from grid_models.results.study import StudyResult
from grid_models.results.text import stage_title
from grid_models.studies.n1.analysis import first_n1_failure
from grid_models.studies.power_flow_findings import first_failing_stage

__all__ = ["render_report"]

_ORDER = {Severity.CRITICAL: 0, Severity.VIOLATION: 1, Severity.WARNING: 2, Severity.INFO: 3}


@cache
def _template() -> Template:
    environment = Environment(autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True)
    text = resources.files("grid_models.report").joinpath("report.html.j2").read_text(encoding="utf-8")
    return environment.from_string(text)


def _headline(result: StudyResult) -> str:
    first = first_failing_stage(result.stages)
    if first is None:
        return "The grid serves every stage without new N-0 violations." + _n1_headline(result)
    violations = f"causes {first.new_violations} new or worsened N-0 violations"
    reason = "has no power-flow solution" if not first.converged else violations
    return f"The grid first fails at {stage_title(first.label, first.facility_p_mw)}: the stage {reason}." + _n1_headline(result)


def _n1_headline(result: StudyResult) -> str:
    n1 = result.contingency
    if n1 is None:
        return ""
    first = first_n1_failure(n1)
    if first is None:
        return f" Under single outages (N-1) every stage is secure over the {n1.contingencies} study-area outages."
    lost = f", {first.no_solution} leave no solution" if first.no_solution else ""
    return (
        f" Under single outages (N-1) it first fails at {stage_title(first.label, first.facility_p_mw)}: "
        f"{first.with_violations} of {n1.contingencies} outages cause violations attributable to the facility{lost}."
    )


def _counts(result: StudyResult) -> str:
    counts = Counter(f.severity for f in result.findings)
    parts = [f"{counts[s]} {s.value}" for s in _ORDER if counts[s]]
    return f"{len(result.findings)} findings: " + ", ".join(parts) if parts else "no findings"


def _overrides(result: StudyResult) -> dict[str, float]:
    spec = result.spec
    out = dict(spec.analyses.emissions.factor_overrides) if spec.analyses.emissions else {}
    if spec.onsite_generation:
        out.update(spec.onsite_generation.factor_overrides)
    return out


def render_report(result: StudyResult) -> str:
    """The report of ``result`` as an HTML document (a string)."""
    assumptions = list(result.assumptions)
    env = result.environment
    if env and env.grid_supply:
        assumptions += env.grid_supply.assumptions
    context = {
        "result": result,
        "all_stages": [result.base_case, *result.stages],
        "largest_mw": max((s.facility_p_mw for s in result.stages), default=0.0),
        "headline": _headline(result),
        "counts": _counts(result),
        "findings": sorted(result.findings, key=lambda f: _ORDER[f.severity]),
        "figures": figures(result) | annual_figures(result.annual),
        "env": env,
        "assumptions": assumptions,
        "factors": [row for name in TABLES for row in table(name).values()],
        "overrides": _overrides(result),
    }
    return _template().render(**context)
