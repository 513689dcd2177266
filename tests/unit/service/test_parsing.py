"""The upload-parse pool: a bad file comes back as a 422 with its problems, and the API's shutdown
leaves no parse process behind (a left-over spawned child outlived the API before)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from impact_service import parsing
from impact_service.errors import UnprocessableEntity


def _spawned() -> list[multiprocessing.process.BaseProcess]:
    return [child for child in multiprocessing.active_children() if type(child).__name__.startswith("Spawn")]


def test_a_bad_profile_is_a_422_and_shutdown_stops_the_children(tmp_path: Path) -> None:
    csv = tmp_path / "profile.csv"
    csv.write_text("hour,system\n0,abc\n")
    with pytest.raises(UnprocessableEntity) as refused:
        parsing.in_child(parsing.check_profile, str(csv), "profile.csv", 10_000, code="invalid_profile")
    assert refused.value.details  # every problem listed
    assert _spawned()  # the pool is alive between uploads
    parsing.shutdown()
    assert not _spawned()
