"""A real Modbus TCP server for the tests: pymodbus's server over a register map from JSON.

Run ``python tests/modbus_server.py MAP.json [--port N]``. The map names the device id and the
defined blocks of holding and input registers (16-bit words); every address outside a block
answers with the Modbus exception ILLEGAL DATA ADDRESS, as a real logger does::

    {"unit": 1,
     "holding": [{"address": 0, "values": [0, 0, 0]}],
     "input": [{"address": 0, "values": [42]}],
     "garbage": [{"table": "holding", "address": 0, "answer": "noise"}]}

Each table needs at least one block. Holding registers can be written by any client (a test
changes values that way); input registers keep the values of the map. ``garbage`` (optional)
makes the server answer a read request starting at ``address`` of ``table`` as a broken logger
would, instead of with the registers:

- ``noise``: 16 bytes that are not a Modbus TCP frame (protocol id 0xbeef);
- ``short``: the right answer less its last register;
- ``function``: the right answer under the other table's function code (4 for 3, 3 for 4);
- ``exception-99``: an exception response with code 99, which no standard defines.

The server prints ``PORT <n>`` on stdout once it is listening (``--port 0``, the default, takes
a free port) and runs until it is killed. Garbage answers assume one client at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
from pathlib import Path
from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

#: 16 bytes whose Modbus TCP header names protocol 0xbeef (a Modbus frame has 0).
NOISE = bytes.fromhex("0001beef0004ff03deadbeefdeadbeef")
TABLES = {3: "holding", 4: "input"}


def blocks(entries: list[dict[str, Any]]) -> list[SimData]:
    """One block of 16-bit registers per entry of the map."""
    return [SimData(entry["address"], values=list(entry["values"]),
                    datatype=DataType.REGISTERS) for entry in entries]


class Garbage:
    """Rewrites the answers to the read requests the map's ``garbage`` names."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.answers = {(e["table"], e["address"]): e["answer"] for e in entries}
        self.pending: str | None = None  # the answer to give to the request just received

    def trace(self, sending: bool, data: bytes) -> bytes:
        """Note each request and rewrite its answer (pymodbus traces every packet through this)."""
        if not sending:
            if len(data) >= 12 and data[7] in TABLES:
                (address,) = struct.unpack(">H", data[8:10])
                self.pending = self.answers.get((TABLES[data[7]], address))
            return data
        answer, self.pending = self.pending, None
        if answer is None or len(data) < 9:
            return data
        header, function, body = data[:7], data[7], data[8:]
        if answer == "noise":
            return NOISE
        if answer == "short":
            body = bytes([body[0] - 2]) + body[1:-2]
        elif answer == "function":
            function = 7 - function
        elif answer == "exception-99":
            function, body = function | 0x80, bytes([99])
        pdu = bytes([function]) + body
        return header[:4] + struct.pack(">H", len(pdu) + 1) + header[6:7] + pdu


async def serve(register_map: dict[str, Any], port: int) -> None:
    """Listen on 127.0.0.1:``port``, print the port, and serve until cancelled."""
    device = SimDevice(
        register_map.get("unit", 1),
        # coils, discrete inputs (one unused bit each), holding and input registers
        simdata=([SimData(0, values=False, datatype=DataType.BITS)],
                 [SimData(0, values=False, datatype=DataType.BITS)],
                 blocks(register_map["holding"]), blocks(register_map["input"])),
    )
    garbage = Garbage(register_map.get("garbage", []))
    server = ModbusTcpServer(device, address=("127.0.0.1", port), trace_packet=garbage.trace)
    await server.serve_forever(background=True)
    sockets = server.transport.sockets  # type: ignore[union-attr]
    print(f"PORT {sockets[0].getsockname()[1]}", flush=True)  # noqa: T201
    await server.serving


def main() -> None:
    """Read the arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("map", type=Path, help="the register map (JSON)")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    args = parser.parse_args()
    asyncio.run(serve(json.loads(args.map.read_text(encoding="utf-8")), args.port))


if __name__ == "__main__":
    main()
