#!/usr/bin/env python3
"""Run the official SAM2AutomaticMaskGenerator and sam2-amg on the same images, weights and
parameters, and report how far apart their masks are.

    python3 scripts/compare_reference.py --checkpoint ckpt.pt --config t --model export.pt \
        --amg-config run.yaml --images img1.png img2.jpg [--sam2-amg build/apps/sam2-amg/sam2-amg]

`--amg-config` is a sam2-amg YAML file; its AMG keys are given to both sides (sam2-amg's output
filters, which the reference lacks, are turned off). The reference runs
in fp32 without autocast. Its convolutions use cuDNN TF32 as the export's traced convolutions do
(the metadata key `cudnn_allow_tf32`; exports without it were traced with PyTorch's default,
True), unless --cudnn-tf32 says otherwise; matmul TF32 is --matmul-tf32 (default off, PyTorch's
default), given to both sides (sam2-amg's --matmul-tf32). Both only matter on
Ampere and later GPUs. Masks are matched as sets (greedy by IoU), so list positions are not
compared (NMS order of equal scores is stable in torchvision >= 0.12 except in its "vanilla"
path, see docs/parity.md). Reported per image and in
total: mask counts, the share matched at IoU >= 0.99 each way, max |delta predicted_iou| and
|delta stability_score| over matched pairs, the unmatched masks with their scores (to tell
threshold-edge cases from bugs), and both timings.
"""
import argparse
import json
import subprocess
import sys
import time

import numpy as np

try:
    import torch
    import yaml
except ImportError as e:
    sys.exit(f"compare_reference.py needs torch and PyYAML: {e}")

sys.path.insert(0, __import__("os").path.dirname(__file__))
from export_sam2 import CONFIGS, ensure_sdpa  # noqa: E402

AMG_KEYS = ["points_per_side", "points_per_batch", "pred_iou_thresh", "stability_score_thresh",
            "stability_score_offset", "mask_threshold", "box_nms_thresh", "crop_n_layers", "crop_nms_thresh",
            "crop_overlap_ratio", "crop_n_points_downscale_factor", "min_mask_region_area", "use_m2m",
            "multimask_output"]


# sam2-amg's output filters are extensions the reference does not have: the comparison runs
# sam2-amg with them off, whatever the YAML file says (these flags override it).
EXTENSION_FILTERS_OFF = ["--min-area", "0", "--max-area", "0", "--min-area-fraction", "0", "--max-area-fraction", "0",
                         "--max-masks-per-image", "0", "--sort-by", "reference"]


def rle_decode(seg):
    h, w = seg["size"]
    flat = np.zeros(h * w, dtype=bool)
    pos, val = 0, False
    for c in seg["counts"]:
        flat[pos:pos + c] = val
        pos += c
        val = not val
    return flat.reshape(w, h).T


def load_image(path):
    from PIL import Image, ImageOps
    # EXIF orientation applied, as sam2-amg does by default (--exif apply).
    with Image.open(path) as im:
        return np.array(ImageOps.exif_transpose(im).convert("RGB"))


def amg_kwargs(path):
    """The SAM2AutomaticMaskGenerator keyword arguments in a sam2-amg YAML file."""
    with open(path) as f:
        cfg = yaml.safe_load(f) or {}
    kwargs = {k: cfg[k] for k in AMG_KEYS if k in cfg}
    if isinstance(kwargs.get("crop_overlap_ratio"), str):
        n, d = kwargs["crop_overlap_ratio"].split("/")
        kwargs["crop_overlap_ratio"] = float(n) / float(d)
    return kwargs


