#!/usr/bin/python3
"""Writes tests/encode/data/pil_resize_golden.bin: Pillow's Image.resize outputs on a pseudo-random image, which
tests/encode/test_preprocess.cpp compares with fresnel's pil_resize bit for bit.
Run with Debian's python3-pil and python3-numpy:  /usr/bin/python3 scripts/make_pil_resize_golden.py
Layout: the concatenated raw outputs of the cases below, in order (uint8, or little-endian float32 for mode F)."""
import os
import numpy as np
from PIL import Image


def lcg_bytes(n, seed=12345):
    out = np.empty(n, dtype=np.uint8)
    s = seed
    for i in range(n):
        s = (s * 1103515245 + 12345) % 2**31
        out[i] = (s >> 16) & 255
    return out


W, H = 97, 83
rgba = lcg_bytes(W * H * 4).reshape(H, W, 4)
rgb = np.ascontiguousarray(rgba[:, :, :3])
gray_f = (rgba[:, :, 0].astype(np.float32) / 255.0).astype(np.float32)

cases = [
    (Image.fromarray(rgb, "RGB"), (37, 29), Image.BILINEAR),
    (Image.fromarray(rgb, "RGB"), (130, 111), Image.BILINEAR),
    (Image.fromarray(rgb, "RGB"), (37, 29), Image.LANCZOS),
    (Image.fromarray(rgb, "RGB"), (130, 111), Image.LANCZOS),
    (Image.fromarray(rgb, "RGB"), (97, 40), Image.BILINEAR),  # vertical pass only
    (Image.fromarray(rgba, "RGBA"), (60, 50), Image.LANCZOS),  # premultiplied resize
    (Image.fromarray(gray_f, "F"), (40, 40), Image.BILINEAR),
]
path = os.path.join(os.path.dirname(__file__), "..", "tests", "encode", "data", "pil_resize_golden.bin")
with open(path, "wb") as f:
    for im, size, flt in cases:
        f.write(np.asarray(im.resize(size, flt)).tobytes())
print("wrote", os.path.getsize(path), "bytes with Pillow", Image.__version__)
