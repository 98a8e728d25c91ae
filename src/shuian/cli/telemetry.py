"""Commands of the telemetry protocols: ``shuian sl651 decode FRAME...``, ``sl651 send``."""

from __future__ import annotations

import re
import socket
import string
from typing import Annotated, Any

import typer

from shuian.cli.common import JsonOption, app, err, out, print_json, user_errors
from shuian.errors import InvalidRequestError
from shuian.protocols.sl651 import (
    CONTROL_CHARACTERS,
    DOWN_ENDS,
    UP_ENDS,
    Sl651Error,
    Sl651Frame,
    decode_frame,
    frame_size,
    header_size,
)

sl651 = typer.Typer(
    name="sl651",
    help="SL 651-2014 hydrological telemetry frames (HEX/BCD and ASCII modes).",
    no_args_is_help=True,
)
app.add_typer(sl651, name="sl651")


#: The end characters by value: ETX, ETB (up); ENQ, EOT, ESC, ACK, NAK (down).
END_NAMES = {**UP_ENDS, **DOWN_ENDS}
_CONTROL = re.compile("<(" + "|".join(CONTROL_CHARACTERS) + ")>")


@sl651.command()
def decode(
    frames: Annotated[
        list[str],
        typer.Argument(help="Frames, one per argument: bytes in hex (spaces allowed), or with "
                            "--ascii the text of an ASCII-mode frame."),
    ],
    ascii_text: Annotated[
        bool,
        typer.Option(
            "--ascii",
            help="The frames are ASCII-mode text, not hex: write the control characters as "
                 "<SOH> <STX> <SYN> <ETX> <ETB> <ENQ> <EOT> <ACK> <NAK> <ESC> (or the "
                 "characters themselves), e.g. "
                 "'<SOH>01001234567812342F0010<STX>0005170718110035<ETX>E593'.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Decode SL 651 frames; a frame that cannot be read is reported and the others decoded.

    The first byte tells the mode (7E7E HEX/BCD, 01 SOH ASCII): a hex dump of either is read.

    --ascii takes ASCII-mode frames as text instead (the "mode" of each frame is in --json).

    Exit status 0 when at least one frame was decoded, 1 when none was.
    """
    found = [_decode_text(text, ascii_text) for text in frames]
    if as_json:
        print_json(found)
    else:
        for number, item in enumerate(found, 1):
            _print(number, item)
    if all("error" in item for item in found):
        raise typer.Exit(1)


@sl651.command()
def send(
    centre: Annotated[str, typer.Argument(help="The centre's HOST:PORT.")],
    frames: Annotated[
        list[str],
        typer.Argument(help="Frames to send in turn on one connection, in hex (or with "
                            "--ascii as ASCII-mode text)."),
    ],
    ascii_text: Annotated[
        bool, typer.Option("--ascii", help="The frames are ASCII-mode text (see decode).")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for each answer.", min=0.1)
    ] = 10.0,
    as_json: JsonOption = False,
) -> None:
    """Send frames to a centre as a station would, and show each answer.

    For commissioning: replay a captured report to a centre (Shuian's or another) and see
    whether it is acknowledged. A frame that is not answered within --timeout (a link
    keep-alive, or a centre in mode M1) is shown as such. Exit status 1 when the centre cannot
    be reached, closed the connection, or a frame could not be read.
    """
    with user_errors():
        data = [_frame_bytes(text, ascii_text) for text in frames]
        host, _, port = centre.rpartition(":")
        if not host or not port.isdigit():
            raise InvalidRequestError(f"centre {centre!r}: give HOST:PORT, e.g. 127.0.0.1:5005")
        try:
            conn = socket.create_connection((host, int(port)), timeout=timeout)
        except OSError as exc:
            raise InvalidRequestError(f"cannot connect to the centre at {centre}: {exc}") from exc
        found: list[dict[str, Any]] = []
        with conn:
            for frame in data:
                conn.sendall(frame)
                found.append(_answer(conn, timeout))
                if "error" in found[-1]:
                    break
    if as_json:
        print_json(found)
    else:
        for number, item in enumerate(found, 1):
            answer = item.get("answer")
            if "error" in item or (answer is not None and "error" in answer):
                _print(number, answer or item)
            elif answer is None:
                out.print(f"frame {number}: no answer within {timeout:g} s")
            else:
                out.print(
                    f"frame {number}: answered, {answer['direction']} frame, function "
                    f"{answer['function_code']} ({answer['function_name']}), serial "
                    f"{answer['serial']}, end {answer['end']}, sent {answer['send_time']}, "
                    f"crc {'ok' if answer['valid_crc'] else 'MISMATCH'}",
                )
    if any("error" in item for item in found):
        raise typer.Exit(1)


def _frame_bytes(text: str, ascii_text: bool) -> bytes:
    """The bytes of a frame given on the command line; raises if they are not a frame's."""
    if ascii_text:
        frame = _CONTROL.sub(lambda name: chr(CONTROL_CHARACTERS[name[1]]), text)
        if not frame.isascii():
            raise InvalidRequestError(f"{text!r} is not ASCII text")
        return frame.encode("ascii")
    compact = "".join(text.split())
    if not compact or any(c not in string.hexdigits for c in compact) or len(compact) % 2:
        raise InvalidRequestError(f"{text!r} is not an even number of hex digits (an "
                                  "ASCII-mode frame given as text needs --ascii)")
    return bytes.fromhex(compact)


def _answer(conn: socket.socket, timeout: float) -> dict[str, Any]:
    """Read the centre's answer to one frame: {"answer": frame JSON or None} or an error."""
    data = b""
    try:
        while not data or len(data) < header_size(data) or len(data) < frame_size(data):
            chunk = conn.recv(65536)
            if not chunk:
                return {"error": "the centre closed the connection without answering"
                                 + (f" (after {len(data)} bytes)" if data else "")}
            data += chunk
    except TimeoutError:
        if data:
            return {"error": f"the answer stopped after {len(data)} bytes"}
        return {"answer": None}
    except Sl651Error as exc:
        return {"error": f"the answer is not a frame: {exc.message}"}
    return {"answer": _decoded(data)}


def _decode_text(text: str, ascii_text: bool) -> dict[str, Any]:
    try:
        data = _frame_bytes(text, ascii_text)
    except InvalidRequestError as exc:
        return {"error": exc.message}
    return _decoded(data)


def _decoded(data: bytes) -> dict[str, Any]:
    try:
        return frame_json(decode_frame(data))
    except Sl651Error as exc:
        return {"error": exc.message}


def frame_json(frame: Sl651Frame) -> dict[str, Any]:
    """A frame as JSON-ready data (times ISO 8601 on the station's clock, CRCs as 4 hex digits).

    ``mode`` is ``"hex"`` (HEX/BCD) or ``"ascii"``; an element's ``id`` is its Annex C
    identifier in both modes (an unknown ASCII symbol is its own ``id``). ``parameters`` are
    those of a configuration, query or control frame (40H to 51H: identifiers of the parameter
    tables, not elements); ``manual_entry`` the text of a manual entry (``F2 F2``);
    ``unparsed`` the parts of the body that could not be laid out, each with its byte offset in
    the frame, its bytes in hex and the reason.
    """
    return {
        "valid_crc": frame.valid_crc,
        "crc_expected": f"{frame.crc_expected:04X}",
        "crc_found": f"{frame.crc_found:04X}",
        "mode": frame.mode,
        "direction": frame.direction,
        "end": END_NAMES.get(frame.end, f"{frame.end:02X}"),
        "function_code": f"{frame.function_code:02X}",
        "function_name": frame.function_name,
        "center": frame.center,
        "station": frame.station,
        "password": frame.password,
        "station_class": frame.station_class,
        "serial": frame.serial,
        "send_time": frame.send_time.isoformat() if frame.send_time else None,
        "observed_time": frame.observed_time.isoformat() if frame.observed_time else None,
        "packets": list(frame.packets) if frame.packets else None,
        "picture_bytes": len(frame.picture) if frame.picture else None,
        "elements": [
            {
                "id": e.id,
                "symbol": e.symbol,
                "name": e.name,
                "value": e.value,
                "values": list(e.values) if e.values else None,
                "time_step_minutes": (e.time_step.total_seconds() / 60
                                      if e.time_step is not None else None),
                "unit": e.unit,
                "standard": e.standard,
                "observed_time": e.observed_time.isoformat() if e.observed_time else None,
            }
            for e in frame.elements
        ],
        "parameters": [
            {"id": p.id, "name": p.name, "value": p.value, "text": p.text, "unit": p.unit,
             "raw": p.raw, "known": p.known}
            for p in frame.parameters
        ],
        "manual_entry": frame.manual_entry,
        "unparsed": [
            {"offset": u.offset, "bytes": len(u.data), "hex": u.data.hex().upper(),
             "reason": u.reason}
            for u in frame.unparsed
        ],
    }


def _print(number: int, item: dict[str, Any]) -> None:
    if "error" in item:
        err.print(f"frame {number}: error: {item['error']}")
        return
    crc = "ok" if item["valid_crc"] else (
        f"MISMATCH (expected {item['crc_expected']}, found {item['crc_found']})"
    )
    out.print(
        f"frame {number}: function {item['function_code']} ({item['function_name']}), "
        f"{'ASCII' if item['mode'] == 'ascii' else 'HEX/BCD'} mode, "
        f"centre {item['center']}, station {item['station']}, serial {item['serial']}, "
        f"crc {crc}",
    )
    out.print(f"  sent {item['send_time']}, observed {item['observed_time']}")
    for e in item["elements"]:
        value = e["values"] if e["values"] is not None else e["value"]
        flag = "" if e["standard"] else "  (not standard)"
        out.print(f"  {e['id']:<4} {e['name']}: {value} {e['unit']}{flag}".rstrip())
    for p in item["parameters"]:
        shown = " ".join(str(v) for v in (p["value"], p["text"]) if v not in (None, ""))
        flag = "" if p["known"] else "  (not in the parameter table)"
        out.print(f"  parameter {p['id']:<4} {p['name']}: {shown} {p['unit']}{flag}".rstrip())
    if item["manual_entry"] is not None:
        out.print(f"  manual entry: {item['manual_entry']!r}")
    for u in item["unparsed"]:
        out.print(f"  not laid out, byte {u['offset']} ({u['bytes']} bytes): {u['hex']}: "
                  f"{u['reason']}")
