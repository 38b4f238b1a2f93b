#!/usr/bin/python3
"""Regenerates the small test images of tests/test_image.c and their expected RGB bytes (what
Pillow gives: Image.open(f) [+ ImageOps.exif_transpose] .convert('RGB'), or Image.resize).
Run with Debian's python3 (python3-pil, python3-numpy) from this folder:  /usr/bin/python3 gen.py
Each expected file is raw RGB, row-major; <name>.rgb goes with <name>.png/.jpg. The seed corpus
of the fuzz target (tests/fuzz/corpus_fuzz_image/) is written too."""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "fuzz", "corpus_fuzz_image")
rng = np.random.RandomState(1234)


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def pack_row(vals, depth):
    """One scanline of samples at a bit depth (MSB first below 8 bits)."""
    if depth == 16:
        return np.asarray(vals, dtype=">u2").tobytes()
    if depth == 8:
        return np.asarray(vals, dtype=np.uint8).tobytes()
    per = 8 // depth
    out = bytearray()
    for i in range(0, len(vals), per):
        b = 0
        for j in range(per):
            v = vals[i + j] if i + j < len(vals) else 0
            b |= int(v) << (8 - depth * (j + 1))
        out.append(b)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def make_png(a, depth, ctype, extra=b"", interlace=0):
    """a: h x w x samples array of sample values."""
    h, w = a.shape[:2]
    flat = a.reshape(h, w, -1)
    raw = b""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = flat[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        for row in sub:
            raw += b"\0" + pack_row(row.reshape(-1), depth)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def expect(name, data, transpose=False):
    im = Image.open(io.BytesIO(data))
    if transpose:
        im = ImageOps.exif_transpose(im)
    rgb = im.convert("RGB")
    write(name + ".rgb", rgb.tobytes())
    return rgb


def pngs():
    W, H = 13, 7
    r = lambda *s, hi=256: rng.randint(0, hi, s)
    plte = bytes(rng.randint(0, 256, 5 * 3).astype(np.uint8))
    cases = {
        "png_grey8": (r(H, W), 8, 0, b"", 0),
        "png_grey2": (r(H, W, hi=4), 2, 0, b"", 0),
        "png_grey_trns": (r(H, W), 8, 0, chunk(b"tRNS", struct.pack(">H", 7)), 0),
        "png_la8": (r(H, W, 2), 8, 4, b"", 0),
        "png_pal8": (r(H, W, hi=5), 8, 3, chunk(b"PLTE", plte), 0),
        # indices up to 15 with a 5-entry palette: Pillow shows the missing ones as grey i
        "png_pal4_trns": (r(H, W, hi=16), 4, 3,
                          chunk(b"PLTE", plte) + chunk(b"tRNS", bytes([0, 128, 255])), 0),
        "png_rgba8": (r(H, W, 4), 8, 6, b"", 0),
        "png_rgb16": (r(H, W, 3, hi=65536), 16, 2, b"", 0),
        "png_la16": (r(H, W, 2, hi=65536), 16, 4, b"", 0),
        "png_rgb8_adam7": (r(H, W, 3), 8, 2, b"", 1),
        "png_pal2_adam7": (r(H, W, hi=4), 2, 3, chunk(b"PLTE", plte[:12]), 1),
    }
    for name, (a, depth, ctype, extra, il) in cases.items():
        data = make_png(a, depth, ctype, extra, il)
        write(name + ".png", data)
        expect(name, data)
    # 16-bit grey: Pillow 9.4 opens it as mode "I" and clips values to 255 in convert('RGB');
    # we take the high byte instead (as for every other 16-bit PNG), so the expectation is ours.
    a = r(H, W, hi=65536)
    write("png_grey16.png", make_png(a, 16, 0))
    write("png_grey16.rgb", np.repeat((a >> 8).astype(np.uint8)[..., None], 3, 2).tobytes())
    # fuzz seeds
    for name in ("png_pal4_trns", "png_rgb8_adam7", "png_la16"):
        with open(os.path.join(HERE, name + ".png"), "rb") as f:
            d = f.read()
        with open(os.path.join(CORPUS, name + ".png"), "wb") as f:
            f.write(d)


def exif_bytes(o, big):
    """A minimal EXIF APP1 payload: IFD0 with one Orientation SHORT."""
    if big:
        tiff = b"MM\0*" + struct.pack(">I", 8) + struct.pack(">H", 1)
        tiff += struct.pack(">HHIHH", 0x0112, 3, 1, o, 0) + struct.pack(">I", 0)
    else:
        tiff = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", 1)
        tiff += struct.pack("<HHIHH", 0x0112, 3, 1, o, 0) + struct.pack("<I", 0)
    return b"Exif\0\0" + tiff


def quadrants(w, h):
    a = np.zeros((h, w, 3), np.uint8)
    a[: h // 2, : w // 2] = (230, 30, 30)
    a[: h // 2, w // 2:] = (30, 220, 40)
    a[h // 2:, : w // 2] = (40, 40, 230)
    a[h // 2:, w // 2:] = (240, 240, 60)
    return a


def jpegs():
    base = Image.fromarray(quadrants(32, 16))
    for o in range(1, 9):
        buf = io.BytesIO()
        base.save(buf, "JPEG", quality=90, exif=exif_bytes(o, big=(o % 2 == 0)))
        data = buf.getvalue()
        write("jpg_exif_%d.jpg" % o, data)
        expect("jpg_exif_%d" % o, data, transpose=True)
        if o in (6, 7):
            with open(os.path.join(CORPUS, "jpg_exif_%d.jpg" % o), "wb") as f:
                f.write(data)
    a = (rng.randint(0, 256, (12, 20, 3))).astype(np.uint8)
    a = np.clip(a // 2 + quadrants(20, 12) // 2, 0, 255).astype(np.uint8)
    for name, im, kw in (
        ("jpg_grey", Image.fromarray(a[..., 0]), {"quality": 85}),
        ("jpg_cmyk", Image.fromarray(a).convert("CMYK"), {"quality": 90}),
        ("jpg_progressive", Image.fromarray(a), {"quality": 80, "progressive": True}),
        ("jpg_444", Image.fromarray(a), {"quality": 95, "subsampling": 0}),
    ):
        buf = io.BytesIO()
        im.save(buf, "JPEG", **kw)
        data = buf.getvalue()
        write(name + ".jpg", data)
        expect(name, data)
        with open(os.path.join(CORPUS, name + ".jpg"), "wb") as f:
            f.write(data)


def pattern(w, h):
    """The deterministic test pattern that tests/test_image.c builds too."""
    y, x, c = np.mgrid[0:h, 0:w, 0:3]
    return ((x * 37 + y * 91 + c * 53 + x * y * 7) % 256).astype(np.uint8)


def resizes():
    """Resize cases: (name, in_w, in_h, out_w, out_h, box or None, crop or None)."""
    cases = [
        ("rs_37x23_16x16", 37, 23, 16, 16, None, None),
        ("rs_37x23_50x40", 37, 23, 50, 40, None, None),
        ("rs_37x23_37x9", 37, 23, 37, 9, None, None),      # vertical pass only
        ("rs_37x23_11x23", 37, 23, 11, 23, None, None),    # horizontal pass only
        ("rs_37x23_box", 37, 23, 13, 17, (2.5, 1.25, 30.75, 20.0), None),
        ("rs_37x23_crop", 37, 23, 9, 9, None, (7, 0, 30, 23)),
    ]
    for name, iw, ih, ow, oh, box, crop in cases:
        im = Image.fromarray(pattern(iw, ih))
        if crop:
            im = im.crop(crop)
        out = im.resize((ow, oh), Image.BILINEAR, box=box)
        write(name + ".rgb", out.tobytes())


if __name__ == "__main__":
    os.makedirs(CORPUS, exist_ok=True)
    pngs()
    jpegs()
    resizes()
