"""``python -m heaplens run``: run a script or module under a Monitor, print
what grew (and, with ``--track``, where it was allocated), write the HTML
report, and optionally save every sample as a ``.snap`` file."""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import os
import sys
import time
import traceback
import types
from typing import Any, Dict, List, Optional, Tuple

import heaplens
from heaplens._format import human_count, human_size, table

HELP = "run a script (or -m module) under a heap monitor and report what grew"
USAGE = "python -m heaplens run [options] (script.py | -m module) [args ...]"

_HEAPLENS_DIR = os.path.dirname(os.path.abspath(heaplens.__file__))


_RUN_VALUED = {"--interval", "-o", "--output", "--top", "--keep", "--baseline", "--snapshots",
               "--frames"}


def split_module_args(argv: List[str]) -> Tuple[List[str], Optional[List[str]]]:
    """As ``python -m``: everything after ``run ... -m MODULE`` is the
    module's (``--x`` included), not ours."""
    if "run" not in argv:
        return argv, None
    i = argv.index("run") + 1
    while i < len(argv):
        a = argv[i]
        if a == "-m" and i + 1 < len(argv):
            return argv[:i + 2], argv[i + 2:]
        if a.startswith("-m") and len(a) > 2 and not a.startswith("--"):
            return argv[:i + 1], argv[i + 1:]       # -mmodule
        if a in _RUN_VALUED:
            i += 2
        elif a.startswith("-"):
            i += 1
        else:
            return argv, None                        # a script: argparse splits
    return argv, None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--interval", type=float, default=1.0, metavar="S",
                   help="seconds between samples (default 1)")
    p.add_argument("-o", "--output", metavar="REPORT.html",
                   help="where to write the HTML report (default: "
                        "heaplens-<name>-<date>-<time>.html in the current directory)")
    p.add_argument("--top", type=int, default=20, help="rows in the growth table (default 20)")
    p.add_argument("--keep", type=int, default=None, metavar="N",
                   help="keep only the N largest types of each sample")
    p.add_argument("--baseline", choices=("imports", "start"), default="imports",
                   help="when the first sample is taken: 'imports' (default) after the "
                        "script is compiled and its top-level imports are done, so that "
                        "the growth is the script's own; 'start' before anything runs")
    p.add_argument("--snapshots", metavar="DIR",
                   help="save every sample as DIR/sample-NNNN.snap (for 'python -m "
                        "heaplens diff')")
    p.add_argument("--track", action="store_true",
                   help="record allocation sites (heaplens.track()) and print where the "
                        "objects of the types that grew were allocated")
    p.add_argument("--frames", type=int, default=1, metavar="N",
                   help="frames of allocation site kept with --track (default 1)")
    p.add_argument("-m", dest="module", metavar="MODULE",
                   help="run a module as 'python -m MODULE' does (the arguments after it "
                        "go to the module)")
    p.add_argument("script", nargs="?", help="the script to run")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")


class _Progress:
    """A one-line status on stderr, redrawn in place; silent unless stderr
    is a terminal."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.width = 0

    def show(self, text: str) -> None:
        if self.enabled:
            pad = max(0, self.width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()
            self.width = len(text)

    def done(self) -> None:
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


class _Target:
    """What to run: its code, the __main__ module's attributes, argv[0]
    and sys.path[0], and the source (for its top-level imports)."""

    def __init__(self, name: str, code: types.CodeType, attrs: Dict[str, Any], argv0: str,
                 path0: str, source: Optional[str]) -> None:
        self.name = name
        self.code = code
        self.attrs = attrs
        self.argv0 = argv0
        self.path0 = path0
        self.source = source


def _script_target(path: str) -> _Target:
    with open(path, "rb") as f:
        raw = f.read()
    code = compile(raw, path, "exec", dont_inherit=True)
    try:
        source: Optional[str] = raw.decode("utf-8")
    except UnicodeDecodeError:
        source = None
    attrs = {"__file__": path, "__cached__": None, "__package__": None, "__spec__": None,
             "__loader__": None}
    return _Target(os.path.splitext(os.path.basename(path))[0], code, attrs, path,
                   os.path.dirname(os.path.abspath(path)), source)


def _module_target(name: str) -> _Target:
    """As ``python -m name``: a package runs its __main__ submodule."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ImportError("No module named %s" % name)
    if spec.submodule_search_locations is not None:
        spec = importlib.util.find_spec(name + ".__main__")
        if spec is None:
            raise ImportError("No module named %s.__main__; '%s' is a package and cannot "
                              "be directly executed" % (name, name))
    loader = spec.loader
    code = loader.get_code(spec.name) if loader is not None and hasattr(loader, "get_code") \
        else None
    if code is None:
        raise ImportError("No code object available for %s" % spec.name)
    try:
        source = loader.get_source(spec.name)  # type: ignore[union-attr]
    except Exception:
        source = None
    origin = spec.origin or spec.name
    attrs = {"__file__": origin, "__cached__": spec.cached, "__package__": spec.parent,
             "__spec__": spec, "__loader__": loader}
    return _Target(spec.name, code, attrs, origin, os.getcwd(), source)


