#!/usr/bin/env python3
"""Run sam2-amg twice on the same images and parameters with two sets of flags (by default
`--decoder export`, the export's graphs, against `--decoder native`) and report how far apart
the masks are, prompt point by prompt point.

    python3 scripts/compare_decoders.py --model export.pt --amg-config run.yaml \
        --images a.png b.jpg [--sam2-amg build/apps/sam2-amg/sam2-amg] [--json report.json]

Every mask a run outputs carries the prompt point it came from (`point_coords`). For each point
that has a mask in either run, the masks of that point are paired greedily by IoU (as
compare_reference.py pairs whole sets); the point's IoU is the sum of its pairs' IoUs over the
number of pairs and unpaired masks (an unpaired mask, which only one run has, counts 0). Reported: the mean of that
over points, the share of points whose mask count differs, the images whose mask count differs,
the largest score differences of pairs at IoU >= 0.99, and both runs' seconds.
"""
import argparse
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(__file__))
from compare_reference import match, rle_decode, run_sam2_amg, score_delta, write_report  # noqa: E402


def run_side(binary, model, amg_config, images, flags):
    by_path, seconds = run_sam2_amg(binary, amg_config, model, images, flags)
    decoded = {path: [{**a, "mask": rle_decode(a["segmentation"])} for a in anns] for path, anns in by_path.items()}
    return decoded, seconds


def by_point(records):
    groups = {}
    for r in records:
        groups.setdefault(tuple(round(v, 3) for v in r["point_coords"][0]), []).append(r)
    return groups


def compare(a, b):
    """Per-point IoUs, points whose mask count differs, and the score gaps of good pairs."""
    ga, gb = by_point(a), by_point(b)
    ious, changed, worst = [], 0, {"predicted_iou": 0.0, "stability_score": 0.0}
    for point in set(ga) | set(gb):
        ra, rb = ga.get(point, []), gb.get(point, [])
        pairs, only_a, only_b = match(ra, rb)
        ious.append(sum(v for _, _, v in pairs) / (len(pairs) + len(only_a) + len(only_b)))
        changed += int(len(ra) != len(rb))
        for i, j, v in pairs:
            if v >= 0.99:
                for key in worst:
                    worst[key] = max(worst[key], score_delta(ra[i][key], rb[j][key]))
    return ious, changed, worst


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--amg-config", required=True, help="sam2-amg YAML with the AMG parameters for both runs")
    p.add_argument("--images", nargs="+", required=True)
    p.add_argument("--sam2-amg", default="sam2-amg", help="path of the sam2-amg binary")
    p.add_argument("--a", default="--decoder export", help="flags of the first run (default: %(default)s)")
    p.add_argument("--b", default="--decoder native", help="flags of the second run (default: %(default)s)")
    p.add_argument("--json", help="also write the report here")
    args = p.parse_args()

    a, a_seconds = run_side(args.sam2_amg, args.model, args.amg_config, args.images, shlex.split(args.a))
    b, b_seconds = run_side(args.sam2_amg, args.model, args.amg_config, args.images, shlex.split(args.b))
    images, all_ious, points_changed, images_changed = [], [], 0, 0
    worst = {"predicted_iou": 0.0, "stability_score": 0.0}
    for path in args.images:
        ra, rb = a.get(path, []), b.get(path, [])
        ious, changed, w = compare(ra, rb)
        all_ious += ious
        points_changed += changed
        images_changed += int(len(ra) != len(rb))
        worst = {k: max(worst[k], w[k]) for k in worst}
        images.append({"image": path, "masks_a": len(ra), "masks_b": len(rb), "points": len(ious),
                       "mean_point_iou": sum(ious) / len(ious) if ious else 1.0, "points_count_changed": changed})
        print(f"{path}: masks {len(ra)} / {len(rb)}, points {len(ious)}, mean IoU by point "
              f"{images[-1]['mean_point_iou']:.5f}, points whose mask count changed {changed}")
    summary = {
        "a": args.a, "b": args.b, "images": len(args.images), "points": len(all_ious),
        "mean_point_iou": sum(all_ious) / len(all_ious) if all_ious else 1.0,
        "min_point_iou": min(all_ious) if all_ious else 1.0,
        "points_count_changed": points_changed, "images_count_changed": images_changed,
        "max_abs_delta_predicted_iou": worst["predicted_iou"], "max_abs_delta_stability_score": worst["stability_score"],
        "seconds_a": a_seconds, "seconds_b": b_seconds,
    }
    write_report(summary, images, args.json)


if __name__ == "__main__":
    main()
