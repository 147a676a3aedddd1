# Shared shell functions for the scripts (sourced, not run).

# make_venv DIR PYTHON [EXTRAS [PIP-ARGS...]]: a venv with heaplens (and
# extras) installed from this checkout; PIP-ARGS go to the build, e.g.
# -C cmake.define.HEAPLENS_GENERIC=ON.
make_venv() {
  local dir=$1 py=$2 extras=${3:-}
  shift 2; [ $# -gt 0 ] && shift
  [ -x "$dir/bin/python" ] || "$py" -m venv "$dir" || return 1
  "$dir/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  "$dir/bin/python" -m pip install -q --force-reinstall --no-deps "$@" . 2>&1 | sed "/^WARNING: Location/d" || return 1
  # The same build options again: pip rebuilds a local project here.
  "$dir/bin/python" -m pip install -q "$@" ".${extras}" 2>&1 | sed "/^WARNING: Location/d" || return 1
  "$dir/bin/python" -c 'import heaplens' || { echo "heaplens did not install in $dir" >&2; return 1; }
}

# find_pythons: the default python3 first, then every other CPython 3.9-3.13
# on the machine, one per minor version, as paths.
find_pythons() {
  local seen="" p v
  for p in "$(command -v python3)" /root/.pyenv/versions/3.*/bin/python \
           $(command -v python3.9 python3.10 python3.11 python3.12 python3.13 2>/dev/null); do
    [ -x "$p" ] || continue
    v=$("$p" -c 'import sys; v=sys.version_info; print("%d.%d" % v[:2] if (3,9) <= v[:2] <= (3,13) else "")' 2>/dev/null) || continue
    [ -n "$v" ] || continue
    case " $seen " in *" $v "*) continue ;; esac
    seen="$seen $v"
    echo "$p"
  done
}
