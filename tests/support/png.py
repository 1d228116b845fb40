"""A small PNG reader for screenshots (8-bit RGB or RGBA, not interlaced, as Chromium writes them),
so that a test can look at the pixels of a page without an imaging library."""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {2: 3, 6: 4}  # colour type: RGB, RGBA


class UnreadablePngError(ValueError):
    """The bytes are not a PNG this reader understands."""


@dataclass(frozen=True)
class Picture:
    width: int
    height: int
    channels: int
    rows: list[bytes]  # unfiltered, `width * channels` bytes each

    def colours(self) -> Counter[str]:
        """How many pixels have each colour, as `#rrggbb` (alpha left out)."""
        counts: Counter[str] = Counter()
        step = self.channels
        for row in self.rows:
            counts.update(row[x : x + 3].hex() for x in range(0, len(row), step))
        return Counter({f"#{colour}": n for colour, n in counts.items()})


def read_png(data: bytes) -> Picture:
    """The picture of a PNG file's bytes."""
    if not data.startswith(SIGNATURE):
        raise UnreadablePngError("no PNG signature")
    header, compressed = _chunks(data)
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour_type not in _CHANNELS or interlace:
        raise UnreadablePngError(f"depth {depth}, colour type {colour_type}, interlace {interlace}")
    channels = _CHANNELS[colour_type]
    stride = width * channels
    raw = zlib.decompress(compressed)
    if len(raw) != height * (stride + 1):
        raise UnreadablePngError(f"{len(raw)} bytes of pixels for {width}x{height}")
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        row = _unfilter(raw[start], raw[start + 1 : start + 1 + stride], previous, channels)
        rows.append(row)
        previous = row
    return Picture(width, height, channels, rows)


def _chunks(data: bytes) -> tuple[bytes, bytes]:
    position, header, pixels = len(SIGNATURE), b"", bytearray()
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            pixels += body
    return header, bytes(pixels)


def _unfilter(kind: int, line: bytes, above: bytes, bpp: int) -> bytes:
    if kind == 0:
        return line
    if kind == 2:
        return bytes((a + b) & 0xFF for a, b in zip(line, above, strict=True))
    row = bytearray(line)
    for x in range(len(row)):
        left = row[x - bpp] if x >= bpp else 0
        if kind == 1:
            row[x] = (row[x] + left) & 0xFF
        elif kind == 3:
            row[x] = (row[x] + ((left + above[x]) >> 1)) & 0xFF
        elif kind == 4:
            row[x] = (row[x] + _paeth(left, above[x], above[x - bpp] if x >= bpp else 0)) & 0xFF
        else:
            raise UnreadablePngError(f"unknown filter {kind}")
    return bytes(row)


def _paeth(left: int, up: int, corner: int) -> int:
    estimate = left + up - corner
    to_left, to_up, to_corner = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
    if to_left <= to_up and to_left <= to_corner:
        return left
    return up if to_up <= to_corner else corner
