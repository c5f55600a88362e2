#!/usr/bin/env python3
"""Make a seeded SAM 2.1 checkpoint whose masks and scores behave like a trained model's.

No trained weights can be downloaded on the test machines, and a freshly initialised SAM 2 gives
mask logits of about +-0.3 with a checkerboard texture and predicted IoUs of 0.5 +- 0.03, so the
default thresholds (pred_iou_thresh 0.88/0.8, stability_score_thresh 0.95) drop every mask and
the later stages (stability, NMS, RLE, crops) are never exercised. This script builds the real
architecture with `torch.manual_seed(seed)` weights and then changes only the mask decoder's
output layers (the "recipe", deterministic for a given seed, always computed on the CPU):

1. Upscaling: both transposed convolutions of `output_upscaling` (kernel 2, stride 2) get the
   same weights at all four kernel taps (tap (0, 0) copied), i.e. they upsample like nearest
   neighbour. Masks become blobs that follow the image features instead of a 2x2 checkerboard.
2. Calibration: the model (encoder included) runs once on a seeded procedural picture
   (`calibration_image(seed + 1)`: a smooth gradient with 24 flat ellipses) and the decoder on an
   8x8 grid of single positive points (`--calib-points`).
3. Mask hypernetworks: the last linear layer of each `output_hypernetworks_mlps[i]` is centred
   (its bias loses the mean output over the calibration points, so the mask depends on the
   point instead of being one shared mask), then its weight and bias are multiplied so that the
   calibration logits have a standard deviation of `--logit-std` (default 10; the factor is
   about 450 for t). On photographs the low-res logits then span +-32 and beyond (the predictor
   clamps at +-32), stability scores spread over 0.5..1 (median about 0.87) and masks are blobs
   that follow image regions, of every size.
4. IoU head: the last linear layer of `iou_prediction_head` is centred and scaled so that its
   pre-sigmoid output has mean `--iou-mean` (1.5) and standard deviation `--iou-std` (1.0) over
   the calibration points: on photographs predicted IoUs spread over about 0.5..0.99 (10 %
   quantile 0.59, median 0.88).

With the defaults (pred_iou_thresh 0.8, stability_score_thresh 0.95) about one candidate in ten
survives the filters on a photograph, before NMS.

The result is saved as {"model": state_dict} like the official checkpoints, loads with
`build_sam2(config, path)` and exports with scripts/export_sam2.py.

    PYTHONPATH=<sam2 source>:<shim> python3 scripts/make_test_checkpoint.py --config t --seed 0 --out t.pt
"""
import argparse
import json
import math
import sys

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0] if "/" in __file__ else ".")
from export_sam2 import CONFIGS, ensure_sdpa  # noqa: E402


def _last_linear(mlp):
    return mlp.layers[-1]