def _top_level_imports(source: Optional[str], package: Optional[str]) -> List[str]:
    """The modules a script imports at its top level (outside functions and
    classes, including inside if/try blocks), in order."""
    if not source:
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: List[str] = []
    todo = list(tree.body)
    while todo:
        node = todo.pop(0)
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if not package:
                    continue
                try:
                    base = importlib.util.resolve_name("." * node.level + (node.module or ""),
                                                       package)
                except (ImportError, ValueError):
                    continue
            else:
                base = node.module or ""
            if base:
                names.append(base)
                # "from pkg import sub" may import the submodule pkg.sub
                names.extend("%s.%s" % (base, a.name) for a in node.names if a.name != "*")
        elif isinstance(node, (ast.If, ast.Try)):
            for field in ("body", "orelse", "finalbody"):
                todo.extend(getattr(node, field, []) or [])
            for h in getattr(node, "handlers", []) or []:
                todo.extend(h.body)
    return names


def _preimport(names: List[str]) -> int:
    """Import what the script will import anyway, so that the baseline
    sample already holds it. Failures are left for the script to meet.
    Returns how many modules were newly imported."""
    before = len(sys.modules)
    for name in names:
        if name in sys.modules or name == "__main__":
            continue
        try:
            if importlib.util.find_spec(name) is None:
                continue
            importlib.import_module(name)
        except BaseException:  # the script will raise it itself, where it should
            continue
    return len(sys.modules) - before


def _sample_path(directory: str, i: int) -> str:
    return os.path.join(directory, "sample-%04d.snap" % i)


