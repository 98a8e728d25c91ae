"""Statistical models of dam monitoring: pure and vectorised, numbers in and numbers out.

- :mod:`shuian.models.hst` -- the HST model (hydrostatic, seasonal, time; Willm & Beaujoint
  1967), its HTT variant with measured temperatures (Léger & Leclerc 2007) and the Chinese
  practice's lagged means of level, exponential ageing and stepwise selection; the design
  matrix, least squares for many channels at once, the split of a prediction into its
  hydrostatic / seasonal (thermal) / time parts, and the σ envelope.

Nothing here reads files or the database: times are int64 µs since 1970 UTC, values float64.
"""
