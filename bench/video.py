"""Benchmark: the camera analysers on SYNTHETIC frames rendered in code with known truth.

Figures (issue 13), each against its target:

* staff-gauge reading error (cm) against the rendered level, median and 95th percentile, per
  condition (daylight, dusk, night, noise, rain, glare, occlusion) on the 8 m close-up gauge
  (``shuian.vision.render.CLOSE_GAUGE``); targets in daylight: median <= 1 cm, p95 <= 3 cm;
* intrusion precision and recall over clips of the crest (day, dusk, lamp-lit night; with a
  person walking into the restricted zone, a person outside it, a bird, rain, nobody): a clip
  counts as found when the finding turns on; target recall >= 0.95 at precision >= 0.9;
* false no-video alarms per camera-day: the health check over a normal camera-day (a frame
  every 10 s from midnight to midnight, light changing, rain showers, sensor noise); an alarm is
  a finding that turns on;
* frames/s one worker thread analyses with every analyser a camera carries (health, gauge,
  intrusion, debris, flow: all of them, the worst case), decoding the JPEG included, and so the
  cameras one worker serves at one frame per 10 s; target >= 50.

Where a CUDA GPU is present (PyTorch with CUDA), the per-pixel stages (grey conversion, the
gauge's row profile, frame differencing) are also timed batched on it; where none, ``gpu`` is
null. Usage: ``python bench/video.py [--quick]``; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from shuian.site.cameras import Gauge, GaugeMark, Health, Intrusion, RegionWatch, Zone
from shuian.vision.frames import Frame, decode_image, encode_jpeg
from shuian.vision.gauge import GaugeAnalyser, read_gauge
from shuian.vision.health import HealthAnalyser
from shuian.vision.intrusion import IntrusionAnalyser
from shuian.vision.motion import DebrisAnalyser, SpillwayFlowAnalyser
from shuian.vision.render import CLOSE_GAUGE, DEMO_VIEWS, Scene, render

SECOND = 1_000_000
GAUGE = Gauge(region=CLOSE_GAUGE.gauge,
              marks=tuple(GaugeMark(row=r, elevation=e) for r, e in CLOSE_GAUGE.marks()))
CREST = DEMO_VIEWS["crest"]
CONDITIONS: dict[str, dict[str, float]] = {
    "daylight": {}, "dusk": {"hour": 18.6}, "night": {"hour": 2.0}, "noise": {"noise": 8.0},
    "rain": {"rain": 1.0}, "glare": {"glare": 1.0}, "occlusion": {"occlusion": 0.5},
}


def gauge_errors(count: int) -> dict[str, dict[str, float]]:
    """Median and p95 reading error (cm) per condition; unread frames count as misses."""
    rng = np.random.default_rng(13)
    found: dict[str, dict[str, float]] = {}
    for name, condition in CONDITIONS.items():
        errors = []
        for seed in range(count):
            level = 1386.5 + 7.0 * rng.random()
            scene = Scene(level_m=level, seed=seed, noise=condition.get("noise", 3.0),
                          **{k: v for k, v in condition.items() if k != "noise"})
            reading = read_gauge(render(CLOSE_GAUGE, scene), GAUGE)
            errors.append(np.inf if reading is None else abs(reading.elevation - level) * 100)
        e = np.array(errors)
        found[name] = {"median_cm": round(float(np.median(e)), 3),
                       "p95_cm": round(float(np.percentile(e, 95)), 3),
                       "unread": int(np.isinf(e).sum())}
    return found


def intrusion_clips(per_kind: int) -> dict[str, Any]:
    """Precision and recall of the intrusion finding over rendered clips."""
    settings = Intrusion(zones=(Zone(name="crest", polygon=CREST.zone),), dwell_s=4,
                         clear_after_s=20)
    rng = np.random.default_rng(5)
    tp = fp = fn = tn = 0
    kinds = ["intruder", "outside", "bird", "rain", "nobody"]
    for kind in kinds:
        for clip in range(per_kind):
            hour = float(rng.choice([9.0, 13.0, 18.6, 23.0, 2.0]))
            analyser = IntrusionAnalyser(settings)
            height = float(rng.uniform(110, 170))
            start = float(rng.uniform(60, 200))
            on = False
            for n in range(16):
                people: tuple[tuple[float, float, float], ...] = ()
                if kind == "intruder" and n >= 6:
                    people = ((start + 18 * (n - 6), float(rng.uniform(400, 465)), height),)
                elif kind == "outside" and n >= 6:
                    people = ((start + 18 * (n - 6), 255.0, height * 0.6),)
                image = render(CREST, Scene(level_m=1390, hour=hour, noise=3.0, people=people,
                                            rain=0.9 if kind == "rain" else 0.0,
                                            seed=clip * 100 + n))
                if kind == "bird":
                    import cv2

                    cv2.ellipse(image, (int(40 + 35 * n), int(330 + 10 * np.sin(n))), (14, 5), 0,
                                0, 360, (30, 30, 30), -1)
                on = analyser.step(Frame(n * 2 * SECOND, image)).present or on
            if kind == "intruder":
                tp, fn = tp + on, fn + (not on)
            else:
                fp, tn = fp + on, tn + (not on)
    return {"recall": tp / max(tp + fn, 1), "precision": tp / max(tp + fp, 1),
            "clips": per_kind * len(kinds), "true_positives": tp, "false_positives": fp,
            "missed": fn}


def camera_day(step_s: float) -> dict[str, Any]:
    """False no-video alarms over one normal camera-day, frames every ``step_s``."""
    analyser = HealthAnalyser(Health())
    frames = int(86_400 / step_s)
    alarms, was_on = 0, False
    rng = np.random.default_rng(3)
    rain = 0.0
    for n in range(frames):
        hour = n * step_s / 3600.0
        if rng.random() < 0.002:
            rain = 0.0 if rain else float(rng.uniform(0.3, 1.0))
        image = render(DEMO_VIEWS["gauge"], Scene(level_m=1370.0 + 0.001 * n / 100, hour=hour,
                                                  rain=rain, noise=3.0, seed=n))
        on = analyser.step(Frame(int(n * step_s * SECOND), image)).present
        alarms += on and not was_on
        was_on = on
    return {"frames": frames, "step_s": step_s, "alarms": alarms}


def throughput(count: int) -> dict[str, float]:
    """Frames/s of one thread running every analyser on decoded JPEG frames of the spillway."""
    view = DEMO_VIEWS["spillway"]
    jpegs = [encode_jpeg(render(view, Scene(level_m=1390, seed=n, noise=3.0,
                                            people=((200.0 + 5 * n, 440.0, 130.0),)
                                            if n % 3 == 0 else ())))
             for n in range(count)]
    watch = RegionWatch(region=Zone(name="r", polygon=view.flow_region))
    analysers = [HealthAnalyser(Health()), GaugeAnalyser(GAUGE),
                 IntrusionAnalyser(Intrusion(zones=(Zone(name="z", polygon=view.zone),))),
                 DebrisAnalyser(RegionWatch(region=Zone(name="d", polygon=view.debris_region))),
                 SpillwayFlowAnalyser(watch)]
    started = time.perf_counter()
    for n, data in enumerate(jpegs):
        frame = Frame(n * 10 * SECOND, decode_image(data))
        for analyser in analysers:
            analyser.step(frame)
    seconds = time.perf_counter() - started
    return {"frames": count, "fps": count / seconds, "ms_per_frame": 1000 * seconds / count}


def gpu(count: int) -> dict[str, Any] | None:
    """The per-pixel stages batched on a CUDA GPU, where PyTorch has one; else None."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    images = np.stack([render(CLOSE_GAUGE, Scene(level_m=1390, seed=n)) for n in range(16)])
    found: dict[str, Any] = {"device": torch.cuda.get_device_name(0), "batches": {}}
    for batch in (16, 64, 256):
        stack = torch.from_numpy(np.resize(images, (batch, *images.shape[1:]))).cuda()
        weights = torch.tensor([0.114, 0.587, 0.299], device="cuda")
        x, y, w, h = CLOSE_GAUGE.gauge
        torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(max(1, count // batch)):
            greys = (stack.float() * weights).sum(-1)
            torch.quantile(greys[:, y:y + h, x:x + w], 0.8, dim=2)
            (greys[1:] - greys[:-1]).abs().gt(25).float().mean()
        torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        found["batches"][batch] = round(max(1, count // batch) * batch / seconds, 1)
    return found


def main() -> None:
    """Run the figures and print them; the last line is one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames: under a minute")
    args = parser.parse_args()
    gauges = gauge_errors(15 if args.quick else 100)
    intrusion = intrusion_clips(3 if args.quick else 20)
    day = camera_day(400.0 if args.quick else 10.0)
    speed = throughput(30 if args.quick else 200)
    on_gpu = gpu(256 if args.quick else 4096)
    cameras = speed["fps"] * 10.0
    print("gauge error (cm)   median    p95  unread")
    for name, e in gauges.items():
        print(f"  {name:<14} {e['median_cm']:8.2f} {e['p95_cm']:6.2f} {e['unread']:7d}")
    print(f"intrusion: recall {intrusion['recall']:.2f} (target 0.95), precision "
          f"{intrusion['precision']:.2f} (target 0.9) over {intrusion['clips']} clips")
    print(f"no-video: {day['alarms']} false alarms over a camera-day of {day['frames']} frames")
    print(f"analysis: {speed['fps']:.1f} frames/s on one thread ({speed['ms_per_frame']:.1f} ms "
          f"a frame, every analyser): {cameras:.0f} cameras at one frame per 10 s "
          f"(target 50: {cameras / 50:.1f}x)")
    print(f"GPU: {on_gpu if on_gpu else 'none found (no CUDA)'}")
    daylight = gauges["daylight"]
    print(json.dumps({
        "gauge_error_cm_median": daylight["median_cm"], "gauge_error_cm_p95": daylight["p95_cm"],
        "gauge_error_cm_median_ratio": round(daylight["median_cm"] / 1.0, 3),
        "gauge_error_cm_p95_ratio": round(daylight["p95_cm"] / 3.0, 3),
        "gauge_by_condition": gauges,
        "intrusion_recall": round(intrusion["recall"], 3),
        "intrusion_precision": round(intrusion["precision"], 3),
        "intrusion_clips": intrusion["clips"],
        "false_novideo_per_camera_day": day["alarms"] * (86_400 / day["step_s"]) / day["frames"],
        "frames_per_s_per_worker": round(speed["fps"], 2),
        "cameras_per_worker": round(cameras, 1), "cameras_ratio": round(cameras / 50, 2),
        "gpu": on_gpu, "quick": args.quick,
    }))


if __name__ == "__main__":
    main()