def calibration_image(seed, size=1024):
    """A seeded procedural picture (smooth background and 24 flat ellipses), uint8 HWC."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    c0, c1 = torch.rand(3, generator=g) * 255, torch.rand(3, generator=g) * 255
    t = (xx + yy)[..., None] / (2 * size)
    img = c0 * (1 - t) + c1 * t
    for _ in range(24):
        cx, cy = (torch.rand(2, generator=g) * size).tolist()
        rx, ry = (torch.rand(2, generator=g) * size / 6 + size / 40).tolist()
        inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
        img[inside] = torch.rand(3, generator=g) * 255
    img = img + torch.randn(img.shape, generator=g) * 4
    return img.clamp(0, 255).round().to(torch.uint8).numpy()


@torch.no_grad()
def _image_features(model, seed):
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    predictor = SAM2ImagePredictor(model)
    predictor.set_image(calibration_image(seed))
    f = predictor._features
    return f["image_embed"], f["high_res_feats"]


@torch.no_grad()
def _calibration_outputs(model, features, points):
    """Runs the decoder on the calibration points; returns the hooked outputs and the mask logits."""
    dec = model.sam_mask_decoder
    pe = model.sam_prompt_encoder
    emb, (s0, s1) = features
    n = int(math.isqrt(points))
    grid = (torch.arange(n, dtype=torch.float32, device=emb.device) + 0.5) / n * model.image_size
    xy = torch.stack(torch.meshgrid(grid, grid, indexing="xy"), -1).reshape(-1, 1, 2)
    labels = torch.ones(xy.shape[0], 1, dtype=torch.int32, device=emb.device)
    sparse, dense = pe(points=(xy, labels), boxes=None, masks=None)
    captured = {}
    hooks = [
        _last_linear(dec.iou_prediction_head).register_forward_hook(
            lambda m, i, o: captured.__setitem__("iou", o)),
    ]
    for k, mlp in enumerate(dec.output_hypernetworks_mlps):
        hooks.append(mlp.register_forward_hook(lambda m, i, o, k=k: captured.__setitem__(f"h{k}", o)))
    try:
        masks, _, _, _ = dec.predict_masks(emb, pe.get_dense_pe(), sparse, dense, repeat_image=True,
                                           high_res_features=[s0, s1])
    finally:
        for h in hooks:
            h.remove()
    return captured, masks


@torch.no_grad()
def apply_recipe(model, seed=0, logit_std=10.0, iou_mean=1.5, iou_std=1.0, calib_points=64):
    """Changes `model`'s mask decoder in place (see the module doc); returns a summary dict."""
    dec = model.sam_mask_decoder
    dc1, dc2 = dec.output_upscaling[0], dec.output_upscaling[3]
    for conv in (dc1, dc2):
        conv.weight.copy_(conv.weight[:, :, :1, :1].expand_as(conv.weight))

    features = _image_features(model, seed + 1)
    cap, masks = _calibration_outputs(model, features, calib_points)
    # Centre each hypernetwork: subtract the mean output over the calibration points.
    for k, mlp in enumerate(dec.output_hypernetworks_mlps):
        _last_linear(mlp).bias.sub_(cap[f"h{k}"].mean(0))
    cap, masks = _calibration_outputs(model, features, calib_points)
    mask_scale = logit_std / masks.std().item()
    for mlp in dec.output_hypernetworks_mlps:
        lin = _last_linear(mlp)
        lin.weight.mul_(mask_scale)
        lin.bias.mul_(mask_scale)

    lin = _last_linear(dec.iou_prediction_head)
    raw = cap["iou"]
    iou_scale = iou_std / (raw - raw.mean(0)).std().item()
    lin.weight.mul_(iou_scale)
    lin.bias.copy_((lin.bias - raw.mean(0)) * iou_scale + iou_mean)

    cap, masks = _calibration_outputs(model, features, calib_points)
    iou = torch.sigmoid(cap["iou"])
    return {
        "seed": seed,
        "mask_logit_scale": mask_scale,
        "iou_scale": iou_scale,
        "calibration_logits": {"std": masks.std().item(), "min": masks.min().item(), "max": masks.max().item()},
        "calibration_iou": {"min": iou.min().item(), "median": iou.median().item(), "max": iou.max().item()},
    }


def make_checkpoint(config, seed=0, **recipe):
    from sam2.build_sam import build_sam2

    torch.manual_seed(seed)
    model = build_sam2(CONFIGS.get(config, config), None, device="cpu")
    summary = apply_recipe(model.eval(), seed=seed, **recipe)
    return model, summary


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help=f"one of {', '.join(CONFIGS)} or a sam2 config path")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--logit-std", type=float, default=10.0)
    p.add_argument("--iou-mean", type=float, default=1.5)
    p.add_argument("--iou-std", type=float, default=1.0)
    p.add_argument("--calib-points", type=int, default=64)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    ensure_sdpa()
    model, summary = make_checkpoint(args.config, args.seed, logit_std=args.logit_std, iou_mean=args.iou_mean,
                                     iou_std=args.iou_std, calib_points=args.calib_points)
    torch.save({"model": model.state_dict()}, args.out)
    summary["config"] = args.config
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
