"""Plumb-line and levelling displacements."""

from __future__ import annotations

import numpy as np
import pytest

from shuian.instruments import levelling, plumb_line


def test_displacement_is_the_change_since_the_initial_reading() -> None:
    # Hand example: radial reading 12.30 mm at the start, 14.05 mm now, scale increasing
    # downstream (sign +1): 1.75 mm downstream.
    assert float(plumb_line.displacement(14.05, 12.30)) == pytest.approx(1.75)


def test_sign_maps_the_scale_onto_the_dam_convention() -> None:
    # Hand example: an inverted pendulum whose scale is fixed to the station; the station
    # moving 1.75 mm downstream makes the (fixed) wire read 1.75 mm lower: sign -1.
    assert float(plumb_line.displacement(10.55, 12.30, sign=-1.0)) == pytest.approx(1.75)


def test_sign_must_be_plus_or_minus_one() -> None:
    with pytest.raises(ValueError, match="sign must be"):
        plumb_line.displacement(1.0, 0.0, sign=2.0)


def test_absolute_displacement_chains_normal_on_inverted() -> None:
    # Hand example: the crest moved 3.20 mm downstream relative to the gallery station
    # (normal pendulum) while the station moved 0.80 mm downstream relative to the rock
    # anchor (inverted pendulum): the crest moved 4.00 mm downstream; tangentially
    # -0.40 mm (toward the right bank) plus 0.15 mm gives -0.25 mm.
    radial = plumb_line.absolute_displacement(3.20, 0.80)
    tangential = plumb_line.absolute_displacement(-0.40, 0.15)
    assert float(radial) == pytest.approx(4.00)
    assert float(tangential) == pytest.approx(-0.25)


def test_settlement_is_positive_downward_in_mm() -> None:
    # Hand example: a benchmark first levelled at 100.0000 m, now 99.9955 m, settled 4.5 mm;
    # one now at 100.0012 m has heaved 1.2 mm (negative settlement).
    s = levelling.settlement_mm(np.array([99.9955, 100.0012]), 100.0)
    np.testing.assert_allclose(s, [4.5, -1.2], atol=1e-9)
