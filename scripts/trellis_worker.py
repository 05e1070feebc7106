#!/usr/bin/env python3
"""TRELLIS worker for `fresnel v2 generate` (run with TRELLIS's own Python: <trellis_dir>/.venv/bin/python).

Loads JeffreyXiang/TRELLIS-image-large once, then for each image in --images (one path per line) writes
<output_dir>/<stem>/{image.png, features.pt, coords.pt, slat.pt, gaussians.ply, metadata.json} into a temporary
folder renamed into place when complete, and frees GPU memory after each image. It exits non-zero at the first image
it cannot finish; `fresnel v2 generate` counts that failure, restarts a fresh worker for the next batch (TRELLIS leaks
memory) and skips an image after 2 failures. Only syntax-checked in Fresnel's tests (needs TRELLIS and a GPU).
"""
import argparse
import gc
import json
import os
import shutil
import sys
from pathlib import Path

# The original's environment for AMD/ROCm, set before torch is imported (the orchestrator sets them too).
os.environ.setdefault("HSA_OVERRIDE_GFX_VERSION", "11.0.0")
os.environ.setdefault("ATTN_BACKEND", "sdpa")
os.environ.setdefault("XFORMERS_DISABLED", "1")
os.environ.setdefault("SPARSE_BACKEND", "torchsparse")


def configure_torchsparse():
    try:
        from torchsparse.nn.functional.conv.conv_config import Dataflow, _default_conv_config, set_global_conv_config
        from torchsparse.nn.functional.conv.conv_mode import set_conv_mode
        config = _default_conv_config.copy()
        config["dataflow"] = Dataflow.GatherScatter
        set_global_conv_config(config)
        set_conv_mode(0)
    except Exception as e:  # CUDA builds have no such knobs
        print(f"torchsparse not configured: {e}", file=sys.stderr)


def process(pipeline, image_path: Path, output_dir: Path, seed: int, num_steps: int):
    import torch
    from PIL import Image
    final = output_dir / image_path.stem
    tmp = output_dir / (image_path.stem + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    image = pipeline.preprocess_image(Image.open(image_path).convert("RGBA"))
    image.save(tmp / "image.png")
    cond = pipeline.get_cond([image])
    torch.save(cond["cond"].cpu(), tmp / "features.pt")
    torch.manual_seed(seed)
    params = {"steps": num_steps}
    coords = pipeline.sample_sparse_structure(cond, num_samples=1, sampler_params=params)
    torch.save(coords.cpu(), tmp / "coords.pt")
    slat = pipeline.sample_slat(cond, coords, sampler_params=params)
    torch.save({"feats": slat.feats.cpu(), "coords": slat.coords.cpu()}, tmp / "slat.pt")
    outputs = pipeline.decode_slat(slat, formats=["gaussian"])
    gaussians = outputs["gaussian"][0] if isinstance(outputs["gaussian"], list) else outputs["gaussian"]
    gaussians.save_ply(str(tmp / "gaussians.ply"))
    meta = {"source_image": str(image_path), "seed": seed, "num_steps": num_steps,
            "num_gaussians": int(gaussians.get_xyz.shape[0]), "num_occupied_voxels": int(coords.shape[0]),
            "feature_shape": list(cond["cond"].shape), "slat_shape": list(slat.feats.shape),
            # coords.pt is on TRELLIS's Z-up grid; save_ply rotated gaussians.ply to Y-up (fresnel rotates coords).
            "coords_frame": "trellis_z_up"}
    (tmp / "metadata.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    del cond, coords, slat, outputs, gaussians
    gc.collect()
    torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True, help="text file, one image path per line")
    ap.add_argument("--output_dir", required=True)
    ap.add_argument("--num_steps", type=int, default=12)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    images = [Path(line) for line in Path(args.images).read_text().splitlines() if line.strip()]
    configure_torchsparse()
    from trellis.pipelines import TrellisImageTo3DPipeline
    pipeline = TrellisImageTo3DPipeline.from_pretrained("JeffreyXiang/TRELLIS-image-large")
    pipeline.cuda()
    for image_path in images:
        print(f"processing {image_path.name}", flush=True)
        process(pipeline, image_path, Path(args.output_dir), args.seed, args.num_steps)  # raises → exit 1


if __name__ == "__main__":
    main()
