#!/usr/bin/env python3
"""The fast decoder form (scripts/fast_decoder.py) against the reference's decoder on a real SAM 2
architecture: float32 equality, and bf16 masks against the float32 reference's.

    PYTHONPATH=<sam2 source>:<sam2-shim> python3 scripts/compare_fast_decoder.py --config t \
        [--checkpoint ckpt.pt] --images a.png b.jpg c.png [--device cpu|cuda] [--json out.json]

Without --checkpoint the model gets seeded weights with scripts/make_test_checkpoint.py's recipe
(decoder output layers scaled so logits and scores vary like a trained model's). Reported:

1. float32, fast against exact (`export_sam2.fast_vs_exact`, random embeddings, both decoder
   methods), then on each image's embedding over the point grid: max |difference| of the
   low-res logits of all four tokens and of the predicted IoUs; beside it the exact decoder
   against itself with the first 8 prompts run one at a time (rounding from batching alone),
   and both float32 forms against the exact decoder run in float64 (each one's own error);
2. bf16 (fp16 with --precision fp16), both forms in the reduced precision on the same
   embeddings (the float32 image encoder's, rounded once): the masks of the multimask tokens
   1..3, upsampled to the image size as the predictor does and thresholded at 0, against the
   float32 exact decoder's: mean IoU (over masks non-empty on either side) and the share at IoU
   >= 0.99; for the exact bf16 form (what `--decoder exact --precision bf16` exports) and the
   fast one. The question is whether the fast form is as close as the exact form.
3. The eager (Python, untraced) decoder time of each form over the grid, first call included:
   an indication only (sam2-amg runs the traced files; `sam2-amg bench` measures them).

The image encoder runs once per image, in float32. Keep CPU runs small: --threads (default 2),
--points-per-side (default 16) and --batch (default 16) bound the time and the memory.
"""
import argparse
import copy
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_sam2 import AmgModel, CONFIGS, DTYPES, FastAmgModel, ensure_sdpa, fast_vs_exact  # noqa: E402


def load_image(path):
    from PIL import Image
    import numpy as np
    with Image.open(path) as im:
        return torch.from_numpy(np.array(im.convert("RGB")))


def model_input(img, size, device):
    """ref: SAM2Transforms: x / 255, square antialiased resize, ImageNet normalisation."""
    x = img.permute(2, 0, 1).unsqueeze(0).float().div(255.0)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    return ((x - mean) / std).to(device)


def grid_points(n, h, w, size):
    """ref: amg.py build_point_grid, scaled to the image and then to model space (x / w * S)."""
    c = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    pts = torch.stack([xx.flatten() * w, yy.flatten() * h], -1)
    model = pts / torch.tensor([w, h], dtype=torch.float64) * size
    return model.float()


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def decode(wrapper, emb, pts, batch, device, times=None, key=None):
    """The decoder over all points in calls of `batch`; float32 outputs on the CPU (float64 from a
    float64 decoder). The eager
    time of the calls (first call included) is added to times[key]."""
    logits, ious = [], []
    _sync(device)
    t0 = time.time()
    with torch.no_grad():
        for b0 in range(0, pts.shape[0], batch):
            p = pts[b0:b0 + batch]
            coords = torch.cat([p.unsqueeze(1), torch.zeros(p.shape[0], 1, 2)], 1).to(device)
            labels = torch.tensor([[1, -1]], dtype=torch.int32).repeat(p.shape[0], 1).to(device)
            lo, iou = wrapper.predict_masks(*emb, coords, labels)
            keep = torch.float64 if lo.dtype == torch.float64 else torch.float32
            logits.append(lo.to(keep).cpu())
            ious.append(iou.to(keep).cpu())
    _sync(device)
    if times is not None:
        times[key] = round(times.get(key, 0.0) + time.time() - t0, 3)
    return torch.cat(logits), torch.cat(ious)


