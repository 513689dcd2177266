"""A study split into outage slices, solved by separately computed plans (as a worker fleet does)
and merged, gives the result of the undivided study."""

from __future__ import annotations

import copy
import dataclasses
import io
import itertools
import random
from collections.abc import Callable

import numpy as np
import pytest

from grid_models.errors import InternalError, PlanMismatchError, StudyCanceled, StudySpecError
from grid_models.grid import Grid
from grid_models.pipeline import (
    Part,
    complete_study,
    decode_part,
    encode_part,
    merge_parts,
    plan_fingerprint,
    plan_parts,
    plan_study,
    run_study,
    solve_part,
)
from grid_models.results import ExecutionMode, ExecutionRecord, StudyResult, without_timings
from grid_models.spec import StudySpec

from .conftest import SPRINGFIELD, quiet

FLEET = ExecutionRecord(mode=ExecutionMode.FLEET)


@pytest.fixture(scope="module")
def whole(catalog_grid: Callable[[str], Grid]) -> StudyResult:
    return run_study(SPRINGFIELD, catalog_grid("activsg200"))


@pytest.fixture(scope="module")
def fleet(catalog_grid: Callable[[str], Grid]) -> tuple[StudyResult, list[Part]]:
    """Two 'workers', each with its own plan, solve 9-outage slices in a shuffled order and store
    them as bytes; a third process reads them back and completes the study."""
    grid = catalog_grid("activsg200")
    coordinator = plan_study(SPRINGFIELD, grid, progress=quiet)
    fingerprint = plan_fingerprint(coordinator)
    work = plan_parts(coordinator, rows_per_part=9)
    workers = [plan_study(SPRINGFIELD, grid, progress=quiet) for _ in range(2)]
    stored: dict[Part, bytes] = {}
    for number, item in enumerate(random.Random(7).sample(work, len(work))):
        stored[item] = encode_part(item, solve_part(workers[number % 2], item), fingerprint=fingerprint)
    merger = plan_study(SPRINGFIELD, grid, progress=quiet)
    slices = {item: decode_part(data, plan=merger, part=item, fingerprint=fingerprint) for item, data in stored.items()}
    return complete_study(
        merger, merge_parts(merger, slices), execution=FLEET, started_at=merger.started_at, progress=quiet
    ), work


def test_the_plan_is_reproducible_in_another_process(catalog_grid: Callable[[str], Grid]) -> None:
    grid = catalog_grid("activsg200")
    first, second = plan_study(SPRINGFIELD, grid, progress=quiet), plan_study(SPRINGFIELD, grid, progress=quiet)
    assert plan_fingerprint(first) == plan_fingerprint(second)
    other = SPRINGFIELD.model_copy(update={"stages": SPRINGFIELD.stages[:1]})
    assert plan_fingerprint(plan_study(other, grid, progress=quiet)) != plan_fingerprint(first)


def test_the_work_covers_every_outage_of_every_stage_once(fleet: tuple[StudyResult, list[Part]]) -> None:
    result, work = fleet
    assert result.contingency is not None
    stages = {item.stage_index for item in work}
    assert stages == {0, 1, 2}
    count = result.contingency.contingencies
    for stage in stages:
        ranges = sorted((item.start, item.stop) for item in work if item.stage_index == stage)
        assert ranges[0][0] == 0
        assert ranges[-1][1] == count
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert all(item.hosting == (item.stage_index == 0) for item in work)


def test_merged_outages_equal_the_undivided_study(whole: StudyResult, fleet: tuple[StudyResult, list[Part]]) -> None:
    merged = fleet[0]
    for name in ("n1_converged", "n1_worst_loading_percent", "n1_min_vm_pu", "n1_max_vm_pu"):
        np.testing.assert_allclose(merged.dataset[name].values, whole.dataset[name].values, atol=1e-6, equal_nan=True)
    assert whole.contingency is not None
    assert merged.contingency is not None
    assert without_timings(merged.contingency.model_dump()) == without_timings(whole.contingency.model_dump())


