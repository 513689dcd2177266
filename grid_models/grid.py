"""A grid model ready for studies: the pandapower net plus where it came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandapower as pp
import pandas as pd

__all__ = ["TRAFO3W_COLUMN", "Grid", "rating_set_column", "star_bus_ids", "trafo3w_of"]

# Column of a net's line and trafo tables naming the three-winding transformer (0-based) a branch
# is a leg of (-1, or no column: none). Uploads turn each three-winding transformer into three
# two-winding ones around a star bus; the engine outages the legs together, as one contingency.
TRAFO3W_COLUMN = "trafo3w"


def trafo3w_of(table: pd.DataFrame) -> pd.Series:
    """Per row of a line or trafo table: the three-winding transformer it is a leg of (-1: none)."""
    if TRAFO3W_COLUMN not in table.columns:
        return pd.Series(-1, index=table.index, dtype="int64")
    return table[TRAFO3W_COLUMN].fillna(-1).astype("int64")


def star_bus_ids(net: pp.pandapowerNet) -> set[int]:
    """The star buses of a net's three-winding transformers (see :data:`TRAFO3W_COLUMN`): the bus
    every leg of one transformer shares. Nodes of the transformer's model, not of the grid."""
    ends = []
    for table, columns in ((net.line, ("from_bus", "to_bus")), (net.trafo, ("hv_bus", "lv_bus"))):
        group = trafo3w_of(table)
        legs = group >= 0
        ends += [pd.DataFrame({"group": group[legs].to_numpy(), "bus": table.loc[legs, column].to_numpy()}) for column in columns]
    pairs = pd.concat(ends)
    if pairs.empty:
        return set()
    legs_per_group = pairs.groupby("group").size() // 2
    touches = pairs.groupby(["group", "bus"]).size().reset_index(name="touches")
    shared = touches[(touches.touches == touches.group.map(legs_per_group)) & (touches.group.map(legs_per_group) > 1)]
    return {int(bus) for bus in shared.bus}


def rating_set_column(number: int) -> str:
    """Column of a net's line and trafo tables with rating set ``number`` (1-based, MVA, NaN: none):
    RATE_A-C of a MATPOWER case, RATE1-RATE12 of a RAW v34/v35 file."""
    return f"rating_set_{number}_mva"


@dataclass
class Grid:
    """A pandapower net with its identity.

    Attributes:
        net: the pandapower net (never mutated by the engine; studies work on copies).
        grid_id: catalog id (``activsg2000``) or upload id.
        title: human-readable name.
        checksum: SHA-256 of the source file (or of the net's JSON for nets built in Python).
        source: where the data came from (file name, upload, python).
        notes: what the conversion changed or dropped.
    """

    net: pp.pandapowerNet
    grid_id: str
    title: str
    checksum: str
    source: str
    notes: list[str] = field(default_factory=list)

    @property
    def has_case_solution(self) -> bool:
        """Whether the bus table carries a solved voltage from the source file."""
        return "vm_case_pu" in self.net.bus.columns and bool(self.net.bus["vm_case_pu"].notna().all())

    @classmethod
    def from_net(cls, net: pp.pandapowerNet, *, grid_id: str = "custom", title: str = "") -> Grid:
        """Wrap a pandapower net built in Python; its checksum is the SHA-256 of its JSON."""
        checksum = hashlib.sha256(pp.to_json(net).encode()).hexdigest()
        return cls(net=net, grid_id=grid_id, title=title or net.name or grid_id, checksum=checksum, source="python")
