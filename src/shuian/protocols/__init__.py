"""Protocols spoken by remote terminal units, as pure codecs: bytes in, frames out, and back.

- :mod:`shuian.protocols.sl651`: SL 651-2014, the Chinese hydrological telemetry protocol
  (水文监测数据通信规约), HEX/BCD and ASCII modes.

No module here opens a socket, reads a site or touches a store: the sources that receive
frames are in :mod:`shuian.sources`.
"""
