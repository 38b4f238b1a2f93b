#!/usr/bin/env python3
"""exif_orient.py IN.jpg OUT.jpg N: IN with an EXIF APP1 segment holding only Orientation = N
(1..8) inserted after SOI and any APP0 (JFIF); IN must carry no APP1 of its own (jpegtran
-copy none writes none). Standard library only."""
import struct
import sys


def main():
    src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if not 1 <= n <= 8:
        sys.exit("exif_orient.py: orientation must be 1..8")
    data = open(src, "rb").read()
    if data[:2] != b"\xff\xd8":
        sys.exit(f"exif_orient.py: {src} is not a JPEG")
    pos = 2
    while data[pos] == 0xFF and data[pos + 1] in (0xE0, 0xE1):  # APP0 / APP1
        if data[pos + 1] == 0xE1:
            sys.exit(f"exif_orient.py: {src} already has an APP1 segment")
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    # TIFF big-endian header, IFD0 at offset 8 with one entry: 0x0112 Orientation, SHORT, count 1
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, n, 0) + struct.pack(">I", 0)
    body = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + len(body)) + body
    open(dst, "wb").write(data[:pos] + app1 + data[pos:])


main()