def _default_output(name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "script"
    return "heaplens-%s-%s.html" % (stem, time.strftime("%Y%m%d-%H%M%S"))


def _status_of(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # as the interpreter does for sys.exit("message")
    return 1


def _script_traceback(exc: BaseException) -> str:
    """The traceback the script's own uncaught exception would print,
    without heaplens' frames."""
    tb = exc.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(
            _HEAPLENS_DIR + os.sep):
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    exc.__traceback__ = None
    return text


def site_rows(tracker: Any, grew: List[str], per_type: int = 3
              ) -> List[Tuple[str, str, int, int]]:
    """(type, site, objects, bytes) of the tracked survivors of the types in
    ``grew``, the ``per_type`` largest sites of each type, in ``grew``'s
    order, sized as the snapshots size them. Objects made by heaplens itself
    are left out."""
    wanted = set(grew)
    by: Dict[Tuple[str, str], List[int]] = {}
    for s in tracker.survivors():
        if s.type_name not in wanted:
            continue
        tb = s.traceback
        if tb and os.path.abspath(tb[0].filename).startswith(_HEAPLENS_DIR + os.sep):
            continue
        site = " <- ".join("%s:%d" % (f.filename, f.lineno) for f in tb) if tb \
            else "<no Python frame>"
        o = s.object()
        size = heaplens.flatsize(o) if o is not None else s.size
        del o
        g = by.setdefault((s.type_name, site), [0, 0])
        g[0] += 1
        g[1] += size
    rows = []
    for name in grew:
        mine = sorted(((site, c, n) for (t, site), (c, n) in by.items() if t == name),
                      key=lambda r: (-r[2], -r[1], r[0]))
        rows.extend((name, site, c, n) for site, c, n in mine[:per_type])
    return rows


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run a script or module under a Monitor; print its growth; write the
    report (and the samples, with --snapshots). Returns the script's exit
    status."""
    if args.module is not None:
        if args.script is not None:
            args.args = [args.script] + list(args.args)
        try:
            target = _module_target(args.module)
        except Exception as e:
            print("heaplens run: %s" % e, file=sys.stderr)
            return 2
    else:
        if args.script is None:
            parser.error("give a script to run, or -m MODULE")
        if not os.path.isfile(args.script):
            print("heaplens run: no such script: %s" % args.script, file=sys.stderr)
            return 2
        try:
            target = _script_target(args.script)
        except SyntaxError:
            traceback.print_exc(limit=0)
            return 1
    output = args.output or _default_output(target.name)
    if args.snapshots:
        try:
            os.makedirs(args.snapshots, exist_ok=True)
        except OSError as e:
            print("heaplens run: cannot create %s: %s" % (args.snapshots, e), file=sys.stderr)
            return 2

    progress = _Progress()

    def on_sample(s: heaplens.Sample) -> None:
        # Nothing kept here: what this adds to the heap would show as growth.
        if args.snapshots and monitor.last is not None:
            monitor.last.save(_sample_path(args.snapshots, len(monitor.samples)))
        progress.show("heaplens: %.1fs, %d samples, %s objects, %s" % (
            s.t, len(monitor.samples), human_count(s.total_count), human_size(s.total_size)))

    monitor = heaplens.Monitor(interval=args.interval, top=args.keep, on_sample=on_sample)
    tracker = heaplens.Tracker(frames=args.frames) if args.track else None
    main_mod = types.ModuleType("__main__")
    main_mod.__dict__.update(target.attrs)
    main_mod.__dict__["__builtins__"] = __builtins__
    old_argv, old_path0, old_main = sys.argv, sys.path[0], sys.modules.get("__main__")
    sys.argv = [target.argv0] + list(args.args)
    sys.path[0] = target.path0
    status = 0
    sites: List[Tuple[str, str, int, int]] = []
    failure: Optional[BaseException] = None
    try:
        sys.modules["__main__"] = main_mod   # what `import __main__` finds from here on
        if args.baseline == "imports":
            _preimport(_top_level_imports(target.source, target.attrs.get("__package__")))
        # The tracker starts first: what starting it allocates is then in
        # the baseline, not in the growth.
        if tracker is not None:
            tracker.start()
        monitor.start()
        try:
            exec(target.code, main_mod.__dict__)
        except SystemExit as e:
            status = _status_of(e)
        except BaseException as e:  # reported below, after the growth table
            # Printed after the last sample: formatting a traceback fills
            # linecache and abc caches, which are not the script's growth.
            failure = e
            status = 130 if isinstance(e, KeyboardInterrupt) else 1
        finally:
            # The last sample is taken while the script's globals are alive:
            # what it built is what the report is about.
            try:
                monitor.stop()
                progress.done()
                if tracker is not None:
                    grew = [r.type_name for r in monitor.growth().changed().rows[:args.top]
                            if r.count_diff > 0]
                    # While the tracker runs, its records prove the objects
                    # alive: sizing them is cheap and safe.
                    sites = site_rows(tracker, grew)
            finally:
                if tracker is not None and tracker.active:
                    tracker.stop()
    finally:
        sys.argv, sys.path[0] = old_argv, old_path0
        if old_main is not None:
            sys.modules["__main__"] = old_main
    if failure is not None:
        sys.stderr.write(_script_traceback(failure))
        failure = None
    growth = monitor.growth().changed()
    print("heaplens: %d samples over %.1f s (baseline: %s); growth from the first to the "
          "last:" % (len(monitor.samples), monitor.samples[-1].t,
                     "after the script's imports" if args.baseline == "imports"
                     else "before the script started"), file=sys.stderr)
    print(growth.format(limit=args.top), file=sys.stderr)
    if tracker is not None:
        print("heaplens: where the objects of the types that grew were allocated "
              "(--track, innermost frame first):", file=sys.stderr)
        if sites:
            print(table(("type", "allocated at", "objects", "size"),
                        [(t, s, human_count(c), human_size(n)) for t, s, c, n in sites],
                        align="<<>>"), file=sys.stderr)
        else:
            print("  no tracked object of those types is alive", file=sys.stderr)
    try:
        monitor.report_html(output, title="heaplens: %s" % target.name, tracker=tracker,
                            sites=sites)
    except OSError as e:
        print("heaplens run: cannot write the report %s: %s" % (output, e), file=sys.stderr)
        return status or 2
    finally:
        main_mod.__dict__.clear()
        if tracker is not None:
            tracker.clear()
    print("heaplens: report written to %s" % os.path.abspath(output), file=sys.stderr)
    if args.snapshots:
        n = len(monitor.samples)
        print("heaplens: %d samples saved as %s ... %s (compare two with 'python -m heaplens "
              "diff')" % (n, _sample_path(args.snapshots, 1),
                          os.path.basename(_sample_path(args.snapshots, n))), file=sys.stderr)
    return status


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``python -m heaplens run``: the options checked, then run()."""
    if args.interval <= 0:
        parser.error("--interval must be positive")
    if args.top < 0:
        parser.error("--top must be >= 0")
    if args.keep is not None and args.keep < 1:
        parser.error("--keep must be >= 1")
    return run(args, parser)
