#!/usr/bin/env python3
"""Turn gpu-check.sh's result files into Markdown tables inside docs/parity.md and docs/performance.md.

    python3 scripts/gpu_check_report.py --results build-check/results --device cuda \
        --parity-doc docs/parity.md --performance-doc docs/performance.md --setup "one line"

Every table goes between `<!-- gpu-check:<kind>:<device>:begin -->` and `...:end -->` markers,
so a re-run replaces the section of its device and leaves the rest of the file alone; missing
markers are appended at the end of the file. Only the standard library is used.
"""
import argparse
import glob
import json
import os


def _load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return {"error": f"unreadable result {os.path.basename(path)}: {e}"}


def _error_line(r):
    """One table-safe line from a failed result: the last line naming an error, else the last one."""
    lines = [ln.strip() for ln in str(r.get("error", "no summary")).splitlines() if ln.strip()]
    named = [ln for ln in lines if "Error" in ln or "error" in ln]
    line = (named or lines or ["no summary"])[-1]
    return line.replace("|", "/")[:200]


def _pct(m, n):
    return "-" if not n else f"{m}/{n} ({100.0 * m / n:.1f} %)"


def _mib(b):
    return "-" if b is None else f"{b / 2**20:.0f} MiB"


def _sec(s):
    return "-" if s is None else (f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s")


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def parity_table(results):
    rows = ["| size | precision | family | images | reference masks | sam2-amg masks | reference matched at IoU >= 0.99 "
            "| sam2-amg matched | mean IoU | images with another count "
            "| max abs. delta predicted_iou / stability | reference s / sam2-amg s | notes |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for path in sorted(glob.glob(os.path.join(results, "parity", "*.json"))):
        size, precision, family = os.path.basename(path)[:-5].split(".", 2)
        r = _load(path)
        if "summary" not in r:
            rows.append(f"| {size} | {precision} | {family} | | | | | | | | | | failed: {_error_line(r)} |")
            continue
        s = r["summary"]
        notes = []
        if family == "minregion":
            cc = s.get("reference_connected_components")
            notes.append("reference hole filling active (sam2._C)" if cc else
                         "reference skipped hole filling (no sam2._C): differences expected")
        notes.append(f"TF32 cudnn {'on' if s.get('reference_cudnn_tf32') else 'off'}, "
                     f"matmul {'on' if s.get('reference_matmul_tf32') else 'off'}")
        rows.append(
            f"| {size} | {precision} | {family} | {s['images']} | {s['reference_masks']} | {s['sam2_amg_masks']} "
            f"| {_pct(round(s['reference_matched_share'] * s['reference_masks']), s['reference_masks'])} "
            f"| {_pct(round(s['sam2_amg_matched_share'] * s['sam2_amg_masks']), s['sam2_amg_masks'])} "
            f"| {_fmt(s.get('mean_iou'), '.4f')} | {_fmt(s.get('images_with_count_change'), 'd')} "
            f"| {s['max_abs_delta_predicted_iou']:.2g} / {s['max_abs_delta_stability_score']:.2g} "
            f"| {s['reference_seconds']:.1f} / {s['sam2_amg_seconds']:.1f} | {'; '.join(notes)} |")
    return rows


def performance_table(results):
    rows = ["| size | tool | precision | images | p50 | p90 | encoder p50 | images/s | peak RSS | CUDA peak | masks | notes |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for path in sorted(glob.glob(os.path.join(results, "bench", "*.json"))):
        name = os.path.basename(path)[:-5]
        size, tool, precision = (name.split(".", 2) + ["", ""])[:3]
        r = _load(path)
        s = r.get("summary")
        if not isinstance(s, dict):
            rows.append(f"| {size} | {tool} | {precision} | | | | | | | | | failed: {_error_line(r)} |")
            continue
        setup = r.get("setup", {})
        images = r.get("images", [])
        desc = ", ".join(sorted({f"{i.get('width')}x{i.get('height')}" for i in images if isinstance(i, dict)}))
        notes = []
        if "runtime" in setup:  # sam2-amg bench: its setup lines, and the ratio measured in the same run
            notes.append(f"{setup.get('runtime')}; post-processing {setup.get('post-processing')}")
            if r.get("speedup_p50"):
                notes.append(f"{r['speedup_p50']:.1f}x the reference's p50, "
                              f"{r.get('speedup_images_per_second', 0):.1f}x its images/s (same invocation)")
        elif setup:
            notes.append(f"torch {setup.get('torch_version')}, {setup.get('threads')} threads, "
                          f"points_per_side {setup.get('amg_params', {}).get('points_per_side', 32)}")
            blas = setup.get("blas", {})
            if blas.get("loaded"):
                notes.append("BLAS " + " ".join(blas["loaded"]))
        ips = s.get("images_per_second")
        ref = r.get("reference")
        if isinstance(ref, dict) and isinstance(ref.get("summary"), dict):
            rs = ref["summary"]
            rips = rs.get("images_per_second")
            rows.append(
                f"| {size} | reference (same run) | fp32 | {len(images)} ({desc}) | {_sec(rs.get('p50_seconds'))} "
                f"| {_sec(rs.get('p90_seconds'))} | {_sec(rs.get('p50_encoder_seconds'))} "
                f"| {'-' if rips is None else f'{rips:.2f}'} | {_mib(rs.get('peak_rss_bytes'))} "
                f"| {_mib(rs.get('cuda_peak_allocated_bytes'))} | {rs.get('masks_total', '-')} "
                f"| torch {ref.get('torch_version', '?')}, beside sam2-amg {precision} |")
        rows.append(
            f"| {size} | {tool} | {precision} | {len(images)} ({desc}) | {_sec(s.get('p50_seconds'))} "
            f"| {_sec(s.get('p90_seconds'))} | {_sec(s.get('p50_encoder_seconds'))} "
            f"| {'-' if ips is None else f'{ips:.2f}'} | {_mib(s.get('peak_rss_bytes'))} "
            f"| {_mib(s.get('cuda_peak_allocated_bytes'))} | {s.get('masks_total', '-')} | {'; '.join(notes)} |")
    return rows


def replace_section(doc, kind, device, title, body):
    begin, end = f"<!-- gpu-check:{kind}:{device}:begin -->", f"<!-- gpu-check:{kind}:{device}:end -->"
    text = open(doc).read() if os.path.exists(doc) else f"# {title}\n"
    block = "\n".join([begin, *body, end])
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(doc, "w") as f:
        f.write(text)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", required=True)
    p.add_argument("--device", required=True, help="cpu or cuda: names the section")
    p.add_argument("--parity-doc")
    p.add_argument("--performance-doc")
    p.add_argument("--setup", default="", help="one line describing the machine and the run")
    args = p.parse_args(argv)
    head = [f"## gpu-check results, {args.device}", "",
            "Generated by `scripts/gpu-check.sh`; a re-run replaces this section.", ""]
    if args.setup:
        head += [args.setup, ""]
    if args.parity_doc:
        replace_section(args.parity_doc, "parity", args.device, "Parity with the Python reference",
                        head + parity_table(args.results))
    if args.performance_doc:
        replace_section(args.performance_doc, "performance", args.device, "Performance",
                        head + performance_table(args.results))


if __name__ == "__main__":
    main()
