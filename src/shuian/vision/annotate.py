"""Drawing what an analyser found onto its frame: the zone watched and the boxes of what it saw."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["annotate"]

#: Colours (BGR): the zone in amber, what was found in red, the caption's backing in black.
ZONE_BGR = (0, 191, 255)
FOUND_BGR = (0, 0, 255)


def annotate(
    image: NDArray[np.uint8],
    *,
    zone: Sequence[tuple[float, float]] | None = None,
    boxes: Sequence[tuple[int, int, int, int]] = (),
    caption: str | None = None,
) -> NDArray[np.uint8]:
    """A copy of ``image`` (BGR) with ``zone`` (polygon, px) outlined and ``boxes`` (x, y, w, h px).

    ``caption`` (ASCII; OpenCV's fonts have no Chinese) is written along the top.
    """
    import cv2

    out = image.copy()
    thickness = max(1, round(min(out.shape[:2]) / 240))
    if zone:
        corners = np.round(np.asarray(zone, dtype=np.float64)).astype(np.int32)
        overlay = out.copy()
        cv2.fillPoly(overlay, [corners], ZONE_BGR)
        cv2.addWeighted(overlay, 0.18, out, 0.82, 0, dst=out)
        cv2.polylines(out, [corners], True, ZONE_BGR, thickness, cv2.LINE_AA)
    for x, y, w, h in boxes:
        cv2.rectangle(out, (int(x), int(y)), (int(x + w), int(y + h)), FOUND_BGR, thickness + 1)
    if caption:
        text = caption.encode("ascii", "replace").decode()[:80]
        scale = max(0.4, out.shape[1] / 1200)
        (width, height), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        cv2.rectangle(out, (0, 0), (width + 8, height + base + 8), (0, 0, 0), -1)
        cv2.putText(out, text, (4, height + 4), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return out
