"""N-1 contingency analysis (NERC TPL-001 P1 style): single outages of the study area's lines,
transformers and generators, solved at the base case and at every stage.

The path of an N-1 analysis through this package:

1. :func:`build_contingencies` (``outages``): the outage list of the study area;
2. :func:`run_contingencies` (``outages``): one stage's outages solved in AC, batch first, then the
   reactive-limit passes (``limit_passes``) and one-by-one solves; the result is an
   :class:`OutageTable` (``table``) of voltages and loadings per outage;
3. :func:`evaluate_contingency_tables` (``analysis``): each table checked against the
   post-contingency criteria and attributed to the facility (``violations``), with its findings.
"""

from __future__ import annotations

from grid_models.studies.n1.analysis import ContingencyRun, contingency_findings, evaluate_contingency_tables, first_n1_failure
from grid_models.studies.n1.outages import build_contingencies, run_contingencies
from grid_models.studies.n1.table import Contingency, OutageTable
from grid_models.studies.n1.violations import attributable_mask, evaluate_contingencies

__all__ = [
    "Contingency",
    "ContingencyRun",
    "OutageTable",
    "attributable_mask",
    "build_contingencies",
    "contingency_findings",
    "evaluate_contingencies",
    "evaluate_contingency_tables",
    "first_n1_failure",
    "run_contingencies",
]
