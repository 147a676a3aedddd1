#!/usr/bin/env python3
"""Benchmark heaplens.asizeof against pympler, objsize, guppy3 and a bare C walk.

For each standard workload W1..W6 (shared/bench/workloads.py) the object is
built once and each tool is timed on it (time.perf_counter_ns, gc disabled
while timing, median of --repeat runs; fewer runs for the slow pure-Python
peers). Every time is divided by the same object count, the number of
distinct objects the floor walk (bench/floor.c) reaches, to give ns/object.

W3 holds plain instances: on 3.11+ pympler, objsize and guppy3 read
``obj.__dict__``, which creates a dict per instance and changes the heap they
measure. So heaplens and the floor size a fresh W3 first, and each of the
peers gets a freshly built W3 for every run.

    python bench/asizeof.py                 # full scale, readable tables
    python bench/asizeof.py --quick         # smoke run (scale 0.02, 1 run)
    python bench/asizeof.py --markdown --json out.json

The floor extension is compiled at run time with gcc (or $CC) into a cache
directory ($HEAPLENS_BENCH_CACHE, default <tmpdir>/heaplens-bench).
"""

import argparse
import datetime
import gc
import hashlib
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Targets from shared/DESIGN.md ("Performance budget").
TARGET_NS_PER_OBJECT = 60.0
TARGET_VS_PYMPLER = 50.0
TARGET_VS_OBJSIZE = 8.0
TARGET_BOOKKEEPING = 16.0

# Workloads whose heap the peers change by reading obj.__dict__ (3.11+).
FRESH_FOR_PEERS = {"W3"}

QUICK_SCALE = 0.02


# -- setup


def import_workloads(path):
    candidates = [path] if path else [
        os.environ.get("HEAPLENS_WORKLOADS", ""),
        os.path.join(HERE, "..", "..", "shared", "bench"),
        "/work/shared/bench",
    ]
    for d in candidates:
        if d and os.path.isfile(os.path.join(d, "workloads.py")):
            sys.path.insert(0, os.path.abspath(d))
            import workloads
            return workloads
    sys.exit("bench/asizeof.py: cannot find shared/bench/workloads.py; "
             "pass --workloads DIR or set HEAPLENS_WORKLOADS")


def load_floor():
    """Compile bench/floor.c for this interpreter (once) and import it."""
    src = os.path.join(HERE, "floor.c")
    with open(src, "rb") as f:
        code = f.read()
    paths = sysconfig.get_paths()
    includes = []
    for k in ("include", "platinclude"):
        if paths.get(k) and paths[k] not in includes:
            includes.append(paths[k])
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    cc = os.environ.get("CC", "gcc")
    # -DNDEBUG as CPython builds its own extensions: without it the asserts
    # in the headers' inline functions are live.
    cmd_tail = ["-O2", "-shared", "-fPIC", "-DNDEBUG"] + ["-I" + d for d in includes]
    key = hashlib.sha256(b"\0".join([
        code, sys.version.encode(), sys.executable.encode(), suffix.encode(),
        " ".join([cc] + cmd_tail).encode(),
    ])).hexdigest()[:16]
    cache = os.environ.get("HEAPLENS_BENCH_CACHE") or os.path.join(
        tempfile.gettempdir(), "heaplens-bench")
    outdir = os.path.join(cache, key)
    target = os.path.join(outdir, "_hlfloor" + suffix)
    if not os.path.exists(target):
        os.makedirs(outdir, exist_ok=True)
        tmp = "%s.%d.tmp" % (target, os.getpid())
        cmd = cc.split() + cmd_tail + [src, "-o", tmp]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True)
        if proc.returncode != 0:
            sys.exit("bench/asizeof.py: compiling the floor failed:\n$ %s\n%s"
                     % (" ".join(cmd), proc.stdout))
        os.replace(tmp, target)
    spec = importlib.util.spec_from_file_location("_hlfloor", target)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load_tools(floor, no_guppy):
    """name -> (callable(obj) -> bytes, is_peer). Missing peers are left out."""
    import heaplens
    from heaplens import _heaplens

    tools = {
        "floor": (lambda o: floor.walk(o)[1], False),
        "heaplens": (heaplens.asizeof, False),
        # The C walk alone, without the Python layer of heaplens.asizeof:
        # shows where heaplens' time goes. Not judged against the targets.
        "core": (lambda o: sum(_heaplens.walk((o,))[0]), False),
    }
    missing = []
    try:
        from pympler import asizeof as pympler_asizeof
        # Default options, as users run it (limit=100 included).
        tools["pympler"] = (pympler_asizeof.asizeof, True)
    except ImportError:
        missing.append("pympler")
    try:
        import objsize
        tools["objsize"] = (objsize.get_deep_size, True)
    except ImportError:
        missing.append("objsize")
    if not no_guppy:
        try:
            from guppy import hpy
            h = hpy()
            tools["guppy3"] = (lambda o: h.iso(o).domisize, True)
        except ImportError:
            missing.append("guppy3")
    return tools, missing


