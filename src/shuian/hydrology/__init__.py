"""Reservoir hydrology: how much water is held, what flows in, how high a flood will rise.

Pure domain modules (numbers in, numbers out; no I/O):

- :mod:`shuian.hydrology.storage`: the stage-storage-area curve (:class:`StageStorage`),
  monotone interpolation both ways (level -> storage and storage -> level).
- :mod:`shuian.hydrology.outlets`: discharge capacity of spillway bays (free and gated),
  orifices and bottom outlets, rating tables, turbines and intakes; :func:`total_capacity`.
- :mod:`shuian.hydrology.routing`: level-pool flood routing by the Modified Puls
  (storage-indication) method, the operating rule of a flood-control reservoir, pre-release.
- :mod:`shuian.hydrology.design_flood`: a design flood hydrograph from its peak and volume.
- :mod:`shuian.hydrology.balance`: inflow from the water balance :math:`I = O + dS/dt`, and
  volumes per day, month or year.

Units are SI (m, m³, m³/s, s) unless a function says otherwise; the routing scheme itself is
unit-agnostic (see :mod:`shuian.hydrology.routing` for the US-customary helpers).
"""
