"""Data checks that flag readings (never delete them).

Each check looks at one channel's series, sorted by time, and says which readings look wrong
and why: outside the physical limits, a spike (Hampel identifier), a change faster than a rate
limit, a stuck sensor, a gap before a reading. Flags are advice to the engineer and to the
model fits (:func:`exclusion_mask`); the readings themselves stay as they are. A ``suspect``
flag is set by an engineer by hand and is never computed here.

The checks are pure and vectorised: numpy arrays in, :class:`Flags` (arrays) out, no I/O.
"""

from shuian.checks.flags import (
    EXCLUDED_FROM_FITS,
    CheckSettings,
    Flag,
    FlagKind,
    Flags,
    check_series,
    check_tail,
    exclusion_mask,
    spike_settled,
)

__all__ = [
    "EXCLUDED_FROM_FITS",
    "CheckSettings",
    "Flag",
    "FlagKind",
    "Flags",
    "check_series",
    "check_tail",
    "exclusion_mask",
    "spike_settled",
]
