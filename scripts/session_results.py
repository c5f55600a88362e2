#!/usr/bin/env python3
"""Summaries of a GPU session's logs as the result files the docs stage reads (results/session/).

    python3 scripts/session_results.py ctest LOG --exit RC --json OUT [--grep REGEX ...]
    python3 scripts/session_results.py ncu --log LOG [--csv RAW.csv] [--exit RC] --command CMD --json OUT
    python3 scripts/session_results.py stages --log SESSION.log --json OUT

ctest: the counts of a ctest log ("N% tests passed, F tests failed out of T"), the failed
tests' names, and the log lines matching --grep (e.g. the kernel probe's path). ncu: kernel
launches and the kernels taking the most GPU time, from `ncu --import R --csv --page raw
--print-units base` (gpu__time_duration.sum) when the report was written, else the launches that
the log's "==PROF== Profiling" lines name (a run cut short by its bound: counts, no times).
stages: what gpu-session.sh ran, skipped or cut, from its "[N s] ..." lines. Standard library only.
"""
import argparse
import csv
import json
import re
import sys


def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def ctest_summary(text, exit_code, patterns=()):
    out = {"exit": exit_code, "passed": None, "failed": None, "total": None, "failed_tests": [], "notes": [],
           "complete": True}
    m = re.search(r"(\d+)% tests passed, (\d+) tests? failed out of (\d+)", text)
    if m:
        out["failed"], out["total"] = int(m.group(2)), int(m.group(3))
        out["passed"] = out["total"] - out["failed"]
    elif "No tests were found" in text:
        out["total"] = out["passed"] = out["failed"] = 0
    else:  # cut short (its bound): the tests that finished, from ctest's progress lines
        done = re.findall(r"Test +#\d+: (.*?) \.+\s*(\*\*\*)?(Passed|Failed|Exception: .*?|Timeout|Not Run|"
                          r"Skipped|SEGFAULT)\s+[\d.]+ sec", text)
        if done:
            out["complete"] = False
            out["total"] = len(done)
            out["failed"] = sum(1 for _, _, res in done if res not in ("Passed", "Skipped"))
            out["passed"] = out["total"] - out["failed"]
            out["failed_tests"] = [{"name": n, "why": res} for n, _, res in done if res not in ("Passed", "Skipped")]
    tail = text.split("The following tests FAILED:", 1)
    if len(tail) == 2:
        for line in tail[1].splitlines():
            f = re.match(r"\s*\d+\s+-\s+(.*?)\s+\(([^)]*)\)\s*$", line)
            if f:
                out["failed_tests"].append({"name": f.group(1), "why": f.group(2)})
            elif line.strip() and not line.startswith((" ", "\t")):
                break
    for pat in patterns:
        rx = re.compile(pat)
        for line in text.splitlines():
            line = line.strip()
            if rx.search(line) and line not in out["notes"]:
                out["notes"].append(line[:300])
    return out


def short_kernel(name):
    """A kernel's name without its return type, template arguments and parameters."""
    name = re.sub(r"^void\s+", "", name.strip())
    depth, short = 0, []
    for ch in name:
        if ch == "<":
            if depth == 0:
                short.append("<...>")
            depth += 1
        elif ch == ">" and depth:
            depth -= 1
        elif ch == "(" and depth == 0:
            break
        elif depth == 0:
            short.append(ch)
    return "".join(short).strip() or name[:80]


