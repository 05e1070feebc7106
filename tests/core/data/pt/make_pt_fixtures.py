#!/usr/bin/python3
"""Writes the committed .pt fixtures of tests/core/test_torch_pt.cpp with Debian's python3-torch (1.13).

Run once by hand from this folder (`/usr/bin/python3 make_pt_fixtures.py`); the tests never run Python.
Every tensor holds values the C++ test recomputes (arange-based), so a wrong byte order, dtype or stride fails.
"""
import collections
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def save(obj, name):
    torch.save(obj, os.path.join(HERE, name))


def ramp(shape, dtype):
    n = 1
    for d in shape:
        n *= d
    return (torch.arange(n, dtype=torch.float64) * 0.25 - 3.0).reshape(shape).to(dtype)


# A plain float32 tensor, as TRELLIS's features.pt (reduced: (1, 1374, 1024) → (1, 13, 8)).
save(ramp((1, 13, 8), torch.float32), "features_small.pt")

# coords.pt: (N, 4) int32 [batch, x, y, z].
coords = torch.stack([torch.zeros(6, dtype=torch.int32),
                      torch.arange(6, dtype=torch.int32),
                      torch.arange(6, dtype=torch.int32) * 2,
                      63 - torch.arange(6, dtype=torch.int32)], dim=1)
save(coords, "coords_small.pt")

# slat.pt: a dict of tensors.
save({"feats": ramp((6, 8), torch.float32), "coords": coords}, "slat_small.pt")

# One tensor per dtype, with the same ramp (bool: value > 0; integers: truncated).
dtypes = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
          "int64": torch.int64, "int32": torch.int32, "bool": torch.bool, "float64": torch.float64,
          "uint8": torch.uint8}
per_dtype = {}
for name, dt in dtypes.items():
    base = ramp((3, 4), torch.float64)
    if dt == torch.bool:
        per_dtype[name] = base > 0
    elif dt == torch.uint8:
        per_dtype[name] = (base + 3.0).to(dt)
    else:
        per_dtype[name] = base.to(dt)
save(per_dtype, "dtypes.pt")

# Views: a transposed tensor and a slice with a storage offset share one storage with the base.
base = ramp((4, 6), torch.float32)
save({"base": base, "transposed": base.t(), "slice": base[1:3, 2:5], "scalar": torch.tensor(2.5)}, "views.pt")

# A training checkpoint like the original's: OrderedDict state_dict, AdamW state, config with every plain type.
torch.manual_seed(0)
model = torch.nn.Sequential(collections.OrderedDict([
    ("fc", torch.nn.Linear(3, 2)), ("norm", torch.nn.LayerNorm(2))]))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
model(torch.ones(1, 3)).sum().backward()
opt.step()
save({
    "epoch": 7,
    "model_state_dict": model.state_dict(),
    "optimizer_state_dict": opt.state_dict(),
    "losses": {"total": 0.125, "rgb": -1.5e-3},
    "config": {"experiment": 2, "lr": 1e-4, "name": "décodeur", "fast_mode": True, "resume": None,
               "big": 2**40, "neg": -70000, "hidden": [512, 256], "pair": (1, 2)},
}, "checkpoint.pt")
for k, v in model.state_dict().items():
    print(k, tuple(v.shape), v.flatten().tolist())

# Files the reader must refuse with a clear message: a deflated archive and the pre-1.6 (non-zip) format.
import zipfile
with zipfile.ZipFile(os.path.join(HERE, "features_small.pt")) as src, \
        zipfile.ZipFile(os.path.join(HERE, "compressed.pt"), "w", zipfile.ZIP_DEFLATED) as dst:
    for info in src.infolist():
        dst.writestr(info.filename, src.read(info.filename))
torch.save(ramp((2, 2), torch.float32), os.path.join(HERE, "legacy_format.pt"), _use_new_zipfile_serialization=False)
