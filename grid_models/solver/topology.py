"""Which buses an outage cuts off from the slack bus."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from grid_models.solver.network import BoolArray, PreparedNetwork

__all__ = ["IslandFinder"]


class IslandFinder:
    """Connected-component analysis of the in-service branch graph with some branches removed."""

    def __init__(self, prepared: PreparedNetwork) -> None:
        self._prepared = prepared
        self._in_service = prepared.branch_in_service.copy()
        self._energised = prepared.net.bus.in_service.to_numpy(dtype=bool)
        self.islanded = lru_cache(maxsize=4096)(self._islanded)

    def _islanded(self, branch_out: tuple[int, ...]) -> BoolArray:
        """Energised buses outside the largest connected part once ``branch_out`` are switched out.

        The largest part, not the slack bus's: an outage that cuts the slack machine off leaves
        the rest of the grid running on the remaining participants of the distributed slack.
        """
        prep = self._prepared
        keep = self._in_service.copy()
        keep[list(branch_out)] = False
        graph = coo_matrix(
            (np.ones(int(keep.sum())), (prep.branch_from[keep], prep.branch_to[keep])), shape=(prep.n_bus, prep.n_bus)
        )
        _, labels = connected_components(graph, directed=False)
        sizes = np.bincount(labels[self._energised])
        cut_off: BoolArray = np.asarray((labels != int(np.argmax(sizes))) & self._energised, dtype=np.bool_)
        cut_off.setflags(write=False)
        return cut_off