# -- measuring


def time_runs(fn, get_obj, runs):
    """Run fn(get_obj()) `runs` times; return (times_ns, results)."""
    times, results = [], []
    for _ in range(runs):
        obj = get_obj()
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter_ns()
            res = fn(obj)
            t1 = time.perf_counter_ns()
        finally:
            gc.enable()
        del obj
        times.append(t1 - t0)
        results.append(res)
    return times, results


def bench_workload(name, workloads, scale, tools, repeat, slow_repeat, floor, log):
    import heaplens
    from heaplens import _heaplens

    row = {"workload": name, "tools": {}}
    obj = workloads.build(name, scale)
    # Floor first: it fixes the object count every time is divided by.
    count, floor_bytes = floor.walk(obj)
    row["objects"] = count
    row["floor_bytes"] = floor_bytes

    # heaplens before any peer touches the object; its bookkeeping too.
    heaplens.asizeof(obj)  # warm the per-type tables
    _, st, _ = _heaplens.walk((obj,))
    row["heaplens_counted"] = st["counted"]
    row["heaplens_peak_bytes"] = st["peak_bytes"]
    row["bookkeeping_per_object"] = st["peak_bytes"] / max(st["counted"], 1)
    before_peers = None

    for tname, (fn, is_peer) in tools.items():
        runs = slow_repeat if is_peer else repeat
        if is_peer and name in FRESH_FOR_PEERS:
            def get_obj():
                return workloads.build(name, scale)
        else:
            def get_obj(o=obj):
                return o
        if is_peer and before_peers is None:
            # heaplens must leave the object as it found it.
            before_peers = heaplens.asizeof(obj)
        log("  %s %-9s x%d ..." % (name, tname, runs))
        times, results = time_runs(fn, get_obj, runs)
        med = statistics.median(times)
        seen = count
        if tname == "pympler":
            # pympler's default limit=100 can stop short (W5): per object,
            # count the objects it sized, not the ones it skipped.
            from pympler.asizeof import Asizer
            a = Asizer()
            a.asizeof(get_obj())
            seen = max(1, min(count, a.sized))
        row["tools"][tname] = {
            "times_ns": times,
            "median_ns": med,
            "objects_sized": seen,
            "ns_per_object": med / seen,
            # Best run: less disturbed by other load on the machine.
            "ns_per_object_min": min(times) / count,
            "bytes": results[0],
            "bytes_stable": len(set(results)) == 1,
            "bytes_seen": sorted(set(results)),
        }

    # Did a peer change the heap? Size a W3 after pympler has read it.
    if name in FRESH_FOR_PEERS and "pympler" in tools:
        fresh = workloads.build(name, scale)
        before = heaplens.asizeof(fresh)
        tools["pympler"][0](fresh)
        row["heaplens_bytes_after_pympler"] = heaplens.asizeof(fresh)
        row["heaplens_bytes_fresh"] = before
        del fresh
    row["heaplens_bytes_before_peers"] = before_peers
    # guppy3's domisize walks the whole heap and creates instance dicts in
    # objects it was not given: the W3 that heaplens sized grows here.
    row["heaplens_bytes_after_peers"] = heaplens.asizeof(obj)
    del obj, get_obj
    gc.collect()
    return row


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def summarise(rows, tools):
    s = {"ratios": {}, "geomean": {}}
    for peer in ("pympler", "objsize", "guppy3", "floor"):
        if peer not in tools:
            continue
        rs = {r["workload"]: r["tools"][peer]["ns_per_object"] /
              r["tools"]["heaplens"]["ns_per_object"]
              for r in rows}
        s["ratios"][peer] = rs
        s["geomean"][peer] = geomean(rs.values())
    # The same ratios against the C walk alone: what the targets would read
    # without the Python layer of heaplens.asizeof. Diagnostic only.
    s["core_ratios"], s["core_geomean"] = {}, {}
    for peer in ("pympler", "objsize", "guppy3"):
        if peer in tools:
            rs = {r["workload"]: r["tools"][peer]["ns_per_object"] / r["tools"]["core"]["ns_per_object"]
                  for r in rows}
            s["core_ratios"][peer] = rs
            s["core_geomean"][peer] = geomean(rs.values())
    hl = [r["tools"]["heaplens"]["ns_per_object"] for r in rows]
    bk = [r["bookkeeping_per_object"] for r in rows]
    s["heaplens_ns_per_object_max"] = max(hl)
    s["heaplens_ns_per_object_median"] = statistics.median(hl)
    s["bookkeeping_max"] = max(bk)
    med = statistics.median(hl)
    targets = [
        ("heaplens ns/object, median over W1-W6", "<= %g" % TARGET_NS_PER_OBJECT,
         med, med <= TARGET_NS_PER_OBJECT, "%.0f ns (worst %.0f)" % (med, max(hl))),
    ]
    if "pympler" in s["geomean"]:
        # Where pympler's default limit=100 cut the walk short (W5), it did
        # less work than heaplens: also give the geomean without those.
        cut = [r["workload"] for r in rows
               if r["tools"]["pympler"]["bytes"] < 0.99 * r["tools"]["heaplens"]["bytes"]]
        s["pympler_cut"] = cut
        g = s["geomean"]["pympler"]
        measured = "%.1fx" % g
        if cut and len(cut) < len(rows):
            g2 = geomean(v for k, v in s["ratios"]["pympler"].items() if k not in cut)
            s["geomean_pympler_uncut"] = g2
            measured += " (%.1fx without %s)" % (g2, ", ".join(cut))
        targets.append(("faster than pympler, geomean", ">= %gx" % TARGET_VS_PYMPLER,
                        g, g >= TARGET_VS_PYMPLER, measured))
    if "objsize" in s["geomean"]:
        g = s["geomean"]["objsize"]
        targets.append(("faster than objsize, geomean", ">= %gx" % TARGET_VS_OBJSIZE,
                        g, g >= TARGET_VS_OBJSIZE, "%.1fx" % g))
    targets.append(("visited-set bytes per object, every workload",
                    "<= %g B" % TARGET_BOOKKEEPING, max(bk), max(bk) <= TARGET_BOOKKEEPING,
                    "%.1f B (worst)" % max(bk)))
    s["targets"] = [dict(zip(("what", "target", "value", "met", "measured"), t))
                    for t in targets]
    return s


