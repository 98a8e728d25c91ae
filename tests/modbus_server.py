"""A real Modbus TCP server for the tests: pymodbus's server over a register map from JSON.

Run ``python tests/modbus_server.py MAP.json [--port N]``. The map names the device id and the
defined blocks of holding and input registers (16-bit words); every address outside a block
answers with the Modbus exception ILLEGAL DATA ADDRESS, as a real logger does::

    {"unit": 1,
     "holding": [{"address": 0, "values": [0, 0, 0]}],
     "input": [{"address": 0, "values": [42]}]}

Each table needs at least one block. Holding registers can be written by any client (a test
changes values that way); input registers keep the values of the map. The server prints
``PORT <n>`` on stdout once it is listening (``--port 0``, the default, takes a free port) and
runs until it is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


def blocks(entries: list[dict[str, Any]]) -> list[SimData]:
    """One block of 16-bit registers per entry of the map."""
    return [SimData(entry["address"], values=list(entry["values"]),
                    datatype=DataType.REGISTERS) for entry in entries]


async def serve(register_map: dict[str, Any], port: int) -> None:
    """Listen on 127.0.0.1:``port``, print the port, and serve until cancelled."""
    device = SimDevice(
        register_map.get("unit", 1),
        # coils, discrete inputs (one unused bit each), holding and input registers
        simdata=([SimData(0, values=False, datatype=DataType.BITS)],
                 [SimData(0, values=False, datatype=DataType.BITS)],
                 blocks(register_map["holding"]), blocks(register_map["input"])),
    )
    server = ModbusTcpServer(device, address=("127.0.0.1", port))
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
