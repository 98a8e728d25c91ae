"""SL 651-2014 (水文监测数据通信规约), the Chinese hydrological telemetry protocol: pure functions.

Bytes in, :class:`Sl651Frame` out, and back; nothing here opens a socket, reads a site or
touches a store (the centre that does is :mod:`shuian.sources.sl651`). The modules, one concept
each:

- :mod:`~shuian.protocols.sl651.frames`: the frame (header, control characters, CRC, function
  codes, multi-packet messages) and cutting frames out of a byte stream;
- :mod:`~shuian.protocols.sl651.elements`: the elements of Annex C and how their values are
  written;
- :mod:`~shuian.protocols.sl651.parameters`: the parameter tables of configuration, query and
  control frames (40H to 51H, Annex D);
- :mod:`~shuian.protocols.sl651.hexmode` and :mod:`~shuian.protocols.sl651.ascii`: the body of
  a frame in each mode, both ways;
- :mod:`~shuian.protocols.sl651.decoding` and :mod:`~shuian.protocols.sl651.encoding`: the
  entries, either mode (:func:`decode_frame`, :func:`decode_body`; :func:`encode_frame`,
  :func:`acknowledgement`).

Everything public is imported from here.

Examples
--------
>>> frame = decode_frame(bytes.fromhex(
...     "7E7E010012345678123430002B020003591011154947F1F1001234567848F0F0591011154920190000"
...     "052619000005392300000127381211150320FA"))
>>> frame.valid_crc, frame.function_name, [(e.id, e.value) for e in frame.elements]
(True, 'test', [('20', 0.5), ('26', 0.5), ('39', 0.127), ('38', 11.15)])
>>> ascii_frame = encode_frame(frame, mode="ascii")
>>> ascii_frame[24:-5].decode()
'0003591011154947ST 0012345678 H TT 5910111549 PJ 0.5 PT 0.5 Z 0.127 VT 11.15 '
>>> [(e.id, e.value) for e in decode_frame(ascii_frame).elements] == [
...     (e.id, e.value) for e in frame.elements]
True
"""

from shuian.errors import Sl651Error
from shuian.protocols.sl651.decoding import decode_body, decode_frame
from shuian.protocols.sl651.elements import ELEMENTS, Element, ElementInfo, Kind, element
from shuian.protocols.sl651.encoding import acknowledgement, encode_frame
from shuian.protocols.sl651.frames import (
    ACK,
    ASCII_HEADER,
    CONFIGURATION_FUNCTIONS,
    CONTROL_CHARACTERS,
    DOWN_ENDS,
    ENQ,
    EOT,
    ESC,
    ETB,
    ETX,
    FUNCTION_CODES,
    HEADER,
    NAK,
    SOH,
    STX,
    SYN,
    UP_ENDS,
    Mode,
    Sl651Frame,
    Unparsed,
    crc16,
    cut_frames,
    frame_size,
    header_size,
)
from shuian.protocols.sl651.parameters import (
    BASIC,
    CHANNEL_TYPES,
    RUNTIME,
    STATUS_BITS,
    Parameter,
    ParamInfo,
    parameter,
    parameter_table,
)

__all__ = [
    "ACK",
    "ASCII_HEADER",
    "BASIC",
    "CHANNEL_TYPES",
    "CONFIGURATION_FUNCTIONS",
    "CONTROL_CHARACTERS",
    "DOWN_ENDS",
    "ELEMENTS",
    "ENQ",
    "EOT",
    "ESC",
    "ETB",
    "ETX",
    "FUNCTION_CODES",
    "HEADER",
    "NAK",
    "RUNTIME",
    "SOH",
    "STATUS_BITS",
    "STX",
    "SYN",
    "UP_ENDS",
    "Element",
    "ElementInfo",
    "Kind",
    "Mode",
    "ParamInfo",
    "Parameter",
    "Sl651Error",
    "Sl651Frame",
    "Unparsed",
    "acknowledgement",
    "crc16",
    "cut_frames",
    "decode_body",
    "decode_frame",
    "element",
    "encode_frame",
    "frame_size",
    "header_size",
    "parameter",
    "parameter_table",
]
