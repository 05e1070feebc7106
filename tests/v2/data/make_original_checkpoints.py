#!/usr/bin/python3
"""Writes checkpoints like the original's `decoder_exp{E}_epoch{N}.pt` from re-creations of its modules (built
from fresnel_spec.md §4: parameter names, layer order, forward formulas), plus the original's outputs on fixed
inputs, for tests/v2/test_import_checkpoint.cpp. Run once by hand with Debian's python3-torch (1.13):
    /usr/bin/python3 tests/v2/data/make_original_checkpoints.py
Small configs (feature_dim 8, hidden [16, 16]) keep the committed files small; the importer reads layer widths
from the weights, so the original's default [512, 512, 256, 128] converts the same way.
"""
import collections
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(1234)


class MLP(nn.Module):  # §4.1: [Linear→ReLU(→Dropout)]×len(hidden) → Linear, in `net`
    def __init__(self, i, hidden, o, dropout):
        super().__init__()
        layers, prev = [], i
        for h in hidden:
            layers += [nn.Linear(prev, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            prev = h
        layers.append(nn.Linear(prev, o))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class DepthEncoder(nn.Module):  # §4.1, in `encoder`
    def __init__(self, out=64):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1),
                                     nn.ReLU(), nn.Conv2d(64, out, 3, padding=1), nn.ReLU())

    def forward(self, d, h, w):
        return F.adaptive_avg_pool2d(self.encoder(d), (h, w))


def rot6d_to_quat(r6):  # §4.1 (without the 1e-8 random jitter)
    a1, a2 = r6[..., 0:3], r6[..., 3:6]
    b1 = F.normalize(a1, dim=-1, eps=1e-6)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1, eps=1e-6)
    b3 = torch.cross(b1, b2, dim=-1)
    R = torch.stack([b1, b2, b3], dim=-1)  # columns
    m00, m11, m22 = R[..., 0, 0], R[..., 1, 1], R[..., 2, 2]
    tr = m00 + m11 + m22
    s1 = torch.sqrt((tr + 1).clamp(min=1e-10)) * 2
    q1 = torch.stack([0.25 * s1, (R[..., 2, 1] - R[..., 1, 2]) / s1, (R[..., 0, 2] - R[..., 2, 0]) / s1,
                      (R[..., 1, 0] - R[..., 0, 1]) / s1], -1)
    s2 = torch.sqrt((1 + m00 - m11 - m22).clamp(min=1e-10)) * 2
    q2 = torch.stack([(R[..., 2, 1] - R[..., 1, 2]) / s2, 0.25 * s2, (R[..., 0, 1] + R[..., 1, 0]) / s2,
                      (R[..., 0, 2] + R[..., 2, 0]) / s2], -1)
    s3 = torch.sqrt((1 + m11 - m00 - m22).clamp(min=1e-10)) * 2
    q3 = torch.stack([(R[..., 0, 2] - R[..., 2, 0]) / s3, (R[..., 0, 1] + R[..., 1, 0]) / s3, 0.25 * s3,
                      (R[..., 1, 2] + R[..., 2, 1]) / s3], -1)
    s4 = torch.sqrt((1 + m22 - m00 - m11).clamp(min=1e-10)) * 2
    q4 = torch.stack([(R[..., 1, 0] - R[..., 0, 1]) / s4, (R[..., 0, 2] + R[..., 2, 0]) / s4,
                      (R[..., 1, 2] + R[..., 2, 1]) / s4, 0.25 * s4], -1)
    c1 = (tr > 0).unsqueeze(-1)
    c2 = ((m00 > m11) & (m00 > m22)).unsqueeze(-1)
    c3 = (m11 > m22).unsqueeze(-1)
    q = torch.where(c1, q1, torch.where(c2, q2, torch.where(c3, q3, q4)))
    return F.normalize(q, dim=-1)