def ncu_summary(log_text, csv_text, exit_code, command, top=12):
    out = {"exit": exit_code, "command": command, "source": None, "kernels": None, "gpu_seconds": None,
           "top": [], "error": None}
    totals = {}
    if csv_text.strip():
        rows = list(csv.reader(csv_text.splitlines()))
        header = next((i for i, r in enumerate(rows) if "Kernel Name" in r), None)
        if header is not None:
            cols = rows[header]
            name_col, time_col = cols.index("Kernel Name"), None
            if "gpu__time_duration.sum" in cols:
                time_col = cols.index("gpu__time_duration.sum")
            launches = 0
            for r in rows[header + 1:]:
                if len(r) <= name_col:
                    continue
                try:  # the units row ("nsecond") and blank values are not launches
                    ns = float(r[time_col].replace(",", "")) if time_col is not None else None
                except ValueError:
                    continue
                launches += 1
                t = totals.setdefault(short_kernel(r[name_col]), [0, 0.0])
                t[0] += 1
                t[1] += ns or 0.0
            if launches:
                out["source"], out["kernels"] = "report", launches
    if out["source"] is None:
        names = re.findall(r'==PROF== Profiling "([^"]+)"', log_text)
        if names:
            out["source"], out["kernels"] = "log (no report: the run was cut short or failed; counts only)", len(names)
            for n in names:
                t = totals.setdefault(short_kernel(n), [0, 0.0])
                t[0] += 1
    err = [ln.strip() for ln in log_text.splitlines() if re.search(r"==(ERROR|WARNING)==|rror:", ln)]
    if err:
        out["error"] = err[0][:300]
    elif out["source"] is None:  # nothing profiled: the log's last words say why
        last = [ln.strip() for ln in log_text.splitlines() if ln.strip()]
        out["error"] = (last[-1] if last else "no ncu output")[:300]
    if out["source"] == "report":
        total = sum(t[1] for t in totals.values())
        out["gpu_seconds"] = total * 1e-9
        ranked = sorted(totals.items(), key=lambda kv: -kv[1][1])
    else:
        total = 0.0
        ranked = sorted(totals.items(), key=lambda kv: -kv[1][0])
    for name, (calls, ns) in ranked[:top]:
        out["top"].append({"name": name, "calls": calls, "seconds": ns * 1e-9 if total else None,
                           "share": ns / total if total else None})
    out["distinct_kernels"] = len(totals)
    return out


def stages_summary(text):
    """gpu-session.sh's timeline: each stage's start second, and what it said about skipping."""
    stages, notes, end = [], [], None
    lines = text.splitlines()
    starts = [i for i, ln in enumerate(lines) if re.match(r"\[\d+ s\] start \(", ln.strip())]
    for line in lines[starts[-1] if starts else 0:]:  # the last run's lines only
        m = re.match(r"\[(\d+) s\] (.*)$", line.strip())
        if not m:
            continue
        t, what = int(m.group(1)), m.group(2)
        s = re.match(r"stage (\w+)(?:: (.*))?$", what)
        if s:
            stages.append({"stage": s.group(1), "start_s": t, "note": s.group(2) or ""})
        elif what == "end":
            end = t
        else:
            notes.append(f"{t} s: {what}"[:300])
    for a, b in zip(stages, stages[1:] + [{"start_s": end}]):
        a["seconds"] = None if b["start_s"] is None else b["start_s"] - a["start_s"]
    return {"stages": stages, "end_s": end, "notes": notes}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    c = sub.add_parser("ctest")
    c.add_argument("log")
    c.add_argument("--exit", type=int, default=None)
    c.add_argument("--grep", action="append", default=[], help="also keep the log lines matching this regex")
    c.add_argument("--json", required=True)
    n = sub.add_parser("ncu")
    n.add_argument("--log", required=True)
    n.add_argument("--csv", default="")
    n.add_argument("--exit", type=int, default=None)
    n.add_argument("--command", default="")
    n.add_argument("--json", required=True)
    s = sub.add_parser("stages")
    s.add_argument("--log", required=True)
    s.add_argument("--json", required=True)
    args = p.parse_args(argv)
    if args.what == "ctest":
        result = ctest_summary(_read(args.log), args.exit, args.grep)
    elif args.what == "ncu":
        result = ncu_summary(_read(args.log), _read(args.csv) if args.csv else "", args.exit, args.command)
    else:
        result = stages_summary(_read(args.log))
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result)[:400])
    return 0


if __name__ == "__main__":
    sys.exit(main())
