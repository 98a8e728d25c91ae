"""The settings of the sources that bring readings in on their own (``telemetry:`` of a site).

Plain validated settings, read with the rest of the site file: an MQTT broker's topics
(:class:`MqttSettings`), data loggers polled over Modbus TCP (:class:`ModbusSettings`), the
centre's listener for SL 651-2014 stations (:class:`Sl651Settings`). The sources that use them
(:mod:`shuian.sources`) import this module; nothing here imports a source, a client library or a
socket, so that loading a site loads none of them.
"""

from __future__ import annotations

import zoneinfo
from collections import Counter
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shuian.errors import MqttError

__all__ = [
    "WORDS",
    "ModbusRegister",
    "ModbusSettings",
    "MqttSettings",
    "RegisterType",
    "Sl651Settings",
    "Sl651Station",
    "Table",
    "TelemetrySettings",
]


class MqttSettings(BaseModel):
    """Where the readings come from: broker, client id, topics (``telemetry: {mqtt: ...}``).

    Attributes
    ----------
    host, port : the broker
    client_id : fixed, so that the broker keeps the session (and un-acknowledged messages)
    topics : topic filters; ``+`` and ``#`` wildcards allowed
    username : optional; the password is read from the environment variable ``password_env``
    qos : 1 (at least once; duplicates are harmless) or 2
    keepalive : seconds between pings
    session_expiry : seconds the broker keeps the session while the source is away
    retry_delay : seconds to wait before reconnecting after a failed ingest or a lost connection
    max_batch : most messages ingested together (one commit); also the MQTT 5 Receive Maximum
    max_payload : bytes; a larger payload is kept as a rejection, unread; 16 times this is
        the MQTT 5 Maximum Packet Size (larger messages the broker does not deliver)
    max_records : most records one message may hold; more are kept as a rejection, unread
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    client_id: str = Field(min_length=1, max_length=128)
    topics: list[str] = Field(min_length=1)
    username: str | None = None
    password_env: str | None = None
    qos: Literal[1, 2] = 1
    keepalive: int = Field(default=30, ge=5)
    session_expiry: int = Field(default=7 * 24 * 3600, ge=1)
    retry_delay: float = Field(default=5.0, gt=0)
    max_batch: int = Field(default=1000, ge=1, le=65535)
    max_payload: int = Field(default=1 << 20, ge=1024, le=32 << 20)
    max_records: int = Field(default=10_000, ge=1)

    @field_validator("topics")
    @classmethod
    def _valid_filters(cls, topics: list[str]) -> list[str]:
        for topic in topics:
            levels = topic.split("/")
            for position, level in enumerate(levels):
                if "#" in level and (level != "#" or position != len(levels) - 1):
                    raise ValueError(f"topic {topic!r}: '#' must be a whole, last level")
                if "+" in level and level != "+":
                    raise ValueError(f"topic {topic!r}: '+' must be a whole level")
            if not topic:
                raise ValueError("a topic must not be empty")
        return topics

    def password(self) -> str | None:
        """The password in the variable ``password_env`` (:meth:`shuian.settings.Settings.secret`).

        None when the site names no variable; ``SHUIAN_MQTT_PASSWORD`` is the process
        settings', any other name is read from the environment.
        """
        from shuian.settings import settings

        if self.password_env is None:
            return None
        value = settings().secret(self.password_env)
        if value is None:
            raise MqttError(
                f"telemetry.mqtt.password_env names {self.password_env!r}, which is not set: "
                "set that environment variable or remove password_env"
            )
        return value.get_secret_value()


#: The types a Modbus register map may give, and the register tables.
RegisterType = Literal["int16", "uint16", "int32", "uint32", "float32", "float64"]
Table = Literal["holding", "input"]

#: 16-bit registers each type takes.
WORDS: dict[str, int] = {
    "int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "float64": 4,
}


class ModbusRegister(BaseModel):
    """One reading of a logger: where it sits, how to decode and scale it, which channel.

    Attributes
    ----------
    channel : the channel code the reading goes to
    address : 0-based address of the first register, as sent in the request (register
        40001 of a "4xxxx" manual is address 0 of the holding table)
    table : ``holding`` (function 3) or ``input`` (function 4) registers
    type : ``int16``, ``uint16`` (one register), ``int32``, ``uint32``, ``float32`` (two),
        ``float64`` (four); IEEE 754 floats, two's-complement integers, big-endian bytes
    word_order : ``big`` (most significant register first, "ABCD") or ``little`` (least
        significant register first, "CDAB"); one-register types ignore it
    scale, offset : x = number × scale + offset, in the channel's unit (``kind: value``) or in
        the unit of its raw reading (``kind: raw``)
    kind : ``value`` (x is the engineering value) or ``raw`` (x is the raw reading, converted
        by the channel's conversion)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str = Field(min_length=1)
    address: int = Field(ge=0, le=65535)
    table: Table = "holding"
    type: RegisterType
    word_order: Literal["big", "little"] = "big"
    scale: float = Field(default=1.0, allow_inf_nan=False)
    offset: float = Field(default=0.0, allow_inf_nan=False)
    kind: Literal["value", "raw"] = "value"

    @property
    def words(self) -> int:
        """Registers this reading takes (1, 2 or 4)."""
        return WORDS[self.type]

    @property
    def end(self) -> int:
        """The address after the last register of this reading."""
        return self.address + self.words

    def describe(self) -> str:
        """``holding register 40 (float32, channel WL.level)``, for messages."""
        return f"{self.table} register {self.address} ({self.type}, channel {self.channel})"

    @model_validator(mode="after")
    def _within_the_address_space(self) -> Self:
        if self.end > 65536:
            raise ValueError(
                f"a {self.type} at address {self.address} takes {self.words} registers, past "
                "the last address 65535"
            )
        return self


class ModbusSettings(BaseModel):
    """A logger polled over Modbus TCP (one entry of ``telemetry: {modbus: [...]}``).

    Attributes
    ----------
    name : names the logger; its readings come from source ``modbus:<name>``
    host, port : the logger (or gateway) on the network
    unit : the Modbus unit (slave, device) id, 0-255
    interval : seconds between polls; polls fall on multiples of it on the clock (UTC)
    timeout : seconds to wait for the connection and for each answer
    retries : times a request is sent again when no answer comes
    registers : the readings, at most one per channel; registers of one table must not overlap
    spool : a file keeping each poll's readings until they are stored (written before the
        ingest, emptied after): polls then outlive a restart while the database is away, and
        are not dropped after :data:`MAX_PENDING_POLLS`
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    host: str = Field(min_length=1)
    port: int = Field(default=502, ge=1, le=65535)
    unit: int = Field(default=1, ge=0, le=255)
    interval: float = Field(default=60.0, ge=0.05, allow_inf_nan=False)
    timeout: float = Field(default=3.0, gt=0, allow_inf_nan=False)
    retries: int = Field(default=2, ge=0, le=10)
    registers: tuple[ModbusRegister, ...] = Field(min_length=1)
    spool: Path | None = None

    @field_validator("registers")
    @classmethod
    def _no_overlaps(cls, registers: tuple[ModbusRegister, ...]) -> tuple[ModbusRegister, ...]:
        repeated = sorted(c for c, n in Counter(r.channel for r in registers).items() if n > 1)
        if repeated:
            raise ValueError(f"each channel is read once; read twice: {', '.join(repeated)}")
        for table in ("holding", "input"):
            ordered = sorted((r for r in registers if r.table == table), key=lambda r: r.address)
            for first, second in zip(ordered, ordered[1:], strict=False):
                if second.address < first.end:
                    raise ValueError(
                        f"the registers of channels {first.channel!r} ({table} "
                        f"{first.address}-{first.end - 1}) and {second.channel!r} ({table} "
                        f"{second.address}-{second.end - 1}) overlap"
                    )
        return registers


class Sl651Station(BaseModel):
    """One RTU: its address, and which channel each of its elements feeds.

    Attributes
    ----------
    address : the station address as 10 hex digits (quote it in YAML)
    name : a name for people (status pages); default the address
    password : 4 hex digits; when given, frames with another password are refused
    timezone : the station's clock (IANA name); default the site's
    elements : element identifier (two hex digits of Annex C, e.g. ``39`` river level,
        ``38`` supply voltage, or a vendor's) -> channel code
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str = Field(pattern=r"^[0-9A-Fa-f]{10}$")
    name: str | None = None
    password: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{4}$")
    timezone: str | None = None
    elements: dict[str, str] = Field(min_length=1)

    @field_validator("address", "password", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        if isinstance(value, int):
            raise ValueError(f"{value} was read as a number: quote it, e.g. \"{value:010d}\"")
        return value.upper() if isinstance(value, str) else value

    @field_validator("elements", mode="before")
    @classmethod
    def _element_ids(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        ids: dict[str, Any] = {}
        for key, channel in value.items():
            # YAML reads 39 as a number and 07 as octal 7: both mean the two digits written.
            text = f"{key:02d}" if isinstance(key, int) else str(key).upper()
            if len(text) != 2 or any(c not in "0123456789ABCDEF" for c in text):
                raise ValueError(f"element {key!r}: an identifier is two hex digits, e.g. 39")
            ids[text] = channel
        return ids

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in zoneinfo.available_timezones():
            raise ValueError(f"unknown time zone {value!r} (an IANA name, e.g. Asia/Shanghai)")
        return value

    @property
    def label(self) -> str:
        """The name, else the address."""
        return self.name or self.address


class Sl651Settings(BaseModel):
    """The centre's listener (``telemetry: {sl651: ...}``).

    Attributes
    ----------
    host, port : where to listen (port 0: any free port, for tests)
    center : the centre address (1 byte); when given, frames addressed to another are refused
    acknowledge : answer reports (function codes 30–36) once stored (modes M2/M4)
    keep_open : end the acknowledgement with ESC (keep the link 10 minutes) instead of EOT
    idle_timeout : seconds of silence after which a connection is closed
    first_frame_timeout : seconds a new connection has to send its first good frame (of a
        configured station, CRC and password right); then it is closed. After that frame,
        ``idle_timeout`` applies
    max_connections : connections open at once; one more is closed at once (and counted in
        ``refused``), so that a flood cannot take the centre's file descriptors
    max_connections_per_address : connections open at once from one remote address; one more
        is closed at once (counted in ``refused_by_address``), so that one address cannot take
        them all. Raise it when many stations share an address (a carrier's NAT)
    max_message_bytes : bytes (whole packets) of one multi-packet message; a message that
        passes it is dropped and kept as a rejection
    max_messages_per_connection, max_message_bytes_per_connection : multi-packet messages in
        progress on one connection, and their bytes; beyond, the oldest is dropped and kept
    max_messages_total, max_message_bytes_total : the same over all connections
    max_rejected_per_address : characters of rejected text (raw text and reason) kept per
        remote address per window, of what an address sends before it is a station (bytes that
        are not a frame, malformed frames, CRC mismatches, unknown stations, wrong passwords)
        and of its incomplete messages; the rest is counted, not kept and not answered
    max_rejected_total : the same over all addresses
    rejected_window : seconds of a window of those caps; at its end one summary rejection says
        how many rejections (and bytes as received) were dropped, and from where
    stations : the RTUs and their element-to-channel maps
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "0.0.0.0"
    port: int = Field(default=5005, ge=0, le=65535)
    center: int | None = Field(default=None, ge=0, le=255)
    acknowledge: bool = True
    keep_open: bool = False
    idle_timeout: float = Field(default=600.0, gt=0)
    first_frame_timeout: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=2000, ge=1)
    max_connections_per_address: int = Field(default=8, ge=1)
    max_message_bytes: int = Field(default=1 << 20, ge=1)
    max_messages_per_connection: int = Field(default=8, ge=1)
    max_message_bytes_per_connection: int = Field(default=4 << 20, ge=1)
    max_messages_total: int = Field(default=256, ge=1)
    max_message_bytes_total: int = Field(default=64 << 20, ge=1)
    max_rejected_per_address: int = Field(default=64 * 1024, ge=0)
    max_rejected_total: int = Field(default=1 << 20, ge=0)
    rejected_window: float = Field(default=3600.0, gt=0)
    stations: tuple[Sl651Station, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _bounds_in_order(self) -> Sl651Settings:
        for small, large in (
            ("max_message_bytes", "max_message_bytes_per_connection"),
            ("max_message_bytes_per_connection", "max_message_bytes_total"),
            ("max_messages_per_connection", "max_messages_total"),
            ("max_rejected_per_address", "max_rejected_total"),
        ):
            if getattr(self, small) > getattr(self, large):
                raise ValueError(f"{small} ({getattr(self, small)}) is more than {large} "
                                 f"({getattr(self, large)}): make {large} at least as large")
        return self

    @field_validator("stations")
    @classmethod
    def _unique(cls, stations: tuple[Sl651Station, ...]) -> tuple[Sl651Station, ...]:
        seen: set[str] = set()
        for station in stations:
            if station.address in seen:
                raise ValueError(f"station {station.address} is listed twice")
            seen.add(station.address)
        return stations


class TelemetrySettings(BaseModel):
    """Ways readings arrive on their own.

    ``mqtt``: an MQTT broker's topics; ``modbus``: data loggers polled over Modbus TCP, each
    with its register map (names unique, registers mapped to channels of the site); ``sl651``:
    the centre's listener for SL 651-2014 RTUs, with each station's element-to-channel map.

    Each field is one kind of source, named as :data:`shuian.sources.registry.SOURCES` names it;
    a new kind is one field here.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mqtt: MqttSettings | None = None
    modbus: tuple[ModbusSettings, ...] = ()
    sl651: Sl651Settings | None = None

    @property
    def configured(self) -> bool:
        """Whether any source is configured."""
        return any(getattr(self, kind) for kind in type(self).model_fields)
