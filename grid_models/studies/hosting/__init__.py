"""Hosting capacity at the point of interconnection: the largest demand before the first N-0
violation, the first N-1 violation and voltage collapse.

- ``search``: the bisection over stage solves, the N-0 and voltage-collapse limits
  (:func:`plan_hosting`) and their findings;
- ``n1``: the N-1-secure limit in parts that merge (:func:`hosting_n1_part`, :func:`hosting_result`),
  so that a fleet can search it in parallel; :func:`run_hosting_capacity` runs it all in one call.
"""

from __future__ import annotations

from grid_models.studies.hosting.n1 import N1Inputs, N1Part, hosting_n1_part, hosting_result, run_hosting_capacity
from grid_models.studies.hosting.search import HostingPlan, hosting_findings, plan_hosting

__all__ = [
    "HostingPlan",
    "N1Inputs",
    "N1Part",
    "hosting_findings",
    "hosting_n1_part",
    "hosting_result",
    "plan_hosting",
    "run_hosting_capacity",
]
