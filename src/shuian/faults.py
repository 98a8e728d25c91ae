r"""Whose fault a failure is: the input's or the system's. The one place every source asks.

A failure is the **system's** only when the store is away (the database cannot be reached, is
locked or out of space) or the machine is (an operating-system error, memory): the input is
fine, so a source leaves it for redelivery and never acknowledges it. Every other failure is the
**input's** own (unparseable, nested too deep, a NUL byte, a name too long, a time outside the
supported range, or a fault of the code that only this input reaches): retrying the same input
cannot help, so a source keeps it as a rejection with the reason, acknowledges it and goes on.

>>> from shuian.errors import StoreUnavailableError
>>> blame(StoreUnavailableError("database x: connection refused"))
<Fault.SYSTEM: 'system'>
>>> blame(RecursionError("maximum recursion depth exceeded"))
<Fault.INPUT: 'input'>
>>> reason_of(ValueError("bad\x00 value"))
'ValueError: bad\\x00 value'
"""

from __future__ import annotations

import enum

from shuian.errors import ShuianError, StoreUnavailableError

#: Longest reason text made from an exception (characters).
MAX_REASON = 500


class Fault(enum.Enum):
    """Who is to blame for a failure, and so what a source does with the input."""

    #: Keep the input as a rejection with the reason, acknowledge it, go on.
    INPUT = "input"
    #: Leave the input for redelivery, never acknowledge it, retry later.
    SYSTEM = "system"


def blame(exc: BaseException) -> Fault:
    """The fault of a failure: SYSTEM for a store or machine that is away, else INPUT."""
    if isinstance(exc, StoreUnavailableError | OSError | MemoryError):
        return Fault.SYSTEM
    return Fault.INPUT


def reason_of(exc: BaseException) -> str:
    """A one-line reason for a rejection, at most :data:`MAX_REASON` characters.

    The error's own message for Shuian's errors, else the exception's type and message; control
    characters escaped.
    """
    text = exc.message if isinstance(exc, ShuianError) else f"{type(exc).__name__}: {exc}"
    return printable(text)[:MAX_REASON]


def printable(text: str) -> str:
    """``text`` with control characters (NUL, CR, ESC ...) written as escapes, one line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