def test_merged_hosting_capacity_equals_the_undivided_search(whole: StudyResult, fleet: tuple[StudyResult, list[Part]]) -> None:
    assert whole.hosting_capacity is not None
    merged = fleet[0].hosting_capacity
    assert merged is not None
    n1 = [limit for limit in whole.hosting_capacity.limits if limit.criterion.value == "n1"]
    assert n1, "the case must have an N-1 limit to test the merge"
    assert n1[0].found_limit, "the case must have a binding N-1 limit to test the merge"
    for mine, theirs in zip(merged.limits, whole.hosting_capacity.limits, strict=True):
        assert mine.criterion == theirs.criterion
        assert mine.max_mw == pytest.approx(theirs.max_mw, abs=1e-9)
        assert (mine.binding_element, mine.binding_kind, mine.binding_outage) == (
            theirs.binding_element,
            theirs.binding_kind,
            theirs.binding_outage,
        )


def test_findings_are_the_same(whole: StudyResult, fleet: tuple[StudyResult, list[Part]]) -> None:
    assert [(f.severity, f.category, f.what) for f in fleet[0].findings] == [
        (f.severity, f.category, f.what) for f in whole.findings
    ]


def test_a_missing_slice_is_an_error_not_a_silent_gap(catalog_grid: Callable[[str], Grid]) -> None:
    grid = catalog_grid("activsg200")
    plan = plan_study(SPRINGFIELD, grid, progress=quiet)
    work = plan_parts(plan, rows_per_part=40)
    slices = {item: solve_part(plan, item) for item in work[1:]}
    with pytest.raises(InternalError, match="missing"):
        merge_parts(plan, slices)


