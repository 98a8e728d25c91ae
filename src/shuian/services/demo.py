"""Build the demo reservoir (Shimenzi, synthetic data) in a store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from shuian.alarms.levels import US_PER_DAY
from shuian.demo.synthetic import InjectedFault, generate_history
from shuian.readings import ReadingBatch
from shuian.services.accounts import Accounts
from shuian.services.analysis import Analyzer, EvaluationReport, FitOutcome
from shuian.site import parse_site
from shuian.store import Store, StoredSite

DEMO_SITE_FILE = "shimenzi.yaml"
#: The demo's administrator.
DEMO_ADMIN = "admin"


def demo_site_text() -> str:
    """The YAML text of the Shimenzi demo site file shipped with the package."""
    return resources.files("shuian.demo").joinpath(DEMO_SITE_FILE).read_text(encoding="utf-8")


#: Hours of camera frames the demo starts with, and the seconds between two of them.
CAMERA_HOURS = 6.0
CAMERA_STEP_S = 600

#: Days at the end of the history judged by models fitted on the days before (when longer).
EVALUATED_DAYS = 365


@dataclass(frozen=True)
class DemoSummary:
    """What the demo built: the site, its readings, the faults injected and what analysis found."""

    stored: StoredSite
    readings: int
    faults: tuple[InjectedFault, ...]
    site_file: Path | None
    fits: list[FitOutcome]
    evaluation: EvaluationReport
    admin_password: str | None = None
    """The password of the ``admin`` user created by this demo (None when it existed)."""
    camera_frames: int = 0
    """Synthetic camera frames rendered and analysed (:func:`demo_camera_history`)."""


def build_demo(
    store: Store,
    *,
    days: int = 1095,
    end: dt.datetime | None = None,
    site_file: Path | None = None,
    camera_hours: float = CAMERA_HOURS,
) -> DemoSummary:
    """Save the Shimenzi site and ``days`` of synthetic history (ending at ``end``, default now).

    The history goes straight to the store in one bulk write: it is generated already valid,
    except the injected faults, which the analysis must find. The models are then fitted on the
    history but its last year (all of it when shorter than two years) and every reading is
    judged, as if the station had run all along. When ``site_file`` is given, the site file is
    also written there (if it does not exist) for the user to read and edit.

    The demo's cameras get ``camera_hours`` of synthetic frames before ``end``, one every
    :data:`CAMERA_STEP_S`, each analysed as the worker would (:func:`demo_camera_history`).

    A user ``admin`` (role admin) is created with a generated password, unless it exists; the
    summary holds the password, for the caller to show once.
    """
    text = demo_site_text()
    site = parse_site(text, source=DEMO_SITE_FILE)
    if site_file is not None and not site_file.exists():
        site_file.write_text(text, encoding="utf-8")
    store.save_site(site, text)
    stored = store.site(site.reservoir.code)
    ids = {c.code: c.id for c in store.channels(stored.id)}
    end = end or dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    history = generate_history(site, end=end, days=days)
    codes = list(history.series)
    times = [history.series[c][0] for c in codes]
    values = [history.series[c][1] for c in codes]
    batch = ReadingBatch(
        channel_id=np.repeat([ids[c] for c in codes], [len(t) for t in times]).astype(np.int64),
        time_us=np.concatenate(times).astype(np.int64),
        value=np.concatenate(values).astype(np.float64),
        raw=np.full(sum(len(t) for t in times), np.nan),
    )
    store.write_readings(batch)
    analyzer = Analyzer(store, stored)
    start_us = int(batch.time_us.min())
    calibration_days = days - EVALUATED_DAYS if days > 2 * EVALUATED_DAYS else days
    fits = analyzer.fit(end_us=start_us + calibration_days * US_PER_DAY)
    evaluation = analyzer.evaluate(notify=False, now_us=int(batch.time_us.max()))
    frames = demo_camera_history(store, stored, end=end, hours=camera_hours)
    admin_password = None
    if store.user(DEMO_ADMIN) is None:
        _, admin_password = Accounts(store).add_user(DEMO_ADMIN, role="admin", actor="demo")
    return DemoSummary(stored, len(batch), history.faults, site_file, fits, evaluation,
                       admin_password, frames)


def demo_camera_history(store: Store, stored: StoredSite, *, end: dt.datetime,
                        hours: float) -> int:
    """Render and analyse ``hours`` of the demo cameras' frames before ``end``; how many.

    The frames go through :meth:`CameraWatch.process <shuian.services.cameras.CameraWatch>`
    as the worker's would: kept in the media store, the gauge read, events raised.
    """
    cameras = [c for c in stored.site.cameras if c.source.kind == "synthetic"]
    if not cameras or hours <= 0:
        return 0
    from shuian.services.cameras import CameraWatch
    from shuian.sources.cameras import CapturedFrame

    watch = CameraWatch(store, stored, feeds=lambda camera: None)
    renderer = watch.renderer()
    end_us = int(end.timestamp() * 1_000_000)
    steps = int(hours * 3600 // CAMERA_STEP_S)
    times = [end_us - (steps - n) * CAMERA_STEP_S * 1_000_000 for n in range(steps + 1)]
    for camera in cameras:
        frames = [CapturedFrame(camera.code, t, renderer.render(camera, t)) for t in times]
        watch.process(camera.code, frames)
    return len(cameras) * len(times)
