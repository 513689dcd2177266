"""The gridimpact command line, run as a separate process like a user would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

ROOT = Path(__file__).parents[2]


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IMPACT_CACHE_DIR": str(cache), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "impact_service.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        check=False,
    )


def test_run_example_writes_json_and_netcdf(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _cli("run", "examples/illinois_gpus.json", "--out", str(out), cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert "CLINTON 1 0" in done.stdout
    assert "Findings" in done.stdout
    assert re.search(r"\((one process|\d+ local processes, \d+ parts)\)", done.stdout), "how the outages were solved"
    result = json.loads((out / "result.json").read_text())
    assert [s["label"] for s in result["stages"]] == ["20k H100", "50k B200", "100k GB200"]
    assert result["stages"][0]["facility_p_mw"] == 20000 * 1.275 * 1.05 * 1.2 / 1000
    with xr.open_dataset(out / "result.nc") as data:
        assert data.sizes["stage"] == 4
        assert data.sizes["bus"] == 200
    assert list((tmp_path / "cache").glob("activsg200-*.npz")), "the parsed grid is cached"
    assert 'id="findings-summary"' in (out / "report.html").read_text()
    assert (out / "result.xlsx").read_bytes()[:2] == b"PK"  # the tables, beside result.json
    assert (out / "result.csv.zip").exists()


def test_buses_and_grids(tmp_path: Path) -> None:
    done = _cli("buses", "activsg2000", "--name", "ABILENE", "--min-kv", "200", cache=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ABILENE 1 0" in done.stdout
    assert "ABILENE 2 0" in done.stdout
    assert "ABILENE 1 1" not in done.stdout
    listing = _cli("grids", cache=tmp_path)
    assert "activsg70k" in listing.stdout
    assert "Birchfield" in listing.stdout


def test_bad_spec_and_bad_grid_file_give_messages_not_tracebacks(tmp_path: Path) -> None:
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps({"grid": {"catalog": "activsg200"}, "site": {"bus": 1}, "stages": [{"mw": -5}]}))
    done = _cli("run", str(spec), cache=tmp_path)
    assert done.returncode == 2
    assert "stages.0.mw" in done.stderr
    assert "Traceback" not in done.stderr
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"grid": {"catalog": "activsg200"}, "site": {"bus_name": "ATLANTIS"}, "stages": [{"mw": 5}]}))
    done = _cli("run", str(unknown), cache=tmp_path)
    assert done.returncode == 1
    assert "bus_not_found" in done.stderr
    assert "Traceback" not in done.stderr
    done = _cli("run", str(tmp_path / "missing.json"), cache=tmp_path)
    assert done.returncode == 2
    assert "cannot read the study spec" in done.stderr
    assert "Traceback" not in done.stderr
    grid_file = tmp_path / "grid.m"
    grid_file.write_text("mpc.bus = [1 2 3];")
    done = _cli("validate", str(grid_file), cache=tmp_path)
    assert done.returncode == 1
    assert '"issues"' in done.stdout


@pytest.mark.parametrize(
    "step",
    [
        "preparing the grid model",  # phase 1, the plan
        "1 of 4 parts solved",  # phase 2, while forked processes solve parts
        "hosting capacity",  # phase 3, the completion
    ],
)
def test_ctrl_c_in_any_phase_stops_the_run_and_leaves_no_process(tmp_path: Path, step: str) -> None:
    """The run prints one line per step on stderr when it is not in a terminal; on the line that
    starts ``step`` the test freezes the run's process group, sends Ctrl-C (SIGINT to the group, as
    a terminal does) and lets it go on: wherever the signal lands, the run ends with 130."""
    env = {**os.environ, "IMPACT_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "impact_service.cli", "run", "examples/abilene_stargate.json", "--processes", "2"]
    run = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    assert run.stderr is not None
    seen = []
    for line in run.stderr:
        seen.append(line)
        if step in line:
            os.killpg(run.pid, signal.SIGSTOP)
            break
    assert any(step in line for line in seen), "".join(seen)
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    os.killpg(run.pid, signal.SIGCONT)
    rest = run.stderr.read()
    run.wait(timeout=120)
    assert run.returncode == 130, rest
    assert "interrupted" in rest
    assert "Traceback" not in rest
    with pytest.raises(ProcessLookupError):  # no process of the run is left
        os.killpg(run.pid, 0)


def _keys(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IMPACT_DATA_DIR": str(data), "COLUMNS": "200"}
    env.pop("IMPACT_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "impact_service.cli", "keys", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


def test_keys_say_which_database_refuse_a_missing_one_list_and_revoke(tmp_path: Path) -> None:
    """`keys` silently wrote to ~/.local/share/gridimpact and printed a key the user's stack rejected."""
    data = tmp_path / "stack"
    missing = _keys("--tenant", "acme", data=data)
    assert missing.returncode != 0
    assert "no database at" in missing.stderr
    assert "--create-database" in missing.stderr
    assert not (data / "gridimpact.db").exists()
    made = _keys("--tenant", "acme", "--create-database", data=data)
    assert made.returncode == 0, made.stderr
    assert f"database: sqlite+pysqlite:///{data / 'gridimpact.db'}" in made.stderr
    key = made.stdout.strip()
    assert key.startswith("gi_")
    second = _keys("create", "--tenant", "beta", "--label", "ci", data=data)
    assert second.returncode == 0, second.stderr
    listed = _keys("list", data=data)
    assert listed.returncode == 0, listed.stderr
    assert "acme" in listed.stdout
    assert "beta" in listed.stdout
    assert key not in listed.stdout  # only prefixes are shown
    revoked = _keys("revoke", key[:10], data=data)
    assert revoked.returncode == 0, revoked.stderr
    assert "at most 30 s more" in revoked.stdout
    assert _keys("revoke", key[:10], data=data).returncode != 0  # already revoked
    assert "acme" in _keys("list", "--tenant", "acme", data=data).stdout
