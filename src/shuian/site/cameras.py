"""Cameras in the site file: what each looks at, where its frames come from, what is read off them.

``cameras:`` in the site file is a list of :class:`Camera`. Each camera is also an instrument of
type ``camera`` (:meth:`Camera.instrument`) whose channels the store keeps like any other:

* ``<code>.video``: one reading per analysed frame, 1 when the frame is good and 0 when the
  camera's health check found a fault (no signal, frozen, covered or turned away, out of focus,
  too dark); the camera's event alarms (intrusion, debris, spillway flow, no video) are kept on
  this channel, each under its own rule;
* ``<code>.level``: the water level read off the staff gauge (m), where the camera has a
  :class:`Gauge`; so the checks, models and alarms of a level apply to it unchanged, and it is
  cross-checked against the level sensor; and ``<code>.confidence`` beside it, how sure each
  reading is (0..1).

Image coordinates are pixels of the frame as the camera sends it: x to the right, y (rows)
downwards, the origin at the top-left corner.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "LOOKS_AT",
    "Camera",
    "CameraSource",
    "Gauge",
    "GaugeMark",
    "Health",
    "Intrusion",
    "LooksAt",
    "RegionWatch",
    "Zone",
    "camera_instrument",
]

#: What a camera looks at.
LooksAt = Literal[
    "dam_crest", "upstream_face", "staff_gauge", "spillway", "intake", "downstream_channel",
    "reservoir_bank",
]
LOOKS_AT: tuple[str, ...] = LooksAt.__args__  # type: ignore[attr-defined]

#: The largest frame side (px) a camera may declare regions on; frames larger are refused.
MAX_SIDE_PX = 8192

Point = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraSource(_Strict):
    """Where a camera's frames come from.

    ``kind``:

    * ``stream``: a video stream read through OpenCV's FFmpeg backend, ``url`` ``rtsp://``,
      ``http://`` or ``https://`` (an MJPEG stream, say); the connection is kept open and a
      frame taken at each sampling time;
    * ``snapshot``: an HTTP(S) ``url`` that answers one JPEG or PNG still per request;
    * ``folder``: a ``path`` where the camera drops stills (FTP-style upload); the newest file
      matching ``pattern`` is taken, its time from its modification time;
    * ``sl651``: the pictures (36H) an SL 651 ``station`` sends, as the media store keeps them;
    * ``synthetic``: frames rendered in code from the site's own water level (the demo's).
    """

    kind: Literal["stream", "snapshot", "folder", "sl651", "synthetic"]
    url: str | None = Field(default=None, max_length=2048)
    path: str | None = Field(default=None, max_length=4096)
    pattern: str = Field(default="*.jpg", max_length=64)
    station: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{10}$")
    #: Seconds a connection or a request may take before it counts as failed.
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    #: What the synthetic camera shows: ``intruder`` (a person walks in), ``frozen`` (the
    #: picture stops changing); only for ``synthetic``.
    scenario: Literal["normal", "intruder", "frozen"] = "normal"

    @model_validator(mode="after")
    def _what_each_kind_needs(self) -> Self:
        needs = {"stream": "url", "snapshot": "url", "folder": "path", "sl651": "station"}
        key = needs.get(self.kind)
        if key is not None and getattr(self, key) is None:
            raise ValueError(f"a {self.kind} source needs {key}")
        schemes = {"stream": ("rtsp://", "rtsps://", "http://", "https://"),
                   "snapshot": ("http://", "https://")}.get(self.kind)
        if schemes and not str(self.url).lower().startswith(schemes):
            raise ValueError(f"a {self.kind} url starts with {' or '.join(schemes)}, "
                             f"not {str(self.url)[:40]!r}")
        if self.scenario != "normal" and self.kind != "synthetic":
            raise ValueError("scenario is only for a synthetic source")
        return self


class GaugeMark(_Strict):
    """A reference mark of the staff gauge: the image row where an elevation is (px, m)."""

    row: float = Field(ge=0, le=MAX_SIDE_PX)
    elevation: float


class Gauge(_Strict):
    """A staff gauge (水尺) in the picture, and how its image rows turn into elevations.

    ``region`` is the gauge's box ``[x, y, width, height]`` (px); ``marks`` at least two
    reference marks (row and elevation, surveyed when the camera was set up); between them the
    elevation is linear in the row, beyond them the nearest two extend. The level read is
    compared with ``sensor_channel`` (default the site's level channel): a difference over
    ``tolerance_m`` for ``disagree_after_s`` raises the alarm "camera and sensor disagree".
    """

    region: tuple[float, float, float, float]
    marks: tuple[GaugeMark, ...] = Field(min_length=2, max_length=64)
    sensor_channel: str | None = None
    tolerance_m: float = Field(default=0.10, gt=0)
    disagree_after_s: float = Field(default=300.0, ge=0)
    #: Readings less sure than this (0..1) are not stored.
    min_confidence: float = Field(default=0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _marks_in_order(self) -> Self:
        _check_box(self.region)
        rows = [m.row for m in self.marks]
        elevations = [m.elevation for m in self.marks]
        order = sorted(range(len(rows)), key=rows.__getitem__)
        if len(set(rows)) != len(rows):
            raise ValueError("two gauge marks share a row")
        ordered = [elevations[i] for i in order]
        if any(b >= a for a, b in zip(ordered, ordered[1:], strict=False)):
            raise ValueError("gauge marks: the elevation must fall as the row grows (row 0 "
                             "is the top of the picture)")
        return self


class Zone(_Strict):
    """A named polygon of the picture (px), at least three corners."""

    name: str = Field(min_length=1, max_length=64)
    polygon: tuple[Point, ...] = Field(min_length=3, max_length=64)

    @model_validator(mode="after")
    def _inside(self) -> Self:
        for x, y in self.polygon:
            if not (0 <= x <= MAX_SIDE_PX and 0 <= y <= MAX_SIDE_PX):
                raise ValueError(f"zone {self.name}: corner ({x}, {y}) is outside 0..{MAX_SIDE_PX}")
        return self


class Intrusion(_Strict):
    """Restricted zones: a person in one for ``dwell_s`` seconds raises an intrusion alarm."""

    zones: tuple[Zone, ...] = Field(min_length=1, max_length=16)
    dwell_s: float = Field(default=5.0, ge=0)
    #: Seconds with no one in the zone before the alarm clears.
    clear_after_s: float = Field(default=60.0, ge=0)


class RegionWatch(_Strict):
    """A region watched for an event (floating debris, spillway flow).

    The event is present when the share of the region that moves (or, for debris, that
    differs from the water's own look) is at least ``min_fraction`` for ``dwell_s`` seconds.
    """

    region: Zone
    min_fraction: float = Field(default=0.02, gt=0, le=1)
    dwell_s: float = Field(default=10.0, ge=0)
    clear_after_s: float = Field(default=120.0, ge=0)


class Health(_Strict):
    """Thresholds of the camera health check (a no-video alarm per camera).

    Brightness and contrast are on the 0..255 grey scale; sharpness is the variance of the
    Laplacian of the grey image; the scene match is the correlation (0..1) of the frame's edges
    with the camera's reference (its first good frames).
    """

    dark_below: float = Field(default=20.0, ge=0, le=255)
    flat_below: float = Field(default=6.0, ge=0, le=255)
    blur_below: float = Field(default=15.0, ge=0)
    frozen_after_s: float = Field(default=120.0, gt=0)
    mismatch_below: float = Field(default=0.35, ge=0, le=1)
    #: Seconds with no frame before the camera counts as without signal; default three of
    #: its sampling intervals.
    no_signal_after_s: float | None = Field(default=None, gt=0)
    #: Bad frames in a row before the alarm is raised (one dark frame is not a fault).
    bad_frames: int = Field(default=3, ge=1, le=1000)


class Camera(_Strict):
    """A camera of the site: what it looks at, where, its source, schedule and analysers."""

    code: str = Field(pattern=r"^[A-Za-z0-9_\-]+$", max_length=48)
    name: str = Field(min_length=1, max_length=120)
    name_zh: str | None = Field(default=None, max_length=120)
    looks_at: LooksAt
    section: str | None = None
    chainage: float | None = Field(default=None, description="m along the dam axis")
    elevation: float | None = Field(default=None, description="m")
    offset: float | None = Field(default=None, description="m from the axis, + downstream")
    source: CameraSource
    #: Seconds between two frames taken; while one of its events is open, ``event_interval_s``.
    interval_s: float = Field(default=10.0, ge=0.2, le=86_400)
    event_interval_s: float = Field(default=2.0, ge=0.2, le=86_400)
    #: Frames kept in the camera's queue; when analysis falls behind the oldest go (counted).
    queue_frames: int = Field(default=8, ge=1, le=256)
    gauge: Gauge | None = None
    intrusion: Intrusion | None = None
    debris: RegionWatch | None = None
    spillway_flow: RegionWatch | None = None
    health: Health = Health()

    @property
    def video_channel(self) -> str:
        """The channel of the camera's frames' health and its event alarms."""
        return f"{self.code}.video"

    @property
    def level_channel(self) -> str | None:
        """The channel of the level read off its staff gauge (None: it has no gauge)."""
        return f"{self.code}.level" if self.gauge is not None else None

    @property
    def confidence_channel(self) -> str | None:
        """The channel of how sure each gauge reading is (None: it has no gauge)."""
        return f"{self.code}.confidence" if self.gauge is not None else None

    @property
    def no_signal_after_s(self) -> float:
        """Seconds with no frame before the camera counts as without signal."""
        configured = self.health.no_signal_after_s
        return 3 * self.interval_s if configured is None else configured


def camera_instrument(camera: dict[str, object]) -> dict[str, object]:
    """The instrument (plain data, as in a site file) a camera's entry of the site file makes.

    Works on the plain data so that the site model can add it before validation; a camera
    entry that is not even a mapping with a code makes none (its own errors are reported).
    """
    code = camera.get("code")
    channels: list[dict[str, object]] = [
        {"code": f"{code}.video", "quantity": "video", "unit": "1", "model": False,
         "thresholds": False, "limits": {"min": 0, "max": 1}},
    ]
    if camera.get("gauge") is not None:
        channels += [
            {"code": f"{code}.level", "quantity": "water_level", "unit": "m", "model": False},
            {"code": f"{code}.confidence", "quantity": "confidence", "unit": "1",
             "model": False, "thresholds": False, "limits": {"min": 0, "max": 1}},
        ]
    return {
        "code": code, "type": "camera", "name": camera.get("name"),
        "name_zh": camera.get("name_zh"), "section": camera.get("section"),
        "elevation": camera.get("elevation"), "chainage": camera.get("chainage"),
        "offset": camera.get("offset"), "channels": channels,
    }


def _check_box(box: tuple[float, float, float, float]) -> None:
    x, y, width, height = box
    if width <= 0 or height <= 0 or x < 0 or y < 0 or x + width > MAX_SIDE_PX \
            or y + height > MAX_SIDE_PX:
        raise ValueError(f"region {list(box)}: [x, y, width, height] with a positive size, "
                         f"inside 0..{MAX_SIDE_PX} px")
