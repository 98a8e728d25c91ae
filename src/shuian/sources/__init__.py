"""Sources: where readings arrive on their own, over the network, each in its own thread(s).

- :mod:`~shuian.sources.mqtt`: subscribes to an MQTT broker's topics;
- :mod:`~shuian.sources.modbus`: polls data loggers over Modbus TCP;
- :mod:`~shuian.sources.sl651`: the SL 651-2014 centre, a TCP listener for telemetry stations
  (the frames themselves are :mod:`shuian.protocols.sl651`).

Each is one kind in :mod:`~shuian.sources.registry`, configured by the site
(:mod:`shuian.site.telemetry`), fed to the ingest and reporting its status through
:mod:`~shuian.sources.base` and :mod:`~shuian.sources.status`.
"""
