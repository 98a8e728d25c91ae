"""Commands of the telemetry protocols: ``shuian sl651 decode HEX...``."""

from __future__ import annotations

import string
from typing import Annotated, Any

import typer

from shuian.cli.common import JsonOption, app, err, out, print_json
from shuian.telemetry.sl651 import Sl651Error, Sl651Frame, decode_frame

sl651 = typer.Typer(
    name="sl651",
    help="SL 651-2014 hydrological telemetry frames (HEX/BCD mode).",
    no_args_is_help=True,
)
app.add_typer(sl651, name="sl651")


@sl651.command()
def decode(
    frames: Annotated[
        list[str], typer.Argument(help="Frames in hex, one per argument (spaces allowed).")
    ],
    as_json: JsonOption = False,
) -> None:
    """Decode SL 651 frames; a frame that cannot be read is reported and the others decoded.

    Exit status 0 when at least one frame was decoded, 1 when none was.
    """
    found = [_decode_one(text) for text in frames]
    if as_json:
        print_json(found)
    else:
        for number, item in enumerate(found, 1):
            _print(number, item)
    if all("error" in item for item in found):
        raise typer.Exit(1)


def _decode_one(text: str) -> dict[str, Any]:
    compact = "".join(text.split())
    if not compact or any(c not in string.hexdigits for c in compact) or len(compact) % 2:
        return {"error": f"{text!r} is not an even number of hex digits"}
    try:
        return frame_json(decode_frame(bytes.fromhex(compact)))
    except Sl651Error as exc:
        return {"error": exc.message}


def frame_json(frame: Sl651Frame) -> dict[str, Any]:
    """A frame as JSON-ready data (times ISO 8601 on the station's clock, CRCs as 4 hex digits)."""
    return {
        "valid_crc": frame.valid_crc,
        "crc_expected": f"{frame.crc_expected:04X}",
        "crc_found": f"{frame.crc_found:04X}",
        "direction": frame.direction,
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
        "elements": [
            {
                "id": e.id,
                "symbol": e.symbol,
                "name": e.name,
                "value": e.value,
                "values": list(e.values) if e.values else None,
                "unit": e.unit,
                "standard": e.standard,
                "observed_time": e.observed_time.isoformat() if e.observed_time else None,
            }
            for e in frame.elements
        ],
    }


def _print(number: int, item: dict[str, Any]) -> None:
    if "error" in item:
        err.print(f"frame {number}: error: {item['error']}", highlight=False, markup=False)
        return
    crc = "ok" if item["valid_crc"] else (
        f"MISMATCH (expected {item['crc_expected']}, found {item['crc_found']})"
    )
    out.print(
        f"frame {number}: function {item['function_code']} ({item['function_name']}), "
        f"centre {item['center']}, station {item['station']}, serial {item['serial']}, "
        f"crc {crc}", markup=False,
    )
    out.print(f"  sent {item['send_time']}, observed {item['observed_time']}", markup=False)
    for e in item["elements"]:
        value = e["values"] if e["values"] is not None else e["value"]
        flag = "" if e["standard"] else "  (not standard)"
        out.print(f"  {e['id']:<4} {e['name']}: {value} {e['unit']}{flag}".rstrip(),
                  markup=False)
