#!/usr/bin/env python3
"""Turn the result files of scripts/gpu-session.sh's jobs into Markdown tables inside docs/parity.md and docs/performance.md.

    python3 scripts/gpu_check_report.py --results build-check/results --device cuda \
        --parity-doc docs/parity.md --performance-doc docs/performance.md \
        [--notes-doc docs/gpu-notes.md] --setup "one line"

Every table goes between `<!-- gpu-check:<kind>:<device>:begin -->` and `...:end -->` markers
(named after the check's former script; kept so that earlier sections stay recognised), so a re-run replaces the section of its device and leaves the rest of the file alone; missing
markers are appended at the end of the file. --notes-doc gets the session's figures against the
goals (kernel probe, CUDA ctest counts, bench and its ratio, syncs, paths, folder images/s, bf16
against fp32, the kernel profile, the stages that ran), from results/session/*.json
(scripts/session_results.py) and the bench and parity results. Only the standard library is used.
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


def _stage(r, name):
    """The first image's median seconds of one stage (sam2-amg bench), else None."""
    images = r.get("images") or [{}]
    return (images[0].get("median_stage_seconds") or {}).get(name) if isinstance(images[0], dict) else None


def _syncs(s):
    syncs, reads = s.get("device_syncs_per_image"), s.get("host_reads_per_image")
    if syncs is None and reads is None:
        return "-"
    return f"{'-' if syncs is None else syncs} ({'-' if reads is None else reads})"


def _paths(r):
    p = r.get("paths") or {}
    return ", ".join(f"{k} {p[k]}" for k in ("decoder", "decoder_graph", "postprocess_kernel", "preprocess") if k in p)


def performance_table(results):
    rows = ["| size | tool | precision | images | p50 | p90 | encoder p50 | decoder / post-processing | images/s "
            "| syncs (host reads) per image | peak RSS | CUDA peak | masks | paths | notes |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for path in sorted(glob.glob(os.path.join(results, "bench", "*.json"))):
        name = os.path.basename(path)[:-5]
        size, tool, precision = (name.split(".", 2) + ["", ""])[:3]
        r = _load(path)
        s = r.get("summary")
        if not isinstance(s, dict):
            rows.append(f"| {size} | {tool} | {precision} | | | | | | | | | | | | failed: {_error_line(r)} |")
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
                f"| {_sec(rs.get('p90_seconds'))} | {_sec(rs.get('p50_encoder_seconds'))} | - "
                f"| {'-' if rips is None else f'{rips:.2f}'} | - | {_mib(rs.get('peak_rss_bytes'))} "
                f"| {_mib(rs.get('cuda_peak_allocated_bytes'))} | {rs.get('masks_total', '-')} | - "
                f"| torch {ref.get('torch_version', '?')}, beside sam2-amg {precision} |")
        split = "-" if _stage(r, "decoder") is None else f"{_sec(_stage(r, 'decoder'))} / {_sec(_stage(r, 'postprocess'))}"
        rows.append(
            f"| {size} | {tool} | {precision} | {len(images)} ({desc}) | {_sec(s.get('p50_seconds'))} "
            f"| {_sec(s.get('p90_seconds'))} | {_sec(s.get('p50_encoder_seconds'))} | {split} "
            f"| {'-' if ips is None else f'{ips:.2f}'} | {_syncs(s)} | {_mib(s.get('peak_rss_bytes'))} "
            f"| {_mib(s.get('cuda_peak_allocated_bytes'))} | {s.get('masks_total', '-')} | {_paths(r) or '-'} "
            f"| {'; '.join(notes)} |")
    return rows


def _session(results, name):
    path = os.path.join(results, "session", name + ".json")
    return _load(path) if os.path.exists(path) else None


def _benches(results):
    """sam2-amg bench results by (size, precision, tag)."""
    out = {}
    for path in sorted(glob.glob(os.path.join(results, "bench", "*.json"))):
        parts = os.path.basename(path)[:-5].split(".", 2)
        if len(parts) == 3 and parts[1] == "sam2-amg":
            precision, _, tag = parts[2].partition(".")
            out[(parts[0], precision, tag)] = _load(path)
    return out


def _parities(results):
    out = []
    for path in sorted(glob.glob(os.path.join(results, "parity", "*.json"))):
        size, precision, family = os.path.basename(path)[:-5].split(".", 2)
        out.append((size, precision, family, _load(path)))
    return out


def _stands(ok):
    return "not measured" if ok is None else ("met" if ok else "not met")


