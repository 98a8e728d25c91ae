"""Seepage weirs: discharge from the head over a sharp-crested notch.

Seepage collected in a dam's drainage gallery is measured by a thin-plate weir and a head gauge.
The site file says which formula and constants each weir uses. Heads below the crest (negative,
from a gauge zero slightly above the crest or from noise at no flow) give zero discharge; NaN
heads stay NaN. The formulas are valid only for free (unsubmerged), fully contracted flow within
the range of heads their sources give; that range is not checked here.

Units differ by formula because each is written in the units of its source; every function
says its units in its name and docstring.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Standard gravity, m/s2.
STANDARD_GRAVITY = 9.80665
#: Metres per international foot.
METRES_PER_FOOT = 0.3048
#: Kindsvater-Shen effective discharge coefficient of a fully contracted 90 degree V-notch.
KS_CE_90 = 0.578
#: Kindsvater-Shen head correction of a 90 degree V-notch, m (0.0029 ft).
KS_KH_90_M = 0.0029 * METRES_PER_FOOT


def _non_negative(head: ArrayLike) -> NDArray[np.float64]:
    """Return the head as float64 with negative values set to 0 (NaN kept)."""
    h = np.asarray(head, dtype=np.float64)
    return np.maximum(h, 0.0)


def v_notch_thomson(head_m: ArrayLike) -> NDArray[np.float64]:
    """Discharge over a 90 degree V-notch weir by Thomson's formula.

    Parameters
    ----------
    head_m : array_like
        Head over the notch vertex, m.

    Returns
    -------
    numpy.ndarray
        Discharge, m3/s.

    Notes
    -----
    .. math:: Q = 1.4 H^{5/2}

    Source: Thomson's triangular-notch formula (J. Thomson, British Association report, 1858,
    1861), in the SI form used for 90 degree seepage weirs in Chinese dam monitoring practice;
    the coefficient corresponds to a discharge coefficient of about 0.59 in
    ``Q = (8/15) Cd sqrt(2g) tan(45 deg) H^(5/2)``.
    """
    h = _non_negative(head_m)
    result = 1.4 * h**2.5
    return np.asarray(result, dtype=np.float64)


def v_notch_chinese(head_cm: ArrayLike) -> NDArray[np.float64]:
    r"""Discharge over a 90 degree V-notch weir, stepped-coefficient form of Chinese practice.

    Parameters
    ----------
    head_cm : array_like
        Head over the notch vertex, cm.

    Returns
    -------
    numpy.ndarray
        Discharge, L/s.

    Notes
    -----
    .. math:: Q = \left(0.0142 - \left\lfloor \frac{H}{5} \right\rfloor 0.0001\right) H^{5/2}

    The coefficient falls by 0.0001 for every full 5 cm of head (0.0142 below 5 cm, 0.0141 from
    5 to 10 cm, ...). With ``H`` in cm and ``Q`` in L/s, Thomson's 1.4 (SI) becomes 0.0140, so
    the two forms agree within about 2 % over the usual 2-30 cm range. Source: the V-notch
    formula of Chinese dam seepage monitoring practice (SL 601 / DL/T 5178 usage).
    """
    h = _non_negative(head_cm)
    coefficient = 0.0142 - np.floor(h / 5.0) * 0.0001
    result = coefficient * h**2.5
    return np.asarray(result, dtype=np.float64)


def v_notch_kindsvater_shen(
    head_m: ArrayLike,
    *,
    angle_deg: float = 90.0,
    ce: float | None = None,
    kh_m: float | None = None,
) -> NDArray[np.float64]:
    r"""Discharge over a fully contracted V-notch weir of any angle (Kindsvater-Shen).

    Parameters
    ----------
    head_m : array_like
        Measured head ``h1`` over the notch vertex, m.
    angle_deg : float, default 90.0
        Notch angle ``theta``, degrees (the relation holds for 25 to 100 degrees).
    ce : float, optional
        Effective discharge coefficient ``Ce``. Defaults to 0.578 for a 90 degree notch; for
        any other angle read it from USBR WMM figure 7-6b (or ISO 1438) and pass it.
    kh_m : float, optional
        Head correction ``kh``, m. Defaults to 0.0029 ft = 0.000884 m for a 90 degree notch;
        for any other angle read it from USBR WMM figure 7-6a and pass it.

    Returns
    -------
    numpy.ndarray
        Discharge, m3/s.

    Raises
    ------
    ValueError
        If ``angle_deg`` is not 90 and ``ce`` or ``kh_m`` is not given.

    Notes
    -----
    .. math:: Q = C_e \frac{8}{15} \sqrt{2g}\, \tan\frac{\theta}{2}\, (h_1 + k_h)^{5/2}

    The USBR *Water Measurement Manual* (3rd ed., chapter 7, equation 7-3) writes it in US
    units as ``Q = 4.28 Ce tan(theta/2) (h1 + kh)^(5/2)`` (ft, ft3/s); ``4.28`` is
    ``(8/15) sqrt(2g)`` with g = 32.17 ft/s2. Here the same relation is evaluated in SI with
    g = 9.80665 m/s2 (``(8/15) sqrt(2g) = 2.362`` m^0.5/s). ISO 1438 gives the same relation
    with ``kh = 0.85 mm`` for 90 degrees; the difference is immaterial at gauging heads.
    """
    if angle_deg != 90.0 and (ce is None or kh_m is None):
        raise ValueError(
            f"Kindsvater-Shen V-notch of {angle_deg} degrees: ce and kh_m have defaults only "
            "for 90 degrees; read Ce and kh for this angle from USBR Water Measurement Manual "
            "figure 7-6 (or ISO 1438) and pass ce= and kh_m="
        )
    ce_ = KS_CE_90 if ce is None else ce
    kh = KS_KH_90_M if kh_m is None else kh_m
    h = np.asarray(head_m, dtype=np.float64)
    effective = np.where(h > 0.0, h + kh, np.where(np.isnan(h), np.nan, 0.0))
    factor = ce_ * (8.0 / 15.0) * math.sqrt(2.0 * STANDARD_GRAVITY)
    result = factor * math.tan(math.radians(angle_deg) / 2.0) * effective**2.5
    return np.asarray(result, dtype=np.float64)


def rectangular(head_cm: ArrayLike, width_cm: ArrayLike) -> NDArray[np.float64]:
    r"""Discharge over a rectangular sharp-crested weir (cm and L/s form of Chinese practice).

    Parameters
    ----------
    head_cm : array_like
        Head over the crest ``H``, cm.
    width_cm : array_like
        Crest width ``b``, cm.

    Returns
    -------
    numpy.ndarray
        Discharge, L/s.

    Notes
    -----
    .. math:: Q = 0.0186\, b\, H^{3/2}

    Units check against Francis's formula ``Q = 1.84 b H^(3/2)`` (SI: m, m3/s, no end
    contractions): with ``b`` and ``H`` in cm and ``Q`` in L/s the constant 1.84 becomes
    ``1.84 * 0.01 * 0.01**1.5 * 1000 = 0.0184``; 0.0186 corresponds to an SI coefficient of
    1.86, within 1.1 % of Francis. Source: the rectangular seepage-weir formula of Chinese
    dam monitoring practice (SL 601 / DL/T 5178 usage).
    """
    h = _non_negative(head_cm)
    b = np.asarray(width_cm, dtype=np.float64)
    result = 0.0186 * b * h**1.5
    return np.asarray(result, dtype=np.float64)


def cipolletti(head_m: ArrayLike, crest_length_m: ArrayLike) -> NDArray[np.float64]:
    r"""Discharge over a Cipolletti (trapezoidal, side slopes 1H:4V) weir.

    Parameters
    ----------
    head_m : array_like
        Head over the crest ``h``, m.
    crest_length_m : array_like
        Crest (bottom) length ``L``, m.

    Returns
    -------
    numpy.ndarray
        Discharge, m3/s.

    Notes
    -----
    .. math:: Q = 1.859\, L\, h^{3/2}

    Source: USBR *Water Measurement Manual* (3rd ed.), chapter 7, section 12, Cipolletti weir
    ``Q = 3.367 L h^(3/2)`` in ft and ft3/s; in SI the constant is
    ``3.367 * 0.3048**0.5 = 1.859``.
    """
    h = _non_negative(head_m)
    length = np.asarray(crest_length_m, dtype=np.float64)
    result = 1.859 * length * h**1.5
    return np.asarray(result, dtype=np.float64)
