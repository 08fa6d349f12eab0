"""The app icons (192 and 512 px PNG), drawn with the standard library: ``python -m rapport.web.icons``.

An ink-blue square, full bleed so it also works as a maskable icon, with a white "R" inside the
safe zone. Each pixel is 4x4 supersampled against a few simple shapes, then written as an 8-bit
RGB PNG with zlib and struct. Run it again only to change the design; the PNGs are committed.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

INK = (29, 43, 69)
WHITE = (255, 255, 255)
SIZES = (192, 512)
STATIC = Path(__file__).parent / "static" / "icons"


def _in_r(x: float, y: float) -> bool:
    """The letter R in a unit square (0..1), drawn as a stem, a bowl and a leg."""
    stem = 0.30 <= x <= 0.42 and 0.24 <= y <= 0.76
    # The bowl: a ring around (0.50, 0.39), right half, joined to the stem by two bars.
    cx, cy = 0.50, 0.385
    d2 = (x - cx) ** 2 + (y - cy) ** 2
    ring = x >= cx and 0.085**2 <= d2 <= 0.145**2
    bars = 0.30 <= x <= cx and (0.24 <= y <= 0.30 or 0.47 <= y <= 0.53)
    # The leg: a thick segment from the lower bar (0.47, 0.53) down to (0.68, 0.76).
    ax, ay, bx, by = 0.47, 0.53, 0.68, 0.76
    t = max(0.0, min(1.0, ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)))
    px, py = ax + t * (bx - ax), ay + t * (by - ay)
    leg = (x - px) ** 2 + (y - py) ** 2 <= 0.06**2 and y <= 0.76
    return stem or ring or bars or leg


def render(size: int, samples: int = 4) -> bytes:
    """Raw PNG scanlines (filter byte 0 + RGB) for a ``size`` x ``size`` icon."""
    rows = bytearray()
    step = 1.0 / (size * samples)
    offsets = [(i + 0.5) * step for i in range(samples)]
    total = samples * samples
    for j in range(size):
        rows.append(0)
        for i in range(size):
            x0, y0 = i / size, j / size
            hits = sum(_in_r(x0 + dx, y0 + dy) for dx in offsets for dy in offsets)
            a = hits / total
            rows += bytes(round(INK[c] + (WHITE[c] - INK[c]) * a) for c in range(3))
    return bytes(rows)


def png(size: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(render(size), 9))
        + chunk(b"IEND", b"")
    )


def write_icons(directory: Path = STATIC) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for size in SIZES:
        path = directory / f"icon-{size}.png"
        path.write_bytes(png(size))
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    for p in write_icons(Path(sys.argv[1]) if len(sys.argv) > 1 else STATIC):
        print(p)