def test_slice_bytes_are_checked_against_the_reader_plan(catalog_grid: Callable[[str], Grid]) -> None:
    plan = plan_study(SPRINGFIELD, catalog_grid("activsg200"), progress=quiet)
    fingerprint = plan_fingerprint(plan)
    first, second = plan_parts(plan, rows_per_part=20)[:2]
    data = encode_part(first, solve_part(plan, first), fingerprint=fingerprint)
    assert decode_part(data, plan=plan, part=first, fingerprint=fingerprint).table.vm_pu.shape[0] == 20
    with pytest.raises(PlanMismatchError, match="another plan"):
        decode_part(data, plan=plan, part=first, fingerprint="0" * 64)
    with pytest.raises(PlanMismatchError, match="expected"):
        decode_part(data, plan=plan, part=second, fingerprint=fingerprint)
    with pytest.raises(PlanMismatchError, match="cannot be read"):
        decode_part(data[: len(data) // 2], plan=plan, part=first, fingerprint=fingerprint)


def test_slice_bytes_never_unpickle(catalog_grid: Callable[[str], Grid]) -> None:
    plan = plan_study(SPRINGFIELD, catalog_grid("activsg200"), progress=quiet)
    item = plan_parts(plan, rows_per_part=20)[0]
    buffer = io.BytesIO()
    np.savez(buffer, converged=np.array([object()], dtype=object), meta=np.zeros(1, dtype=np.uint8))
    with pytest.raises(PlanMismatchError, match="cannot be read"):
        decode_part(buffer.getvalue(), plan=plan, part=item, fingerprint=plan_fingerprint(plan))


def test_a_slice_checks_for_cancel_between_solves(catalog_grid: Callable[[str], Grid]) -> None:
    """A cancel is seen within a few solves, also inside the N-1 hosting-capacity search (whose
    slice is the longest), not only between slices."""
    plan = plan_study(SPRINGFIELD, catalog_grid("activsg200"), progress=quiet)
    hosting = next(item for item in plan_parts(plan) if item.hosting)
    calls = 0

    def count() -> None:
        nonlocal calls
        calls += 1

    solve_part(plan, hosting, check=count)
    assert calls >= 5  # one per hosting trial at least

    def stop_at_third() -> None:
        count()
        if calls >= 3:
            raise StudyCanceled("canceled by the user")

    calls = 0
    with pytest.raises(StudyCanceled):
        solve_part(plan, hosting, check=stop_at_third)
    assert calls == 3


def test_a_fleet_that_defers_the_hosting_search_to_the_merge_gives_the_undivided_result(
    catalog_grid: Callable[[str], Grid],
) -> None:
    """Without an N-1 hosting capacity the outage slices do not need the hosting plan: workers skip
    it (``hosting=False``), the merge searches it, and the result is the one-process result."""
    raw = SPRINGFIELD.model_dump(mode="json")
    raw["analyses"]["hosting_capacity"]["n1"] = False
    spec = StudySpec.model_validate(raw)
    grid = catalog_grid("activsg200")
    whole = run_study(spec, grid)
    worker = plan_study(spec, grid, progress=quiet, hosting=False)
    assert worker.hosting is None
    fingerprint = plan_fingerprint(worker)
    assert plan_fingerprint(plan_study(spec, grid, progress=quiet)) == fingerprint
    work = plan_parts(worker, rows_per_part=30)
    stored = {item: encode_part(item, solve_part(worker, item), fingerprint=fingerprint) for item in work}
    merger = plan_study(spec, grid, progress=quiet, hosting=False)
    slices = {item: decode_part(data, plan=merger, part=item, fingerprint=fingerprint) for item, data in stored.items()}
    seen: list[float] = []
    merged = complete_study(
        merger,
        merge_parts(merger, slices),
        execution=FLEET,
        started_at=merger.started_at,
        progress=lambda fraction, _step: seen.append(fraction),
    )
    assert seen == sorted(seen), "progress never goes back"
    assert merged.hosting_capacity is not None
    assert whole.hosting_capacity is not None
    assert without_timings(merged.hosting_capacity.model_dump()) == without_timings(whole.hosting_capacity.model_dump())
    assert merged.contingency is not None
    assert whole.contingency is not None
    assert without_timings(merged.contingency.model_dump()) == without_timings(whole.contingency.model_dump())
    assert [f.what for f in merged.findings] == [f.what for f in whole.findings]


def test_the_hosting_search_is_not_deferred_when_the_slices_need_it(catalog_grid: Callable[[str], Grid]) -> None:
    plan = plan_study(SPRINGFIELD, catalog_grid("activsg200"), progress=quiet, hosting=False)
    assert plan.hosting is not None
    assert plan.hosting_n1


def test_the_criteria_choose_the_rating_sets_the_plan_uses(catalog_grid: Callable[[str], Grid]) -> None:
    catalog = catalog_grid("activsg200")  # RATE_B and RATE_C are empty in the file: give them values
    net = copy.deepcopy(catalog.net)
    for table in (net.line, net.trafo):
        table["rating_set_2_mva"] = table.rating_set_1_mva * 1.1
        table["rating_set_3_mva"] = table.rating_set_1_mva * 1.2
    grid = dataclasses.replace(catalog, net=net)
    spec = SPRINGFIELD.model_copy(
        update={"criteria": SPRINGFIELD.criteria.model_copy(update={"normal_rating_set": 2, "emergency_rating_set": 3})}
    )
    plan = plan_study(spec, grid, progress=quiet)
    rate_a = np.concatenate([net.line.rate_a_mva, net.trafo.rate_a_mva])
    np.testing.assert_allclose(plan.prepared.rate_normal_mva, rate_a * 1.1)
    np.testing.assert_allclose(plan.prepared.rate_emergency_mva, rate_a * 1.2)
    bad = SPRINGFIELD.model_copy(update={"criteria": SPRINGFIELD.criteria.model_copy(update={"emergency_rating_set": 7})})
    with pytest.raises(StudySpecError, match="no rating set 7"):
        plan_study(bad, grid, progress=quiet)
