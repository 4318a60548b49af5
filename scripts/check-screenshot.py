#!/usr/bin/env python3
"""Checks a screenshot of a chat overlay: check-screenshot.py SHOT WIDTH HEIGHT [OUT.png]

Reads SHOT, a 24/32-bit BMP (what SDL_SaveBMP writes) or an 8-bit RGB/RGBA PNG (what
LÖVE's captureScreenshot encodes), with the standard library only, then checks that it
has the given size, is not blank (many colours, most pixels differ from the most common
one) and has text on it (near-white pixels: only the overlays' text is white; the
scenes are sky, hills, a sun and an orange ball). Writes a PNG copy if asked.
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


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise SystemExit(f"{path}: depth {depth}, colour type {colour}, interlace {interlace}: only 8-bit RGB/RGBA, not interlaced")
    step = 3 if colour == 2 else 4
    stride = width * step
    raw = zlib.decompress(b"".join(idat))
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        # Undo the row's filter (PNG spec, section 9).
        if kind == 1:
            for i in range(step, stride):
                line[i] = (line[i] + line[i - step]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                left = line[i - step] if i >= step else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - step] if i >= step else 0
                b = prev[i]
                c = prev[i - step] if i >= step else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        elif kind != 0:
            raise SystemExit(f"{path}: unknown filter {kind} in row {y}")
        rows.append([tuple(line[i : i + 3]) for i in range(0, stride, step)])
        prev = line
    return width, height, rows


def write_png(path, width, rows):
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in rows)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, len(rows), 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def main():
    path, want_w, want_h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with open(path, "rb") as f:
        magic = f.read(2)
    width, height, rows = read_png(path) if magic == b"\x89P" else read_bmp(path)
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