class DirectPatchDecoder(nn.Module):  # §4.2 (depth fusion, phase output; no zones/edges/pose)
    def __init__(self, feature_dim, K, hidden, depth_dim):
        super().__init__()
        self.K = K
        self.depth_encoder = DepthEncoder(depth_dim)
        self.mlp = MLP(feature_dim + depth_dim, hidden, K * 19, 0.1)
        self.depth_offset = nn.Parameter(torch.tensor(-2.0))

    def forward(self, features, depth):
        B, C, H, W = features.shape
        x = torch.cat([features, self.depth_encoder(depth, H, W)], 1)
        out = self.mlp(x.permute(0, 2, 3, 1).reshape(B * H * W, x.shape[1])).reshape(B, H, W, self.K, 19)
        yg, xg = torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, W), indexing="ij")
        dg = F.interpolate(depth, (H, W), mode="bilinear", align_corners=False).squeeze(1).unsqueeze(-1)
        dg = dg.expand(-1, -1, -1, self.K)
        pos = torch.stack([xg[None, ..., None] + out[..., 0] * 0.25, yg[None, ..., None] + out[..., 1] * 0.25,
                           self.depth_offset + dg * (-2)], -1)
        scales = torch.clamp(F.softplus(torch.clamp(out[..., 3:6], -10, 20) + 1.0) * 0.15, 1e-6, 2.0)
        n = B * H * W * self.K
        return {"positions": pos.reshape(B, n, 3), "scales": scales.reshape(B, n, 3),
                "rotations": rot6d_to_quat(out[..., 6:12]).reshape(B, n, 4),
                "colors": torch.sigmoid(out[..., 12:15]).reshape(B, n, 3),
                "opacities": torch.sigmoid(out[..., 15]).reshape(B, n),
                "phases": (torch.sigmoid(out[..., 16:19]) * 2 * math.pi).reshape(B, n, 3),
                "depth_grid": dg.reshape(B, n)}


class SAAGRefinementNet(nn.Module):  # §4.3: names only (the import test checks the mapping)
    def __init__(self, feature_dim, hidden):
        super().__init__()
        self.mlp = MLP(feature_dim + 14, hidden, 16, 0.1)
        self.pos_scale = nn.Parameter(torch.tensor(0.05))
        self.scale_scale = nn.Parameter(torch.tensor(0.1))
        self.color_scale = nn.Parameter(torch.tensor(0.1))
        self.opacity_scale = nn.Parameter(torch.tensor(0.1))


class FeatureGuidedSAAG(nn.Module):  # §4.3
    def __init__(self, feature_dim, hidden=64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(feature_dim, hidden), nn.ReLU(), nn.Linear(hidden, 6))


def config(experiment, feature_dim, **extra):
    c = {"experiment": experiment, "feature_dim": feature_dim, "gaussians_per_patch": 2, "use_fresnel_zones": False,
         "num_fresnel_zones": 8, "use_edge_aware": False, "use_phase_output": True, "use_phase_blending": False,
         "edge_scale_factor": 0.5, "edge_opacity_boost": 0.2, "use_pose_encoding": False, "use_depth_fusion": True,
         "depth_feature_dim": 4, "image_size": 64, "lr": 1e-4, "data_dir": "data/training", "fast_mode": True}
    c.update(extra)
    return c


def save_checkpoint(model, cfg, name, epoch=3, step=True):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-5)
    if step:  # one step, so the optimizer state is populated as in a real checkpoint
        for p in model.parameters():
            p.grad = torch.ones_like(p) * 1e-3
        opt.step()
    torch.save({"epoch": epoch, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
                "losses": {"total": 0.5, "rgb": 0.25}, "config": cfg}, os.path.join(HERE, name))


with torch.no_grad():
    exp2 = DirectPatchDecoder(feature_dim=8, K=2, hidden=[16, 16], depth_dim=4)
    for p in exp2.parameters():  # spread the weights so every slot's activation is exercised
        p.add_(torch.randn_like(p) * 0.3)
    exp2.depth_offset.fill_(-1.5)
save_checkpoint(exp2, config(2, 8), "orig_decoder_exp2_epoch3.pt")
exp2.eval()
features = torch.randn(1, 8, 37, 37)
depth = torch.rand(1, 1, 16, 16)
with torch.no_grad():
    out = exp2(features, depth)
torch.save({"features": features, "depth": depth, **out}, os.path.join(HERE, "orig_decoder_exp2_outputs.pt"))

# Experiments 1 and 3 have fixed widths in the original (and here): [256, 128] and 64.
save_checkpoint(SAAGRefinementNet(8, [256, 128]), config(1, 8, use_depth_fusion=False), "orig_decoder_exp1_epoch1.pt",
                1, step=False)
save_checkpoint(FeatureGuidedSAAG(8), config(3, 8, use_depth_fusion=False), "orig_decoder_exp3_epoch0.pt", 0,
                step=False)
