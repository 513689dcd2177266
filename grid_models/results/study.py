"""The study result: typed, JSON-serialisable, unit-suffixed; array data as an xarray Dataset."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from grid_models.facility import GpuModel
from grid_models.results.analyses import ContingencyAnalysisResult, HostingCapacityResult, LoadLossResult
from grid_models.results.annual import AnnualResult
from grid_models.results.environment import EnvironmentalResult
from grid_models.results.kinds import FindingCategory, Severity, ViolationStatus
from grid_models.spec.study import StudySpec

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "RESULT_SCHEMA_VERSION",
    "BranchChange",
    "BranchViolation",
    "BusViolation",
    "ExecutionMode",
    "ExecutionRecord",
    "Finding",
    "FuelDispatch",
    "GridInfo",
    "Monitoring",
    "PoiInfo",
    "Provenance",
    "StageResult",
    "StudyResult",
    "without_timings",
]

RESULT_SCHEMA_VERSION = 1


class Finding(BaseModel):
    """A plain-language statement about the study."""

    severity: Severity
    category: FindingCategory
    stage_index: int | None = Field(None, description="0 = base case, 1.. = growth stages, None = whole study")
    stage: str | None = None
    what: str
    where: str = ""
    element_type: str | None = None
    element_id: int | None = None
    limit: float | None = None
    value: float | None = None
    unit: str | None = None
    rule: str | None = None


class BusViolation(BaseModel):
    """A bus outside its voltage band."""

    bus_id: int
    bus_name: str
    vn_kv: float
    vm_pu: float
    limit_pu: float
    base_vm_pu: float | None
    status: ViolationStatus


class BranchViolation(BaseModel):
    """A line or transformer above its rating."""

    branch: str = Field(description="'line <index>' or 'trafo <index>' in the grid's tables")
    element_type: str
    element_id: int
    name: str
    from_bus: int
    to_bus: int
    vn_kv: float
    loading_percent: float
    limit_percent: float
    rating_mva: float
    flow_mva: float
    base_loading_percent: float | None
    status: ViolationStatus


class BranchChange(BaseModel):
    """A branch whose loading the facility raises the most."""

    branch: str
    element_type: str
    element_id: int
    name: str
    from_bus: int
    to_bus: int
    loading_percent: float
    base_loading_percent: float
    delta_loading_percent: float
    flow_mva: float
    rating_mva: float


class FuelDispatch(BaseModel):
    """Generation added (or removed) by fuel relative to the base case."""

    fuel: str
    delta_p_mw: float
    units_moved: int


class StageResult(BaseModel):
    """Per-stage summary (index 0 is the base case without the facility)."""

    index: int
    label: str
    facility_p_mw: float
    facility_q_mvar: float
    gpus: int | None = None
    gpu_model: GpuModel | None = None
    converged: bool
    initial_voltage: str
    newton_solves: int
    dispatch_iterations: int
    q_limits_settled: bool
    generators_at_q_limit: int
    losses_mw: float | None
    delta_losses_mw: float | None
    delta_generation_mw: float | None
    unserved_mw: float
    dispatch_by_fuel: list[FuelDispatch] = Field(default_factory=list)
    poi_vm_pu: float | None
    poi_delta_va_degree: float | None = Field(None, description="POI angle change vs base, degrees")
    min_vm_pu: float | None
    min_vm_bus: int | None
    max_vm_pu: float | None
    max_vm_bus: int | None
    max_loading_percent: float | None
    max_loading_branch: str | None
    voltage_violations: list[BusViolation] = Field(default_factory=list)
    thermal_violations: list[BranchViolation] = Field(default_factory=list)
    largest_loading_increases: list[BranchChange] = Field(default_factory=list)

    @property
    def new_violations(self) -> int:
        """Violations that are new or worse than in the base case."""
        checks: list[BusViolation | BranchViolation] = [*self.voltage_violations, *self.thermal_violations]
        return sum(1 for v in checks if v.status.attributable)

    @property
    def marginal_violations(self) -> int:
        """Violations the facility pushed just past a limit (below the attribution threshold)."""
        checks: list[BusViolation | BranchViolation] = [*self.voltage_violations, *self.thermal_violations]
        return sum(1 for v in checks if v.status is ViolationStatus.MARGINAL)


class Monitoring(BaseModel):
    """The buses whose voltages the criteria were checked at (the dataset's ``bus_monitored`` lists them)."""

    min_kv: float = Field(description="nominal voltage at and above which buses are checked")
    generator_terminals: bool = Field(description="whether generator terminal buses are checked")
    buses_monitored: int
    buses_in_service: int
    below_min_kv: int = Field(description="in-service buses below min_kv, not checked")
    generator_terminals_excluded: int = Field(description="generator terminal buses at or above min_kv, not checked")

    def text(self) -> str:
        """``voltages checked at 1,551 of 2,000 in-service buses: 100 kV and above; generator terminals excluded``."""
        scope = f"{self.min_kv:g} kV and above" if self.min_kv > 0 else "every voltage level"
        terminals = "generator terminals included" if self.generator_terminals else "generator terminals excluded"
        return f"voltages checked at {self.buses_monitored:,} of {self.buses_in_service:,} in-service buses: {scope}; {terminals}"


class PoiInfo(BaseModel):
    """The point of interconnection."""

    bus_id: int
    bus_name: str
    vn_kv: float
    area: int


class GridInfo(BaseModel):
    """The grid model studied."""

    grid_id: str
    title: str
    source: str
    checksum: str
    buses: int
    lines: int
    transformers: int
    generators: int
    total_load_mw: float
    notes: list[str] = Field(default_factory=list)


class ExecutionMode(StrEnum):
    """Where a study's parts were solved."""

    ONE_PROCESS = "one process"
    LOCAL_PROCESSES = "local processes"  # forked children of one run (``gridimpact run --processes``)
    FLEET = "fleet"  # the worker fleet: parts claimed by any worker, merged by one


class ExecutionRecord(BaseModel):
    """How a study ran: the runner, its parts and workers, and how long each phase took."""

    model_config = ConfigDict(frozen=True)

    mode: ExecutionMode = ExecutionMode.ONE_PROCESS
    processes: int = Field(1, ge=1, description="local processes that solved the parts (1 in a fleet: see workers)")
    parts: int = Field(0, ge=0, description="parts the work was cut into")
    workers: list[str] = Field(default_factory=list, description="fleet: the workers (host:pid) that solved parts")
    plan_fingerprint: str | None = Field(None, description="fleet: the digest every worker's plan matched")
    plan_s: float | None = Field(None, description="phase 1 (base case, stages, study area), seconds; None when not timed here")
    parts_s: float | None = Field(None, description="phase 2 (the parts), seconds; None when not timed here")
    completion_s: float | None = Field(None, description="phase 3 (merge, analyses, findings, result), seconds")

    def summary(self) -> str:
        """How a person reads it: ``one process``, ``2 local processes, 4 parts``, ``fleet, 28 parts on 2 workers``."""
        if self.mode is ExecutionMode.LOCAL_PROCESSES:
            return f"{self.processes} local processes, {self.parts} parts"
        if self.mode is ExecutionMode.FLEET:
            return f"fleet, {self.parts} parts on {len(self.workers)} workers"
        return self.mode.value


class Provenance(BaseModel):
    """What produced this result, so it can be reproduced."""

    input_hash: str
    grid_checksum: str
    gridimpact_version: str
    libraries: dict[str, str]
    python: str
    platform: str
    solver: dict[str, Any]
    started_at: str
    finished_at: str
    duration_s: float
    execution: ExecutionRecord = Field(
        default_factory=ExecutionRecord, description="where it ran: one process, local processes, or the parts on a fleet"
    )


class StudyResult(BaseModel):
    """Everything a study produced; ``dataset`` holds the per-bus and per-branch arrays."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    schema_version: int = RESULT_SCHEMA_VERSION
    study_name: str
    spec: StudySpec
    grid: GridInfo
    poi: PoiInfo
    monitoring: Monitoring | None = Field(None, description="which buses the voltage criteria were checked at")
    base_case: StageResult
    stages: list[StageResult]
    contingency: ContingencyAnalysisResult | None = None
    hosting_capacity: HostingCapacityResult | None = None
    load_loss: LoadLossResult | None = None
    environment: EnvironmentalResult | None = None
    annual: AnnualResult | None = None
    findings: list[Finding]
    assumptions: list[str]
    provenance: Provenance
    _dataset: Any = PrivateAttr(default=None)

    @property
    def dataset(self) -> xr.Dataset:
        """Per-stage arrays (voltages, flows, loadings, dispatch) as an xarray Dataset."""
        if self._dataset is None:
            raise ValueError("this result has no dataset (it was read back from JSON)")
        return cast("xr.Dataset", self._dataset)

    def attach_dataset(self, dataset: xr.Dataset) -> None:
        """Attach the array data (done by the engine)."""
        self._dataset = dataset

    def write(self, out_dir: Path) -> dict[str, Path]:
        """Write ``result.json``, its tables (``result.xlsx``, ``result.csv.zip``) and, when the
        dataset is attached, ``result.nc`` into ``out_dir``."""
        from grid_models.results.tables import result_tables, study_time, tables_csv_zip, tables_xlsx

        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {"json": out_dir / "result.json", "xlsx": out_dir / "result.xlsx", "csv": out_dir / "result.csv.zip"}
        paths["json"].write_text(self.model_dump_json(indent=2), encoding="utf-8")
        tables = result_tables(self)
        paths["xlsx"].write_bytes(tables_xlsx(tables, created=study_time(self)))
        paths["csv"].write_bytes(tables_csv_zip(tables, created=study_time(self)))
        if self._dataset is not None:
            paths["netcdf"] = out_dir / "result.nc"
            self._dataset.to_netcdf(paths["netcdf"])
        return paths


def without_timings(document: object) -> object:
    """A dumped result (or part of one) without its ``duration_s`` fields, to compare two runs of
    the same study: everything else must be equal."""
    if isinstance(document, dict):
        return {key: without_timings(value) for key, value in document.items() if key != "duration_s"}
    if isinstance(document, list):
        return [without_timings(value) for value in document]
    return document
