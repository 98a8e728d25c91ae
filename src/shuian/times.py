"""Times at the edges: ISO 8601 text in, microseconds since 1970 UTC inside, ISO 8601 UTC out."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from shuian.errors import InvalidRequestError

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_US = dt.timedelta(microseconds=1)


def parse_time(*, name: str, text: str | None, timezone: str) -> int | None:
    """Parse a query parameter's ISO 8601 time to µs since 1970 UTC.

    Parameters
    ----------
    name : str
        The parameter's name, for the error message.
    text : str or None
        The parameter as given; None when absent.
    timezone : str
        IANA zone of a time given without an offset (the site's).

    Returns
    -------
    int or None
        Microseconds since 1970-01-01 UTC; None when ``text`` is None or empty.

    Raises
    ------
    InvalidRequestError
        If ``text`` is not an ISO 8601 date or time; the message names the parameter.
    """
    if text is None or text == "":
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        hint = " (write a '+' in a URL as %2B)" if " " in text else ""
        raise InvalidRequestError(
            f"{name} {text!r} is not an ISO 8601 time such as 2024-07-25T08:00:00+08:00 "
            f"or 2024-07-25 (site time zone {timezone}){hint}"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(timezone))
    return (moment - _EPOCH) // _ONE_US


def iso_utc(*, times_us: NDArray[np.int64]) -> list[str]:
    """Format times as ISO 8601 UTC strings ending in ``Z``, all at one precision.

    Parameters
    ----------
    times_us : NDArray[np.int64]
        Microseconds since 1970-01-01 UTC.

    Returns
    -------
    list of str
        ``2024-07-25T00:00:00Z``; with milliseconds or microseconds only when some time has
        them (the finest needed, for every time).
    """
    unit: Literal["s", "ms", "us"]
    if np.all(times_us % 1_000_000 == 0):
        unit = "s"
    elif np.all(times_us % 1_000 == 0):
        unit = "ms"
    else:
        unit = "us"
    stamps: NDArray[np.datetime64] = times_us.astype("datetime64[us]")
    text: list[str] = np.datetime_as_string(stamps, unit=unit, timezone="UTC").tolist()
    return text


def iso_us(text: str) -> int | None:
    """An ISO 8601 time as µs since 1970 UTC (no offset: UTC); None when it is not one."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // _ONE_US