def reference_generator(checkpoint, config, device, no_postprocessing, kwargs, output_mode="uncompressed_rle"):
    """The official generator on `checkpoint`, with the image resize the reference really does."""
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
    from sam2.build_sam import build_sam2
    import torchvision

    model = build_sam2(CONFIGS.get(config, config), checkpoint, device=device,
                       apply_postprocessing=not no_postprocessing)
    gen = SAM2AutomaticMaskGenerator(model, output_mode=output_mode, **kwargs)
    # torchvision < 0.17 resizes tensors without antialias; the reference (torchvision >= 0.20)
    # antialiases. Pin it so old installs compare against what the reference really does.
    tr = gen.predictor._transforms
    tr.transforms = torch.nn.Sequential(torchvision.transforms.Resize((tr.resolution, tr.resolution), antialias=True),
                                        torchvision.transforms.Normalize(tr.mean, tr.std))
    return gen


def export_metadata(path):
    """The sam2_amg.json of a TorchScript export, read from the zip archive without loading it."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.endswith("/extra/sam2_amg.json"):
                return json.loads(z.read(name))
    raise SystemExit(f"{path} has no sam2_amg.json: not a sam2-amg export")


def connected_components_available():
    """Whether sam2's CUDA extension imports: without it the reference skips the hole filling of
    min_mask_region_area (with a warning) inside SAM2ImagePredictor."""
    try:
        from sam2 import _C  # noqa: F401
        return True
    except Exception:
        return False


def on_off(value):
    return {"on": True, "off": False}[value]


def score_delta(a, b):
    """|a - b| for scores that may be NaN (JSON null): 0 when both are, inf when one is."""
    a = float("nan") if a is None else float(a)
    b = float("nan") if b is None else float(b)
    if np.isnan(a) or np.isnan(b):
        return 0.0 if np.isnan(a) and np.isnan(b) else float("inf")
    return abs(a - b)


def run_sam2_amg(binary, amg_config, model, images, flags):
    """sam2-amg over the images in one process, JSON lines on stdout, its extension filters off:
    ({image path: annotations}, seconds). Exits with its stderr's tail if it fails."""
    cmd = [binary, "--config", amg_config, "--model", model, "--output-mode", "uncompressed_rle", "--jsonl", "-",
           "--progress", "none", "-q", *EXTENSION_FILTERS_OFF, *flags, "--input", *images]
    t0 = time.time()
    run = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.time() - t0
    if run.returncode != 0:
        sys.exit(f"sam2-amg {' '.join(flags)} failed ({run.returncode}): {run.stderr[-2000:]}")
    by_path = {}
    for line in run.stdout.splitlines():
        rec = json.loads(line)
        if rec.get("type") == "image":  # not the run record (the first line)
            by_path[rec["image"]["path"]] = rec["annotations"]
    return by_path, seconds


def write_report(summary, details, path):
    """Prints the summary and, where asked, writes it with the per-image details as JSON."""
    print(json.dumps(summary, indent=2))
    if path:
        with open(path, "w") as f:
            json.dump({"summary": summary, "images": details}, f, indent=2)


def pair_intersections(ref, ours, device):
    """(len(ref), len(ours)) pixel intersections and both areas, exact: float32 sums of 0/1 are
    exact below 2**24 pixels. On CUDA the product runs there with TF32 off (thousands of masks of
    a crop layer would take minutes and tens of GB as a host product)."""
    a = np.stack([r["mask"].ravel() for r in ref])
    b = np.stack([o["mask"].ravel() for o in ours])
    if str(device).startswith("cuda"):
        prev = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = False
        try:
            ta = torch.from_numpy(a).to(device).float()
            tb = torch.from_numpy(b).to(device).float()
            inter = (ta @ tb.T).double().cpu().numpy()
            return inter, ta.sum(1).double().cpu().numpy(), tb.sum(1).double().cpu().numpy()
        finally:
            torch.backends.cuda.matmul.allow_tf32 = prev
    a, b = a.astype(np.float32), b.astype(np.float32)
    return a @ b.T, a.sum(1), b.sum(1)