# -- formatting


def fmt_ns(x):
    if x is None:
        return "-"
    return "%.1f" % x if x < 100 else "{:,.0f}".format(x)


def fmt_int(x):
    return "-" if x is None else "{:,}".format(x)


def fmt_ratio(x):
    if x is None or x != x:
        return "-"
    return "%.2fx" % x if x < 10 else "%.1fx" % x if x < 100 else "%.0fx" % x


def fmt_pct(b, ref):
    if b is None or not ref:
        return "-"
    d = 100.0 * (b - ref) / ref
    return "0%" if abs(d) < 0.05 else "%+.1f%%" % d


def render(headers, rows, markdown, align=None):
    align = align or ["l"] + ["r"] * (len(headers) - 1)
    if markdown:
        out = ["| " + " | ".join(headers) + " |",
               "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if a == "r" else c.ljust(w)
                         for c, w, a in zip(cells, widths, align)).rstrip()
    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def report(rows, summary, tools, meta, markdown):
    peers = [t for t in ("pympler", "objsize", "guppy3") if t in tools]
    h2 = "### " if markdown else ""
    out = []
    out.append("%sTime per object (ns; median of %d runs, %d for peers; "
               "objects = distinct objects the floor reaches)"
               % (h2, meta["repeat"], meta["slow_repeat"]))
    out.append("")
    headers = ["workload", "objects", "heaplens ms", "floor", "core", "heaplens"] + peers
    headers += ["%s/heaplens" % p for p in peers] + ["heaplens/floor"]
    table = []
    for r in rows:
        t = r["tools"]
        cells = [r["workload"], fmt_int(r["objects"]),
                 "%.2f" % (t["heaplens"]["median_ns"] / 1e6),
                 fmt_ns(t["floor"]["ns_per_object"]), fmt_ns(t["core"]["ns_per_object"]),
                 fmt_ns(t["heaplens"]["ns_per_object"])]
        cells += [fmt_ns(t[p]["ns_per_object"]) for p in peers]
        cells += [fmt_ratio(summary["ratios"][p][r["workload"]]) for p in peers]
        cells.append(fmt_ratio(summary["ratios"]["floor"][r["workload"]] and
                               1 / summary["ratios"]["floor"][r["workload"]]))
        table.append(cells)
    g = summary["geomean"]
    table.append(["geomean", "", "", "", "", ""] + [""] * len(peers)
                 + [fmt_ratio(g[p]) for p in peers] + [fmt_ratio(1 / g["floor"])])
    out.append(render(headers, table, markdown))
    out.append("")

    out.append("%sSize in bytes (each tool's result; %% = difference from heaplens)" % h2)
    out.append("")
    headers = ["workload", "heaplens"]
    for p in peers:
        headers += [p, "%"]
    headers += ["heaplens objects", "bookkeeping B/obj"]
    table = []
    for r in rows:
        t = r["tools"]
        ref = t["heaplens"]["bytes"]
        cells = [r["workload"], fmt_int(ref)]
        for p in peers:
            cells += [fmt_int(t[p]["bytes"]), fmt_pct(t[p]["bytes"], ref)]
        cells += [fmt_int(r["heaplens_counted"]), "%.1f" % r["bookkeeping_per_object"]]
        table.append(cells)
    out.append(render(headers, table, markdown))
    out.append("")

    out.append("%sTargets (shared/DESIGN.md)" % h2)
    out.append("")
    table = [[t["what"], t["target"], t["measured"], "met" if t["met"] else "MISSED"]
             for t in summary["targets"]]
    out.append(render(["target", "wanted", "measured", ""], table, markdown,
                      align=["l", "r", "r", "l"]))
    notes = notes_for(rows, tools)
    if meta["scale"] < 1:
        notes.append("Scale %g: fixed per-call costs (argument checks, the first table "
                     "allocation) weigh on small workloads; the targets are for scale 1."
                     % meta["scale"])
    core = [r["tools"]["core"]["ns_per_object"] for r in rows]
    notes.append("core = heaplens' C walk alone (heaplens._heaplens.walk), without the Python "
                 "layer of heaplens.asizeof: worst %s ns/object; geomean %s."
                 % (fmt_ns(max(core)), ", ".join(
                     "%s/core %s" % (p, fmt_ratio(summary["core_geomean"][p])) for p in peers)))
    if notes:
        out.append("")
        out.append("%sNotes" % h2)
        out.append("")
        out += ["- " + n for n in notes]
    out.append("")
    out.append("%s" % machine_line(meta))
    return "\n".join(out)


