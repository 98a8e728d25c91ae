"""Frames: a camera's picture as a BGR array with its time, decoded from and encoded to JPEG."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from shuian.errors import InvalidRequestError

__all__ = ["Frame", "decode_image", "encode_jpeg", "grey"]

#: The most pixels a frame may have (an 8K camera has 33 M).
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class Frame:
    """One picture of a camera: when it was taken (µs since 1970 UTC) and its pixels (BGR)."""

    time_us: int
    image: NDArray[np.uint8]


def decode_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> NDArray[np.uint8]:
    """The BGR pixels of a JPEG or PNG; :class:`InvalidRequestError` naming what is wrong."""
    import cv2

    if not data:
        raise InvalidRequestError("the frame is empty (0 bytes)")
    buffer = np.frombuffer(data, np.uint8)
    # The header's size first, so that a small file claiming a huge picture is not decoded.
    header = cv2.imdecode(buffer, cv2.IMREAD_REDUCED_GRAYSCALE_8)
    if header is None:
        raise InvalidRequestError(f"the frame ({len(data)} bytes) is not a JPEG or PNG picture")
    if header.size * 64 > max_pixels:
        raise InvalidRequestError(f"the frame has about {header.size * 64} pixels, more than "
                                  f"{max_pixels}")
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if image is None:
        raise InvalidRequestError(f"the frame ({len(data)} bytes) could not be decoded")
    return np.asarray(image, dtype=np.uint8)


def encode_jpeg(image: NDArray[np.uint8], *, quality: int = 85) -> bytes:
    """The JPEG bytes of a BGR (or grey) picture at ``quality`` (1..100)."""
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise InvalidRequestError("the picture could not be encoded as JPEG")
    return bytes(data.tobytes())


def grey(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The grey picture of a BGR one (a grey one as it is)."""
    import cv2

    if image.ndim == 2:
        return image
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