def _ctest_line(c):
    if c is None:
        return "not run", None
    if c.get("total") is None:
        return f"no counts (exit {c.get('exit')})", False
    names = ", ".join(t["name"] for t in c.get("failed_tests", [])[:8])
    more = len(c.get("failed_tests", [])) - 8
    line = f"{c['passed']} of {c['total']} passed, {c['failed']} failed" + (f" ({names}{f', {more} more' if more > 0 else ''})"
                                                                            if names else "")
    complete = c.get("complete", True)
    if not complete:
        line += f"; cut short by its bound (exit {c.get('exit')}): the tests that finished"
    return line.replace("|", "/"), complete and c["total"] > 0 and c["failed"] == 0


# The goals of issue 19 on the GPU (SAM 2.1-L, 2048x1536, 32x32 grid): p50 per precision.
P50_GOALS = {"bf16fast": 0.100, "fp32": 0.300}
SYNC_GOAL = 5
IOU_GOAL, COUNT_SHARE_GOAL = 0.99, 0.05


def notes_section(results, device):
    """The session's figures against the goals, one row each, then the profile's top kernels."""
    gpu = device == "cuda"
    goal = (lambda g: g) if gpu else (lambda g: "-")
    stands = (lambda ok: _stands(ok)) if gpu else (lambda ok: "-")
    rows = ["| what | measured | goal | stands |", "|---|---|---|---|"]

    probe = _session(results, "probe")
    if probe is None:
        rows.append(f"| kernel probe (`ctest -R \"On the test device\"`) | not run | {goal('passes')} | {stands(None)} |")
    else:
        line, ok = _ctest_line(probe)
        paths = [n.replace("|", "/") for n in probe.get("notes", []) if "cuda_stats_path" in n]
        detail = f"; {paths[0]}" if paths else ("; the fused kernel ran" if ok and gpu else "")
        rows.append(f"| kernel probe (`ctest -R \"On the test device\"`) | {line}{detail} | {goal('passes')} "
                    f"| {stands(ok)} |")
    line, ok = _ctest_line(_session(results, "ctest"))
    rows.append(f"| ctest, SAM2AMG_TEST_DEVICE={device} | {line} | {goal('all pass')} | {stands(ok)} |")

    benches = _benches(results)
    for (size, precision, tag), r in sorted(benches.items()):
        s = r.get("summary")
        if not isinstance(s, dict):
            rows.append(f"| bench {size} {precision} {tag} | failed: {_error_line(r)} | | {stands(False)} |")
            continue
        if tag == "folder":
            n = len(r.get("images", []))
            ips = s.get("images_per_second")
            rows.append(f"| folder pass, {size} {precision}, {n} distinct images | "
                        f"{'-' if ips is None else f'{ips:.2f}'} images/s (decode and write overlapped) | - | - |")
            continue
        ref = (r.get("reference") or {}).get("summary") or {}
        ratio = f"; reference {_sec(ref.get('p50_seconds'))} in the same run, {r['speedup_p50']:.1f}x" \
            if r.get("speedup_p50") else ""
        split = f"decoder {_sec(_stage(r, 'decoder'))}, post-processing {_sec(_stage(r, 'postprocess'))}" \
            if _stage(r, "decoder") is not None else ""
        g = P50_GOALS.get(precision) if size == "l" else None
        rows.append(f"| bench {size} {precision} {tag}, p50 (p90) | {_sec(s.get('p50_seconds'))} "
                    f"({_sec(s.get('p90_seconds'))}); {split}{ratio} | {goal('-' if g is None else f'<= {g * 1000:.0f} ms')} "
                    f"| {stands(None if g is None else s.get('p50_seconds', 1e9) <= g)} |")
        syncs = s.get("device_syncs_per_image")
        rows.append(f"| syncs (host reads) per image, {size} {precision} | {_syncs(s)} | {goal(f'<= {SYNC_GOAL}')} "
                    f"| {stands(None if syncs is None else syncs <= SYNC_GOAL)} |")
        rows.append(f"| paths, {size} {precision} | {(_paths(r) or '-').replace('|', '/')} | - | - |")

    parity = _parities(results)
    fp32 = [(z, f, r) for z, p, f, r in parity if p == "fp32"]
    if fp32:
        full = [(z, f) for z, f, r in fp32 if "summary" in r and r["summary"]["reference_matched_share"] == 1.0
                and r["summary"]["sam2_amg_matched_share"] == 1.0]
        other = [f"{z} {f}" for z, f, r in fp32 if (z, f) not in full]
        rows.append(f"| fp32 parity, both ways at IoU >= 0.99 | {len(full)} of {len(fp32)} rows at 100 %"
                    f"{'; not: ' + ', '.join(other) if other else ''} | {goal('100 %')} "
                    f"| {stands(len(full) == len(fp32))} |")
    for key in sorted({(z, p) for z, p, _, _ in parity if p != "fp32"}):
        rs = [(f, r["summary"]) for z, p, f, r in parity if (z, p) == key and "summary" in r]
        failed = [f for z, p, f, r in parity if (z, p) == key and "summary" not in r]
        if not rs:
            rows.append(f"| {key[0]} {key[1]} against the fp32 reference | failed: {', '.join(failed)} | | {stands(False)} |")
            continue
        images = sum(s["images"] for _, s in rs)
        changed = sum(s.get("images_with_count_change") or 0 for _, s in rs)
        worst = min(s.get("mean_iou", 0.0) for _, s in rs)
        per = ", ".join(f"{f} {s.get('mean_iou', 0.0):.4f}" for f, s in rs)
        rows.append(f"| {key[0]} {key[1]} against the fp32 reference: mean IoU per family; images whose mask count "
                    f"changed | {per}; {changed} of {images} image runs ({100.0 * changed / max(images, 1):.0f} %)"
                    f"{'; failed: ' + ', '.join(failed) if failed else ''} "
                    f"| {goal(f'>= {IOU_GOAL}; <= {COUNT_SHARE_GOAL * 100:.0f} %')} "
                    f"| {stands(worst >= IOU_GOAL and changed <= COUNT_SHARE_GOAL * images)} |")

    prof = _session(results, "profile")
    top_rows = []
    if prof is None:
        rows.append("| kernel profile (ncu), one image | not run | - | - |")
    elif not prof.get("kernels"):
        rows.append(f"| kernel profile (ncu), one image | no kernels recorded: {_error_line(prof)} | - | - |")
    else:
        gpu_s = prof.get("gpu_seconds")
        rows.append(f"| kernel profile (ncu), one image | {prof['kernels']} launches of {prof.get('distinct_kernels')} "
                    f"kernels{f', {_sec(gpu_s)} of GPU time' if gpu_s else ''} ({prof.get('source')}) | - | - |")
        top_rows = ["", "Top kernels of the profile (names without template arguments):", "",
                    "| kernel | launches | GPU time | share |", "|---|---|---|---|"]
        for k in prof.get("top", []):
            share = "-" if k.get("share") is None else f"{100 * k['share']:.1f} %"
            top_rows.append(f"| `{k['name'].replace('|', '/')[:100]}` | {k['calls']} | {_sec(k.get('seconds'))} | {share} |")

    st = _session(results, "stages")
    if st and st.get("stages"):
        ran = ", ".join(f"{x['stage']} {'-' if x.get('seconds') is None else x['seconds']} s"
                        + (f" ({x['note']})" if x.get("note") else "") for x in st["stages"])
        rows.append(f"| stages (seconds from each stage's start to the next) | {ran.replace('|', '/')} | - | - |")
        skipped = [n for n in st.get("notes", []) if "skipped" in n or "not started" in n]
        if skipped:
            rows.append(f"| cut by the deadline or missing inputs | {'; '.join(skipped).replace('|', '/')[:600]} | - | - |")
    return rows + top_rows


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
    p.add_argument("--notes-doc", help="docs/gpu-notes.md: the session's figures against the goals")
    p.add_argument("--setup", default="", help="one line describing the machine and the run")
    args = p.parse_args(argv)
    head = [f"## gpu-check results, {args.device}", "",
            "Generated by `scripts/gpu-session.sh` (its docs job); a re-run replaces this section.", ""]
    if args.setup:
        head += [args.setup, ""]
    if args.parity_doc:
        replace_section(args.parity_doc, "parity", args.device, "Parity with the Python reference",
                        head + parity_table(args.results))
    if args.performance_doc:
        replace_section(args.performance_doc, "performance", args.device, "Performance",
                        head + performance_table(args.results))
    if args.notes_doc:
        notes_head = [f"## Latest gpu-session figures, {args.device}", "",
                      "Generated by `scripts/gpu-session.sh` (its docs stage); a re-run replaces this section.", ""]
        if args.setup:
            notes_head += [args.setup, ""]
        replace_section(args.notes_doc, "session", args.device, "GPU runs", notes_head + notes_section(args.results, args.device))


if __name__ == "__main__":
    main()
