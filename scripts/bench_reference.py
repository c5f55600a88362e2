#!/usr/bin/env python3
"""Time the official SAM2AutomaticMaskGenerator on given images, checkpoint and parameters.

    python3 scripts/bench_reference.py --checkpoint ckpt.pt --config t --amg-config run.yaml \
        --images a.png b.jpg --device cpu --repeat 3 --json out.json [--no-postprocessing]

The images are decoded as sam2-amg decodes them (EXIF orientation applied, RGB), the AMG
parameters are the AMG keys of a sam2-amg YAML file (as in compare_reference.py), and the model is
built with `build_sam2` from the checkpoint. Decoding and model loading are not timed; one
`generate` on the first image warms up and is not counted. Then every image is processed
`--repeat` times. The JSON holds the setup (torch version, device, threads, BLAS, parameters),
per-image seconds (total, and its split into `set_image`, i.e. the image encoder, and the rest),
masks per image, p50/p90 over all timed runs, images per second, the peak host RSS (ru_maxrss of
the process, model loading included) and, on CUDA, the allocator's peak after the warm-up.

`sam2-amg bench --reference "<command prefix>"` runs this script with `--amg-config`, `--images`
and `--json` appended; keep that argument contract.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

try:
    import torch
except ImportError as e:
    sys.exit(f"bench_reference.py needs torch: {e}")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_reference import amg_kwargs, load_image, on_off, reference_generator  # noqa: E402
from export_sam2 import CONFIGS, ensure_sdpa  # noqa: E402


def blas_in_use():
    """The BLAS/LAPACK libraries mapped into this process, and PyTorch's build-time BLAS_INFO."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                name = line.rsplit("/", 1)[-1].strip()
                if any(k in name for k in ("blas", "mkl_", "libmkl", "lapack", "blis", "accelerate")):
                    libs.add(name)
    except OSError:
        pass
    build = None
    for part in torch.__config__.show().replace("\n", ",").split(","):
        if "BLAS_INFO" in part:
            build = part.split("=", 1)[-1].strip()
    return {"loaded": sorted(libs), "build_blas_info": build}


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(-(-q * len(v) // 100)) - 1))]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--config", required=True, help=f"one of {', '.join(CONFIGS)} or a sam2 config path")
    p.add_argument("--amg-config", required=True, help="sam2-amg YAML with the AMG parameters")
    p.add_argument("--images", nargs="+", required=True)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--repeat", type=int, default=1, help="timed passes over the images (default 1)")
    p.add_argument("--json", required=True, help="write the results here")
    p.add_argument("--no-postprocessing", action="store_true", help="build_sam2(apply_postprocessing=False)")
    p.add_argument("--output-mode", default="uncompressed_rle",
                   choices=("uncompressed_rle", "binary_mask", "coco_rle"),
                   help="the generator's output_mode (coco_rle needs pycocotools)")
    p.add_argument("--autocast", choices=("none", "bf16"), default="none",
                   help="run under torch.autocast(bfloat16) as the official notebooks do on GPU")
    p.add_argument("--matmul-tf32", choices=("on", "off"), default=None,
                   help="torch.backends.cuda.matmul.allow_tf32 (default: PyTorch's setting)")
    p.add_argument("--cudnn-tf32", choices=("on", "off"), default=None,
                   help="torch.backends.cudnn.allow_tf32 (default: PyTorch's setting)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: PyTorch's)")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")

    ensure_sdpa()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.matmul_tf32 is not None:
        torch.backends.cuda.matmul.allow_tf32 = on_off(args.matmul_tf32)
    if args.cudnn_tf32 is not None:
        torch.backends.cudnn.allow_tf32 = on_off(args.cudnn_tf32)
    cuda = args.device.startswith("cuda")
    kwargs = amg_kwargs(args.amg_config)
    t = time.perf_counter()
    gen = reference_generator(args.checkpoint, args.config, args.device, args.no_postprocessing, kwargs,
                              output_mode=args.output_mode)
    load_seconds = time.perf_counter() - t
    images = [(path, load_image(path)) for path in args.images]

    def sync():
        if cuda:
            torch.cuda.synchronize(args.device)

    # set_image is the image encoder (plus the resize/normalise); time it inside generate.
    encoder = {"seconds": 0.0}
    set_image = gen.predictor.set_image

    def timed_set_image(*a, **k):
        sync()
        t0 = time.perf_counter()
        out = set_image(*a, **k)
        sync()
        encoder["seconds"] += time.perf_counter() - t0
        return out

    gen.predictor.set_image = timed_set_image

    def generate(image):
        if args.autocast == "bf16":
            with torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16), torch.inference_mode():
                return gen.generate(image)
        with torch.inference_mode():
            return gen.generate(image)

    t = time.perf_counter()
    generate(images[0][1])
    sync()
    warmup_seconds = time.perf_counter() - t
    if cuda:
        torch.cuda.reset_peak_memory_stats(args.device)

    runs = []
    t_all = time.perf_counter()
    for rep in range(args.repeat):
        for path, image in images:
            encoder["seconds"] = 0.0
            sync()
            t0 = time.perf_counter()
            masks = generate(image)
            sync()
            total = time.perf_counter() - t0
            runs.append({"image": path, "repeat": rep, "seconds": total, "encoder_seconds": encoder["seconds"],
                         "rest_seconds": total - encoder["seconds"], "masks": len(masks)})
    wall = time.perf_counter() - t_all

    per_image = []
    for path, image in images:
        mine = [r for r in runs if r["image"] == path]
        per_image.append({
            "image": path, "height": int(image.shape[0]), "width": int(image.shape[1]),
            "masks": mine[0]["masks"],
            "seconds": [r["seconds"] for r in mine],
            "median_seconds": statistics.median(r["seconds"] for r in mine),
            "median_encoder_seconds": statistics.median(r["encoder_seconds"] for r in mine),
            "median_rest_seconds": statistics.median(r["rest_seconds"] for r in mine),
        })
    seconds = [r["seconds"] for r in runs]
    result = {
        "tool": "reference",
        "setup": {
            "generator": "sam2.SAM2AutomaticMaskGenerator",
            "torch_version": torch.__version__,
            "python": platform.python_version(),
            "device": args.device,
            "device_name": torch.cuda.get_device_name(args.device) if cuda else platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count(),
            "blas": blas_in_use(),
            "checkpoint": args.checkpoint,
            "config": CONFIGS.get(args.config, args.config),
            "apply_postprocessing": not args.no_postprocessing,
            "autocast": args.autocast,
            "matmul_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
            "cudnn_tf32": bool(torch.backends.cudnn.allow_tf32),
            "output_mode": args.output_mode,
            "amg_params": kwargs,
            "repeat": args.repeat,
            "model_load_seconds": load_seconds,
            "warmup_seconds": warmup_seconds,
        },
        "images": per_image,
        "runs": runs,
        "summary": {
            "timed_runs": len(runs),
            "p50_seconds": percentile(seconds, 50),
            "p90_seconds": percentile(seconds, 90),
            "mean_seconds": statistics.mean(seconds),
            "p50_encoder_seconds": percentile([r["encoder_seconds"] for r in runs], 50),
            "p50_rest_seconds": percentile([r["rest_seconds"] for r in runs], 50),
            "images_per_second": len(runs) / wall if wall > 0 else None,
            "masks_total": sum(r["masks"] for r in runs if r["repeat"] == 0),
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "cuda_peak_allocated_bytes": torch.cuda.max_memory_allocated(args.device) if cuda else None,
        },
    }
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
    s = result["summary"]
    print(f"reference: {len(runs)} timed runs, p50 {s['p50_seconds']:.3f} s (encoder {s['p50_encoder_seconds']:.3f} s), "
          f"p90 {s['p90_seconds']:.3f} s, {s['images_per_second']:.3f} images/s, "
          f"peak RSS {s['peak_rss_bytes'] / 2**20:.0f} MiB"
          + (f", CUDA peak {s['cuda_peak_allocated_bytes'] / 2**20:.0f} MiB" if cuda else ""))


if __name__ == "__main__":
    main()
