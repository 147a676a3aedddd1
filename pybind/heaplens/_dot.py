"""Graphviz DOT text: node titles, string escaping, and rendering with the
``dot`` program. Takes plain objects and strings; knows nothing of how the
graph was found (heaplens._graph_view does that)."""

from __future__ import annotations

import types
from typing import Any

from heaplens._format import safe_repr


def _node_title(o: Any) -> str:
    if isinstance(o, types.ModuleType):
        return "module %s" % o.__name__
    if isinstance(o, type):
        return "class %s" % o.__qualname__
    return "%s %s" % (type(o).__name__, safe_repr(o, 40))


def _dot_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _render(dot: str, output: str) -> None:
    import shutil
    import subprocess
    fmt = output.rsplit(".", 1)[-1].lower()
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError("output must end in .svg, .png or .pdf, not %r" % (output,))
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError("Graphviz's dot is not installed (Debian: apt-get install graphviz)")
    r = subprocess.run([exe, "-T" + fmt, "-o", output], input=dot.encode(),
                       capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("dot failed: %s" % r.stderr.decode(errors="replace").strip())
