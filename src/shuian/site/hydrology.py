"""Hydrology settings in the site file: outlets, the flood operating rule, release channels.

::

    hydrology:
      outflow_channel: OUTFLOW            # measured total release (m³/s)
      releases: {irrigation: IRRIGATION, flood: SPILL}   # release by purpose (m³/s channels)
      outlets:
        - {kind: spillway, name: surface spillway, crest: 1388.0, width: 8.0,
           coefficient: 1.9, count: 2}
        - {kind: orifice, name: bottom outlet, centre: 1300.0, area: 3.0, coefficient: 0.8}
        - {kind: constant, name: irrigation intake, capacity: 20.0, min_level: 1325.0}
        - {kind: rating, name: tunnel, levels: [1330, 1360, 1396], flows: [0, 40, 70]}
      operation:
        safe_discharge: 60.0              # m³/s kept below the trigger level
        trigger_level: 1393.2             # m; default: the design flood level
        base_release: 1.15                # m³/s below the flood-control level
        pre_release: {hours: 6, target_level: 1386.0}
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpillwaySpec(_Strict):
    """Spillway bays: free overflow ``Q = C·B·H^1.5`` per bay (or gated by an opening)."""

    kind: Literal["spillway"]
    name: str = "spillway"
    crest: float = Field(description="crest level, m")
    width: float = Field(gt=0, description="net width of one bay, m")
    coefficient: float = Field(default=1.9, gt=0, description="C, m^0.5/s")
    count: int = Field(default=1, ge=1)
    opening: float | None = Field(default=None, gt=0, description="gate opening, m; none: free")


class OrificeSpec(_Strict):
    """Bottom outlet or conduit: ``Q = C·A·sqrt(2 g h)`` with h above the outlet's centre."""

    kind: Literal["orifice"]
    name: str = "bottom outlet"
    centre: float = Field(description="level of the outlet's centre, m")
    area: float = Field(gt=0, description="m²")
    coefficient: float = Field(default=0.8, gt=0)
    count: int = Field(default=1, ge=1)


class ConstantSpec(_Strict):
    """An intake or turbines passing a fixed capacity above a minimum level."""

    kind: Literal["constant"]
    name: str
    capacity: float = Field(ge=0, description="m³/s")
    min_level: float = Field(description="m; nothing below")


class RatingSpec(_Strict):
    """An outlet described by a rating table (levels m → flows m³/s).

    The levels must increase and the flows must be 0 or more and must not fall as the level
    rises: a level-pool routing needs an outflow that never falls with the storage (see
    :func:`shuian.hydrology.routing.storage_indication`). Each problem is reported at its key
    (``hydrology.outlets[3].flows``) with the entries that break the rule.
    """

    kind: Literal["rating"]
    name: str
    levels: tuple[float, ...] = Field(min_length=2)
    flows: tuple[float, ...] = Field(min_length=2)

    @field_validator("levels")
    @classmethod
    def _levels_increase(cls, levels: tuple[float, ...]) -> tuple[float, ...]:
        for k, (a, b) in enumerate(zip(levels, levels[1:], strict=False)):
            if not b > a:
                raise ValueError(
                    f"levels must increase: levels[{k + 1}] = {b:g} m is not above "
                    f"levels[{k}] = {a:g} m"
                )
        return levels

    @field_validator("flows")
    @classmethod
    def _flows_never_fall(cls, flows: tuple[float, ...]) -> tuple[float, ...]:
        for k, q in enumerate(flows):
            if q < 0:
                raise ValueError(f"flows[{k}] = {q:g} m³/s is negative; a flow is 0 or more")
        for k, (a, b) in enumerate(zip(flows, flows[1:], strict=False)):
            if b < a:
                raise ValueError(
                    f"flows must not fall as the level rises: flows[{k + 1}] = {b:g} m³/s is "
                    f"below flows[{k}] = {a:g} m³/s (an outflow that falls as the water rises "
                    "cannot be routed; check the rating)"
                )
        return flows

    @model_validator(mode="after")
    def _table(self) -> Self:
        if len(self.levels) != len(self.flows):
            raise ValueError(
                f"levels ({len(self.levels)}) and flows ({len(self.flows)}) differ in length"
            )
        return self


OutletSpec = Annotated[
    SpillwaySpec | OrificeSpec | ConstantSpec | RatingSpec, Field(discriminator="kind")
]


class PreRelease(_Strict):
    """Release the safe discharge ahead of a flood, down to a target level, for some hours."""

    hours: float = Field(gt=0)
    target_level: float


class Operation(_Strict):
    """The flood operating rule.

    Below the flood-control level the reservoir releases ``base_release``; between it and the
    trigger level at most ``safe_discharge`` (the downstream channel's safe flow); at or above
    the trigger level every outlet opens to full capacity.
    """

    safe_discharge: float = Field(gt=0, description="m³/s")
    trigger_level: float | None = Field(default=None, description="m; default design flood")
    hold_level: float | None = Field(default=None, description="m; default flood-control")
    base_release: float = Field(default=0.0, ge=0, description="m³/s")
    pre_release: PreRelease | None = None


class HydrologySettings(_Strict):
    """Release channels, outlets and the operating rule of the reservoir."""

    outflow_channel: str | None = None
    inflow_channel: str | None = Field(default=None, description="a measured inflow, if any")
    releases: dict[str, str] = Field(default_factory=dict, description="purpose -> channel")
    outlets: tuple[OutletSpec, ...] = ()
    operation: Operation | None = None

    def channel_codes(self) -> list[str]:
        """Every channel the settings name."""
        codes = [*self.releases.values()]
        codes += [c for c in (self.outflow_channel, self.inflow_channel) if c is not None]
        return codes
