"""Three-winding transformers of a pandapower net as three two-winding ones around a star bus.

The engine's solvers work on lines and two-winding transformers. pandapower itself solves a
``trafo3w`` as three two-winding transformers around an auxiliary bus (``build_branch``): the
star-equivalent short-circuit voltages from the winding pairs' ones, the tap changer on the leg of
its side (or at the star point), the no-load losses on the leg of ``loss_side`` (pandapower's
default ``trafo3w_losses``, "hv", where the column is missing). This module asks pandapower for
exactly those parameters (``_trafo_df_from_trafo3w``, the function ``runpp`` uses) and writes them
as ``trafo`` rows, so the converted net solves to the same voltages as pandapower's own model of
the original (checked in the tests against ``runpp`` on the unconverted net). The legs carry the
transformer's index in :data:`grid_models.grid.TRAFO3W_COLUMN`: an outage takes all of them.

The star bus has the high-voltage bus's nominal voltage (as pandapower's auxiliary bus), its zone
and its service state; it is named ``STAR <index> (<transformer name>)``.
"""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pandas as pd
from pandapower.build_branch import _trafo_df_from_trafo3w

from grid_models.catalog.validation import TRAFO3W_SIDES, validate_trafo3w
from grid_models.errors import GridValidationError, ValidationIssue
from grid_models.grid import TRAFO3W_COLUMN

__all__ = ["trafo3w_to_star"]


def _star_buses(net: pp.pandapowerNet) -> pd.Index:
    t3 = net.trafo3w
    hv = net.bus.loc[t3.hv_bus]
    first = int(net.bus.index.max()) + 1
    names = [
        f"STAR {index} ({name})" if isinstance(name, str) and name else f"STAR {index}"
        for index, name in zip(t3.index, t3.name, strict=True)
    ]
    index = pp.create_buses(
        net,
        len(t3),
        vn_kv=hv.vn_kv.to_numpy(dtype=np.float64),
        name=names,
        zone=hv.zone.to_numpy() if "zone" in hv.columns else None,
        in_service=t3.in_service.to_numpy(dtype=bool) & hv.in_service.to_numpy(dtype=bool),
        index=np.arange(first, first + len(t3)),
    )
    return pd.Index(np.asarray(index, dtype=np.int64))


def _legs(net: pp.pandapowerNet, stars: pd.Index) -> pd.DataFrame:
    """The three legs of every transformer (all hv legs, then mv, then lv), as ``trafo`` rows."""
    net["_options"] = {"mode": "pf", "trafo3w_losses": "hv"}  # runpp's defaults
    net["_pd2ppc_lookups"] = {"aux": {"trafo3w": stars.to_numpy()}}
    try:
        values = _trafo_df_from_trafo3w(net)
    except UserWarning as exc:  # pandapower's refusal (a leg of zero impedance)
        raise GridValidationError([ValidationIssue(element="trafo3w", field="vk_percent", message=str(exc))]) from None
    finally:
        net["_options"], net["_pd2ppc_lookups"] = {}, {}
    legs = pd.DataFrame({key: value for key, value in values.items() if key in net.trafo.columns})
    t3 = net.trafo3w
    legs["name"] = [
        f"{name if isinstance(name, str) and name else f'trafo3w {index}'} ({side})"
        for side in TRAFO3W_SIDES
        for index, name in zip(t3.index, t3.name, strict=True)
    ]
    legs["std_type"] = None
    legs[TRAFO3W_COLUMN] = np.tile(t3.index.to_numpy(dtype=np.int64), len(TRAFO3W_SIDES))
    return legs


def trafo3w_to_star(net: pp.pandapowerNet) -> tuple[pp.pandapowerNet, str | None]:
    """A copy of ``net`` whose three-winding transformers are three two-winding ones each (see
    the module doc), and a note saying so (None when the net has none).

    Raises:
        GridValidationError: :func:`grid_models.catalog.validation.validate_trafo3w` found problems.
    """
    if "trafo3w" not in net or len(net.trafo3w) == 0:
        return net, None
    issues = validate_trafo3w(net)
    if issues:
        raise GridValidationError(issues, f"the trafo3w table has {len(issues)} problem(s)")
    work = copy.deepcopy(net)
    stars = _star_buses(work)
    legs = _legs(work, stars)
    first = int(work.trafo.index.max()) + 1 if len(work.trafo) else 0
    legs.index = pd.RangeIndex(first, first + len(legs))
    trafo = work.trafo.copy()
    trafo[TRAFO3W_COLUMN] = -1
    work.trafo = pd.concat([trafo, legs])
    work.trafo3w = work.trafo3w.iloc[0:0]
    note = (
        f"{len(stars)} three-winding transformer(s) became three two-winding transformers each around star buses "
        f"{stars.min()}-{stars.max()} (pandapower's own model of them); an outage of one takes its three legs"
    )
    return work, note
