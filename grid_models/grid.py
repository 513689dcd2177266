"""A grid model ready for studies: the pandapower net plus where it came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandapower as pp

__all__ = ["TRAFO3W_COLUMN", "Grid", "rating_set_column"]

# Column of a net's line and trafo tables naming the three-winding transformer (0-based) a branch
# is a leg of (-1, or no column: none). Uploads turn each three-winding transformer into three
# two-winding ones around a star bus; the engine outages the legs together, as one contingency.
TRAFO3W_COLUMN = "trafo3w"


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
