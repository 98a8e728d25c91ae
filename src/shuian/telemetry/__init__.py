"""Telemetry protocols spoken by remote terminal units (RTUs), decoded as pure functions.

- :mod:`shuian.telemetry.sl651`: SL 651-2014, the Chinese hydrological telemetry protocol
  (水文监测数据通信规约), HEX/BCD mode: bytes in, frames out, and frames back to bytes.
"""