def match(ref, ours, device="cpu"):
    """Greedy one-to-one matching by mask IoU, highest first (ties: closest predicted_iou)."""
    if not ref or not ours:
        return [], list(range(len(ref))), list(range(len(ours)))
    inter, area_a, area_b = pair_intersections(ref, ours, device)
    union = area_a[:, None] + area_b[None, :] - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    # Equal IoUs (duplicate masks from neighbouring prompts, common with box_nms_thresh 1.0) are
    # paired by the closest predicted_iou, so that score differences are not inflated.
    score = lambda recs: np.array([np.nan if r["predicted_iou"] is None else r["predicted_iou"] for r in recs])  # noqa: E731
    gap = np.nan_to_num(np.abs(score(ref)[:, None] - score(ours)[None, :]), nan=np.inf)
    pairs, used_r, used_o = [], set(), set()
    for flat in np.lexsort((gap.ravel(), -iou.ravel())):
        i, j = divmod(int(flat), iou.shape[1])
        if i in used_r or j in used_o:
            continue
        pairs.append((i, j, float(iou[i, j])))
        used_r.add(i)
        used_o.add(j)
    return pairs, [i for i in range(len(ref)) if i not in used_r], [j for j in range(len(ours)) if j not in used_o]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--config", required=True, help=f"one of {', '.join(CONFIGS)} or a sam2 config path")
    p.add_argument("--model", required=True, help="the sam2-amg export of the same checkpoint")
    p.add_argument("--amg-config", required=True, help="sam2-amg YAML with the AMG parameters for both sides")
    p.add_argument("--images", nargs="+", required=True)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--no-postprocessing", action="store_true", help="build_sam2(apply_postprocessing=False)")
    p.add_argument("--sam2-amg", default="sam2-amg", help="path of the sam2-amg binary")
    p.add_argument("--decoder", choices=("export", "native", "auto"), default="export",
                   help="sam2-amg's --decoder (default export: the export's graphs, the reference's arithmetic)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU intra-op threads of both sides (default: PyTorch's own count, passed to sam2-amg): "
                        "the thread count changes the float summation order on each side, so a bit-for-bit "
                        "comparison needs the same count on both")
    p.add_argument("--sam2-amg-arg", action="append", default=[],
                   help="extra argument for sam2-amg (repeatable), e.g. its matmul TF32 option")
    p.add_argument("--cudnn-tf32", choices=("model", "on", "off"), default="model",
                   help="torch.backends.cudnn.allow_tf32 for the reference (default: as the export was traced)")
    p.add_argument("--matmul-tf32", choices=("on", "off"), default="off",
                   help="torch.backends.cuda.matmul.allow_tf32 for the reference (default off)")
    p.add_argument("--json", help="also write the report here")
    args = p.parse_args()

    ensure_sdpa()
    meta = export_metadata(args.model)
    if args.cudnn_tf32 == "model":
        cudnn_tf32 = bool(meta.get("cudnn_allow_tf32", True))
    else:
        cudnn_tf32 = on_off(args.cudnn_tf32)
    if "cudnn_allow_tf32" in meta and cudnn_tf32 != meta["cudnn_allow_tf32"]:
        print(f"note: the reference runs with cuDNN TF32 {cudnn_tf32}, the export was traced with "
              f"{meta['cudnn_allow_tf32']}", file=sys.stderr)
    torch.backends.cuda.matmul.allow_tf32 = on_off(args.matmul_tf32)
    torch.backends.cudnn.allow_tf32 = cudnn_tf32
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    kwargs = amg_kwargs(args.amg_config)
    gen = reference_generator(args.checkpoint, args.config, args.device, args.no_postprocessing, kwargs)

    flags = ["--device", args.device.split(":")[0], f"--matmul-tf32={'true' if args.matmul_tf32 == 'on' else 'false'}",
             "--decoder", args.decoder, "--threads", str(threads), *args.sam2_amg_arg]
    ours_by_path, ours_time = run_sam2_amg(args.sam2_amg, args.amg_config, args.model, args.images, flags)

    report, totals = [], {"ref": 0, "ours": 0, "ref_matched": 0, "ours_matched": 0, "ref_time": 0.0,
                      "iou_sum": 0.0, "iou_n": 0, "count_changed": 0}
    worst_iou, worst_stab = 0.0, 0.0
    for path in args.images:
        image = load_image(path)
        t = time.time()
        with torch.no_grad():
            ref = gen.generate(image)
        totals["ref_time"] += time.time() - t
        for r in ref:
            r["mask"] = rle_decode(r["segmentation"])
        ours = [{**a, "mask": rle_decode(a["segmentation"])} for a in ours_by_path.get(path, [])]
        pairs, ref_only, ours_only = match(ref, ours, args.device)
        good = [(i, j) for i, j, v in pairs if v >= 0.99]
        for i, j in good:
            worst_iou = max(worst_iou, score_delta(ref[i]["predicted_iou"], ours[j]["predicted_iou"]))
            worst_stab = max(worst_stab, score_delta(ref[i]["stability_score"], ours[j]["stability_score"]))
        unmatched = ([{"side": "reference", "predicted_iou": ref[i]["predicted_iou"],
                       "stability_score": ref[i]["stability_score"], "area": ref[i]["area"]} for i in ref_only] +
                     [{"side": "sam2-amg", "predicted_iou": ours[j]["predicted_iou"],
                       "stability_score": ours[j]["stability_score"], "area": ours[j]["area"]} for j in ours_only] +
                     [{"side": "both, IoU %.4f" % v, "predicted_iou": ref[i]["predicted_iou"],
                       "stability_score": ref[i]["stability_score"], "area": ref[i]["area"]}
                      for i, j, v in pairs if v < 0.99])
        report.append({"image": path, "reference": len(ref), "sam2_amg": len(ours), "matched_0.99": len(good),
                       "unmatched": unmatched})
        totals["ref"] += len(ref)
        totals["ours"] += len(ours)
        # Mean IoU over the union of both sets: each greedy pair counts its IoU, an unmatched
        # mask counts 0 (the bf16-against-fp32 goal is stated this way).
        n_union = len(pairs) + len(ref_only) + len(ours_only)
        totals["iou_sum"] += sum(v for _, _, v in pairs)
        totals["iou_n"] += n_union
        totals["count_changed"] += int(len(ref) != len(ours))
        totals["ref_matched"] += len(good)
        totals["ours_matched"] += len(good)

    for r in report:
        print(f"{r['image']}: reference {r['reference']}, sam2-amg {r['sam2_amg']}, matched at IoU>=0.99 {r['matched_0.99']}")
        for u in r["unmatched"][:20]:
            iou, stab = (float("nan") if v is None else v for v in (u["predicted_iou"], u["stability_score"]))
            print(f"    unmatched ({u['side']}): predicted_iou {iou:.6f}, stability {stab:.6f}, area {u['area']}")
    share = lambda m, n: 1.0 if n == 0 else m / n  # noqa: E731
    summary = {
        "images": len(args.images), "reference_masks": totals["ref"], "sam2_amg_masks": totals["ours"],
        "reference_matched_share": share(totals["ref_matched"], totals["ref"]),
        "sam2_amg_matched_share": share(totals["ours_matched"], totals["ours"]),
        "mean_iou": 1.0 if totals["iou_n"] == 0 else totals["iou_sum"] / totals["iou_n"],
        "images_with_count_change": totals["count_changed"],
        "max_abs_delta_predicted_iou": worst_iou, "max_abs_delta_stability_score": worst_stab,
        "reference_seconds": totals["ref_time"], "sam2_amg_seconds": ours_time,
        "device": args.device, "sam2_amg_decoder": args.decoder, "threads": threads,
        "amg_params": kwargs,
        "reference_cudnn_tf32": cudnn_tf32, "reference_matmul_tf32": on_off(args.matmul_tf32),
        "export": {k: meta.get(k) for k in ("architecture", "precision", "device", "cudnn_allow_tf32", "torch_version")},
        "reference_torch_version": torch.__version__,
        "reference_connected_components": connected_components_available(),
    }
    write_report(summary, report, args.json)


if __name__ == "__main__":
    main()
