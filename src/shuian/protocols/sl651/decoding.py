"""Decoding SL 651-2014 frames of either mode: the one entry for bytes that came in.

The first byte tells the mode: ``7E`` HEX/BCD (:mod:`~shuian.protocols.sl651.hexmode`), ``01``
SOH ASCII (:mod:`~shuian.protocols.sl651.ascii`).
"""

from __future__ import annotations

from dataclasses import replace

from shuian.protocols.sl651.ascii import decode_ascii, decode_ascii_body
from shuian.protocols.sl651.frames import ETX, SOH, Sl651Frame
from shuian.protocols.sl651.hexmode import decode_hex, decode_hex_body

__all__ = ["decode_body", "decode_frame"]


def decode_frame(data: bytes) -> Sl651Frame:
    """Decode one frame, HEX/BCD (``7E 7E``) or ASCII (``SOH 01``) mode, told by its first byte.

    Parameters
    ----------
    data
        The whole frame, from the start characters to the CRC.

    Returns
    -------
    Sl651Frame
        A CRC that does not match is not an error: ``valid_crc`` is False and ``crc_expected``
        (computed) and ``crc_found`` (sent) both say what they are.

    Raises
    ------
    Sl651Error
        Bad start characters, a frame shorter or longer than its length field says, an unknown
        start-of-text or end character, a truncated element or time, a header field that is not
        hex (ASCII mode); the message names the byte offset.
    """
    if data[:1] == bytes([SOH]):
        return decode_ascii(data)
    return decode_hex(data)


def decode_body(head: Sl651Frame, body: bytes) -> Sl651Frame:
    """Decode the body of a report on its own: the joined bodies of a multi-packet message.

    The body is what follows the start-of-text character (and, in a multi-packet frame, the
    packet numbers) up to the end character: serial number, send time, station, observation
    time, elements, in the mode of ``head``. Packets 1 to *total* of a message (SYN), in
    sequence order, joined, make one body; only packet 1 carries the serial number and send
    time (:mod:`~shuian.protocols.sl651.frames` names the sources).

    Parameters
    ----------
    head
        A frame of the message (any packet, from :func:`decode_frame`): its centre, station,
        password, function code, direction and mode are kept.
    body
        The body bytes.

    Returns
    -------
    Sl651Frame
        ``head`` with the decoded fields, ``packets`` None and ``body`` empty.

    Raises
    ------
    Sl651Error
        As :func:`decode_frame`; offsets count from the first byte of ``body``.

    Examples
    --------
    Packet 1 of 2 of a picture (function 36), decoded on its own:

    >>> packet = decode_frame(bytes.fromhex(
    ...     "7E7E0100123456781234360017" "16002001" "0001240102080000" "F1F1001234567848"
    ...     "F3F3" "FFD8" "17A3E5"))
    >>> packet.packets, packet.serial, decode_body(packet, packet.body).picture.hex()
    ((2, 1), None, 'ffd8')
    """
    base = replace(head, packets=None, body=b"", end=ETX)
    if head.mode == "ascii":
        return decode_ascii_body(body, 0, len(body), base)
    return decode_hex_body(body, 0, len(body), base)