def mask_agreement(ref_logits, logits, h, w, device="cpu", chunk=8):
    """Mean IoU and share >= 0.99 of the tokens 1..3 masks (upsampled to h x w, > 0)."""
    total, n, good = 0.0, 0, 0
    for b0 in range(0, ref_logits.shape[0], chunk):
        a = F.interpolate(ref_logits[b0:b0 + chunk, 1:].to(device), (h, w), mode="bilinear", align_corners=False) > 0
        b = F.interpolate(logits[b0:b0 + chunk, 1:].to(device), (h, w), mode="bilinear", align_corners=False) > 0
        inter = (a & b).flatten(2).sum(-1).double()
        union = (a | b).flatten(2).sum(-1).double()
        keep = union > 0
        iou = inter[keep] / union[keep]
        total += iou.sum().item()
        n += iou.numel()
        good += (iou >= 0.99).sum().item()
    return {"mean_iou": total / max(n, 1), "share_iou_0.99": good / max(n, 1), "masks": n}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help=f"one of {', '.join(CONFIGS)}")
    p.add_argument("--checkpoint", help="official-format checkpoint (default: seeded, make_test_checkpoint.py)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--images", nargs="+", required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="bf16", choices=("bf16", "fp16"))
    p.add_argument("--points-per-side", type=int, default=16)
    p.add_argument("--batch", type=int, default=16, help="prompts per decoder call")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    ensure_sdpa()
    t0 = time.time()
    if args.checkpoint:
        from sam2.build_sam import build_sam2
        model = build_sam2(CONFIGS[args.config], args.checkpoint, device="cpu")
    else:
        from make_test_checkpoint import make_checkpoint
        model, _ = make_checkpoint(args.config, args.seed)
    model = model.to(args.device).eval()
    print(f"model {args.config} ready ({time.time() - t0:.0f} s)", flush=True)

    result = {"config": args.config, "checkpoint": args.checkpoint or f"seeded (seed {args.seed})",
              "device": args.device, "precision": args.precision, "points_per_side": args.points_per_side,
              "torch": torch.__version__, "images": []}
    result["fp32_random"] = fast_vs_exact(model, args.device, batch_sizes=(1, 3))
    print(f"float32 fast vs exact, random embeddings: {result['fp32_random']}", flush=True)

    exact32 = AmgModel(model).eval()
    fast32 = FastAmgModel(model).eval()
    dtype = DTYPES[args.precision]
    exact16 = AmgModel(copy.deepcopy(model)).cast(args.device, dtype).eval()
    exact64 = AmgModel(copy.deepcopy(model)).cast(args.device, torch.float64).eval()
    fast16 = FastAmgModel(copy.deepcopy(model)).cast(args.device, dtype).eval()
    size = model.image_size
    for path in args.images:
        t1 = time.time()
        img = load_image(path)
        h, w = img.shape[:2]
        with torch.no_grad():
            emb = exact32.encode_image(model_input(img, size, args.device))
        pts = grid_points(args.points_per_side, h, w, size)
        times = {}
        ref_lo, ref_iou = decode(exact32, emb, pts, args.batch, args.device, times, "exact_fp32")
        fast_lo, fast_iou = decode(fast32, emb, pts, args.batch, args.device, times, "fast_fp32")
        # The reference decoder against itself at another batch size (8 prompts one by one): the
        # float32 rounding noise that batching alone gives, the yardstick for fast vs exact.
        one_lo, one_iou = decode(exact32, emb, pts[:8], 1, args.device)
        # Both float32 forms against the reference decoder in float64: how far each is from the
        # exact values, i.e. whether fast vs exact is more than float32 rounding.
        ref64_lo, ref64_iou = decode(exact64, tuple(t.double() for t in emb), pts, args.batch, args.device)
        emb16 = tuple(t.to(dtype) for t in emb)
        ex_lo, ex_iou = decode(exact16, emb16, pts, args.batch, args.device, times, "exact_" + args.precision)
        fa_lo, fa_iou = decode(fast16, emb16, pts, args.batch, args.device, times, "fast_" + args.precision)
        row = {
            "image": os.path.basename(path), "size": [w, h], "prompts": pts.shape[0],
            "logit_range": [ref_lo.min().item(), ref_lo.max().item()],
            "fp32_max_abs_logits": (ref_lo - fast_lo).abs().max().item(),
            "fp32_max_abs_iou": (ref_iou - fast_iou).abs().max().item(),
            "fp32_exact_batch1_vs_batch_max_abs_logits": (one_lo - ref_lo[:8]).abs().max().item(),
            "fp32_exact_vs_fp64_max_abs_logits": (ref_lo.double() - ref64_lo).abs().max().item(),
            "fp32_fast_vs_fp64_max_abs_logits": (fast_lo.double() - ref64_lo).abs().max().item(),
            "fp32_exact_vs_fp64_max_abs_iou": (ref_iou.double() - ref64_iou).abs().max().item(),
            "fp32_fast_vs_fp64_max_abs_iou": (fast_iou.double() - ref64_iou).abs().max().item(),
            "exact_" + args.precision: mask_agreement(ref_lo, ex_lo, h, w, args.device),
            "fast_" + args.precision: mask_agreement(ref_lo, fa_lo, h, w, args.device),
            "exact_max_abs_iou": (ref_iou - ex_iou).abs().max().item(),
            "fast_max_abs_iou": (ref_iou - fa_iou).abs().max().item(),
            "decoder_seconds": times,
            "seconds": round(time.time() - t1, 1),
        }
        result["images"].append(row)
        print(json.dumps(row), flush=True)
    for form in ("exact", "fast"):
        key = f"{form}_{args.precision}"
        rows = [r[key] for r in result["images"]]
        masks = max(1, sum(r["masks"] for r in rows))
        result[f"mean_iou_{key}"] = sum(r["mean_iou"] * r["masks"] for r in rows) / masks
    result["fp32_max_abs_logits"] = max(r["fp32_max_abs_logits"] for r in result["images"])
    result["fp32_max_abs_iou"] = max(r["fp32_max_abs_iou"] for r in result["images"])
    for form in ("exact", "fast"):
        key = f"fp32_{form}_vs_fp64_max_abs_logits"
        result[key] = max(r[key] for r in result["images"])
    print(f"{args.config}: float32 fast vs exact on the images: max |d logits| {result['fp32_max_abs_logits']:.3g}, "
          f"max |d iou| {result['fp32_max_abs_iou']:.3g}; against float64: exact "
          f"{result['fp32_exact_vs_fp64_max_abs_logits']:.3g}, fast {result['fp32_fast_vs_fp64_max_abs_logits']:.3g}; "
          f"{args.precision} masks vs float32 exact, mean IoU: "
          f"exact form {result[f'mean_iou_exact_{args.precision}']:.4f}, "
          f"fast form {result[f'mean_iou_fast_{args.precision}']:.4f} ({time.time() - t0:.0f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
