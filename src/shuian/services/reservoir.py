"""The reservoir of a site file as hydraulic objects: curve, outlets, fastest level change.

Light to import (no routing, no numba): the analysis of every ingest uses
:func:`level_jump_limit`, the hydrology use cases the rest.
"""

from __future__ import annotations

from shuian.hydrology.outlets import (
    Intake,
    Orifice,
    Outlet,
    RatingTable,
    SpillwayBay,
    total_capacity,
)
from shuian.hydrology.storage import StageStorage, largest_level_rate
from shuian.site import Site
from shuian.site.hydrology import OutletSpec


def outlet_of(spec: OutletSpec) -> Outlet:
    """The hydraulic outlet a site-file outlet describes."""
    if spec.kind == "spillway":
        return SpillwayBay(crest=spec.crest, width=spec.width, coefficient=spec.coefficient,
                           count=spec.count, opening=spec.opening)
    if spec.kind == "orifice":
        return Orifice(centre=spec.centre, area=spec.area, coefficient=spec.coefficient,
                       count=spec.count)
    if spec.kind == "constant":
        return Intake(min_level=spec.min_level, capacity_m3s=spec.capacity)
    return RatingTable(levels=spec.levels, flows=spec.flows, name=spec.name)


def stage_storage(site: Site) -> StageStorage:
    """The site's stage-storage-area curve (m, m³, m²)."""
    rows = site.reservoir.storage_curve
    return StageStorage([r.level for r in rows], [r.storage for r in rows],
                        [r.area for r in rows])


def level_jump_limit(site: Site) -> float | None:
    """The fastest the reservoir level can change (m/h), or None when the site cannot say.

    The check flood's peak inflow (``reservoir.check_flood_peak``) and the outlets' capacity
    at the crest on the water surface at the dead level (:func:`largest_level_rate`); a site
    file without the check flood's peak leaves the rise unbounded, so there is no limit.
    """
    inflow = site.reservoir.check_flood_peak
    if inflow is None:
        return None
    curve = stage_storage(site)
    low, high = curve.level_range
    levels = site.reservoir.levels
    outlets = [outlet_of(spec) for spec in site.hydrology.outlets]
    outflow = float(total_capacity(min(levels.crest, high), outlets)) if outlets else 0.0
    dead = min(max(levels.dead, low), high)
    return largest_level_rate(curve, lowest_level=dead, inflow=inflow, outflow=outflow)
