#!/usr/bin/env python3
"""Checks a screenshot of the SDL overlay: check-screenshot.py SHOT.bmp WIDTH HEIGHT [OUT.png]

Reads the 24/32-bit BMP that SDL_SaveBMP writes (standard library only), then checks
that it has the given size, is not blank (many colours, most pixels differ from the
most common one) and has text on it (near-white pixels: only the overlay's text is
white; the scene is sky, hills and an orange ball). Writes a PNG copy if asked.
Exit status 0 when every check passed; prints what it measured.
"""

import struct
import sys
import zlib
from collections import Counter


def read_bmp(path):
    data = open(path, "rb").read()
    if data[:2] != b"BM":
        raise SystemExit(f"{path}: not a BMP")
    offset = struct.unpack_from("<I", data, 10)[0]
    width, height = struct.unpack_from("<ii", data, 18)
    bpp = struct.unpack_from("<H", data, 28)[0]
    if bpp not in (24, 32):
        raise SystemExit(f"{path}: {bpp} bits per pixel, expected 24 or 32")
    step = bpp // 8
    stride = (width * step + 3) & ~3
    rows = []
    for y in range(abs(height)):
        # Positive height: bottom-up rows.
        src = y if height < 0 else abs(height) - 1 - y
        start = offset + src * stride
        row = data[start : start + width * step]
        rows.append([(row[i + 2], row[i + 1], row[i]) for i in range(0, len(row), step)])
    return width, abs(height), rows


def write_png(path, width, rows):
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in rows)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, len(rows), 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def main():
    path, want_w, want_h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    width, height, rows = read_bmp(path)
    pixels = [px for row in rows for px in row]
    counts = Counter(pixels)
    _, top = counts.most_common(1)[0]
    not_background = 1 - top / len(pixels)
    white = sum(1 for r, g, b in pixels if r > 200 and g > 200 and b > 200)
    print(f"screenshot {width}x{height}, {len(counts)} colours, {not_background:.0%} not the most common colour, {white} near-white (text) pixels")
    checks = {
        "size": (width, height) == (want_w, want_h),
        "colours": len(counts) >= 50,
        "not blank": not_background >= 0.5,
        "text": white >= 300,
    }
    if len(sys.argv) > 4:
        write_png(sys.argv[4], width, rows)
    failed = [name for name, good in checks.items() if not good]
    if failed:
        print("failed checks: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