def notes_for(rows, tools):
    notes = []
    by = {r["workload"]: r for r in rows}
    for r in rows:
        t = r["tools"]
        for name, v in t.items():
            if not v["bytes_stable"]:
                notes.append("%s: %s gave different byte totals across runs: %s"
                             % (r["workload"], name, v["bytes_seen"]))
        before = r["heaplens_bytes_before_peers"]
        if before is not None and before != t["heaplens"]["bytes"]:
            notes.append("%s: ANOMALY: heaplens' result changed between its own runs "
                         "(%d -> %d)" % (r["workload"], t["heaplens"]["bytes"], before))
        after = r["heaplens_bytes_after_peers"]
        if before is not None and after != before:
            culprit = " (guppy3's domisize walks the whole heap and reads __dict__ " \
                      "of every instance on it, not only of the ones it was given)" \
                if "guppy3" in tools else ""
            notes.append("%s: the object heaplens sized weighs %s bytes after the peers ran, "
                         "%s before%s." % (r["workload"], fmt_int(after), fmt_int(before),
                                           culprit))
    w5 = by.get("W5")
    if w5 and "pympler" in tools:
        p, h = w5["tools"]["pympler"]["bytes"], w5["tools"]["heaplens"]["bytes"]
        if p < h:
            notes.append("W5: pympler's default limit=100 stops 100 levels down: it sizes "
                         "%s of %s bytes (%.1f%%) and its time covers that part only."
                         % (fmt_int(p), fmt_int(h), 100.0 * p / h))
    w3 = by.get("W3")
    if w3 and "heaplens_bytes_after_pympler" in w3:
        a, b = w3["heaplens_bytes_after_pympler"], w3["heaplens_bytes_fresh"]
        if a != b:
            notes.append("W3: after pympler has sized it, the same W3 weighs %s bytes "
                         "instead of %s (%+.1f%%): reading obj.__dict__ created a dict per "
                         "instance. Each peer was given a freshly built W3 for every run."
                         % (fmt_int(a), fmt_int(b), 100.0 * (a - b) / b))
    return notes


