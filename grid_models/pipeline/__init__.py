"""The study pipeline: the phases every runner shares.

A study runs in three phases, each a function with typed inputs and outputs:

1. :func:`plan_study` (``plan``) -> :class:`StudyPlan`: the base case, the stages, the study area,
   the outage list, the N-0 and voltage-collapse hosting capacity. Deterministic, so any process
   can recompute it; :func:`plan_fingerprint` proves two processes got the same plan.
2. :func:`plan_parts` / :func:`solve_part` / :func:`merge_parts` (``parts``) -> :class:`Outages`:
   the work cut into parts that any process holding the plan can solve, then joined.
   :func:`encode_part` / :func:`decode_part` (``part_io``) carry a solved part between processes.
3. :func:`complete_study` (``completion``) -> :class:`~grid_models.results.StudyResult`:
   attribution, hosting capacity, load loss, environment, findings, dataset and provenance.

Progress fractions come from one budget (``progress``). The runners:

- :func:`run_study` (``run``): all three phases on this machine; phase 2 in this process or on
  forked local processes (:func:`solve_parts_locally`, ``local``);
- the worker fleet (``workers``): a worker plans, stores the parts for any worker to solve, and
  the worker that completes the last part merges and completes the study, with the same functions.
"""

from __future__ import annotations

from grid_models.pipeline.completion import complete_study
from grid_models.pipeline.local import LocalRun, available_processes, solve_parts_locally
from grid_models.pipeline.part_io import decode_part, encode_part
from grid_models.pipeline.parts import Outages, Part, PartKind, PartResult, merge_parts, plan_parts, solve_part
from grid_models.pipeline.plan import StudyPlan, plan_fingerprint, plan_study
from grid_models.pipeline.progress import ProgressCallback, parts_fraction
from grid_models.pipeline.run import finish_here, run_study

__all__ = [
    "LocalRun",
    "Outages",
    "Part",
    "PartKind",
    "PartResult",
    "ProgressCallback",
    "StudyPlan",
    "available_processes",
    "complete_study",
    "decode_part",
    "encode_part",
    "finish_here",
    "merge_parts",
    "parts_fraction",
    "plan_fingerprint",
    "plan_parts",
    "plan_study",
    "run_study",
    "solve_part",
    "solve_parts_locally",
]