def machine_line(meta):
    return ("Machine: %s, %d CPUs, load average %.2f at start; Python %s; %s; "
            "scale %g; heaplens %s%s."
            % (meta["cpu"], meta["nproc"], meta["loadavg"], meta["python"],
               meta["date"], meta["scale"], meta["heaplens_version"],
               " (%s)" % meta["git"] if meta["git"] else ""))


def machine_meta(args):
    import heaplens
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    git = ""
    try:
        git = subprocess.run(["git", "-C", HERE, "describe", "--always", "--dirty"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True).stdout.strip()
    except OSError:
        pass
    return {
        "cpu": cpu,
        "nproc": os.cpu_count() or 0,
        "loadavg": os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "scale": args.scale,
        "repeat": args.repeat,
        "slow_repeat": args.slow_repeat,
        "heaplens_version": getattr(heaplens, "__version__", "?"),
        "git": git,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=None,
                    help="scale every workload (default 1.0; %g with --quick)" % QUICK_SCALE)
    ap.add_argument("--repeat", type=int, default=None,
                    help="timed runs for heaplens and the floor (default 5; 1 with --quick)")
    ap.add_argument("--slow-repeat", type=int, default=None,
                    help="timed runs for pympler, objsize, guppy3 (default 3; 1 with --quick)")
    ap.add_argument("--quick", action="store_true", help="smoke run: small scale, one run")
    ap.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W3")
    ap.add_argument("--no-guppy", action="store_true", help="leave guppy3 out")
    ap.add_argument("--workloads", default="", help="directory holding workloads.py")
    ap.add_argument("--markdown", action="store_true", help="print markdown tables")
    ap.add_argument("--json", metavar="PATH", help="write the raw numbers to PATH")
    args = ap.parse_args(argv)
    if args.scale is None:
        args.scale = QUICK_SCALE if args.quick else 1.0
    if args.repeat is None:
        args.repeat = 1 if args.quick else 5
    if args.slow_repeat is None:
        args.slow_repeat = 1 if args.quick else 3
    if args.repeat < 1 or args.slow_repeat < 1 or args.scale <= 0:
        ap.error("--repeat, --slow-repeat and --scale must be positive")

    workloads = import_workloads(args.workloads)
    if hasattr(workloads, "Plain"):
        # CPython 3.11+ gives the first ~25 instances of a class larger
        # inline-values arrays (168 B more each, on 3.11) until the shared
        # keys settle. Make them now, so that every W3 built below, the one
        # heaplens sizes and the peers' fresh ones, has the same layout.
        _ = [workloads.Plain(i) for i in range(64)]
        del _
    names = [n.strip().upper() for n in args.only.split(",") if n.strip()] or list(
        workloads.WORKLOADS)
    for n in names:
        if n not in workloads.WORKLOADS:
            ap.error("unknown workload %r (have %s)" % (n, ", ".join(workloads.WORKLOADS)))

    floor = load_floor()
    tools, missing = load_tools(floor, args.no_guppy)
    meta = machine_meta(args)
    meta["missing_tools"] = missing

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    if missing:
        log("not installed, left out: %s" % ", ".join(missing))
    rows = [bench_workload(n, workloads, args.scale, tools, args.repeat, args.slow_repeat,
                           floor, log) for n in names]
    summary = summarise(rows, tools)
    print(report(rows, summary, tools, meta, args.markdown))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows, "summary": summary}, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
