"""heaplens.capabilities() and heaplens.UnsupportedError, in this build and,
through a stand-in for the extension's build constants, in every other mode
(generic by option, unknown version, free-threaded with and without the GIL)."""
import platform
import sys
import types

import pytest

import heaplens
from heaplens import _capabilities, _heaplens as _c

FEATURES = ("asizeof", "hidden_memory", "allocator_model", "snapshot", "snapshot_by_site",
            "track", "leaks", "graph")
VERSION = platform.python_version()


def test_capabilities_shape():
    caps = heaplens.capabilities()
    assert tuple(caps) == FEATURES
    for name, v in caps.items():
        assert v is True or (isinstance(v, str) and len(v) > 40), (name, v)
    assert caps is not heaplens.capabilities()  # a new dict each call
    assert "capabilities" in heaplens.__all__ and "UnsupportedError" in heaplens.__all__


def test_build_constants_agree():
    assert _c.LAYOUT_MODE in ("known", "generic-option", "generic-version", "free-threaded")
    assert _c.KNOWN_LAYOUT == (_c.LAYOUT_MODE == "known")
    assert _c.HAVE_TRACKER == _c.KNOWN_LAYOUT
    assert hasattr(_c, "track_start") == bool(_c.HAVE_TRACKER)
    import sysconfig
    assert _c.FREE_THREADED == bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    if _c.LAYOUT_MODE != "generic-option" and not _c.FREE_THREADED:
        assert _c.KNOWN_LAYOUT == ((3, 9) <= sys.version_info[:2] <= (3, 13))


@pytest.mark.skipif(not _c.KNOWN_LAYOUT, reason="a generic build: the next test covers it")
def test_known_build_supports_everything():
    assert set(heaplens.capabilities().values()) == {True}
    with heaplens.track() as t:
        x = [object() for _ in range(3)]
    assert heaplens.allocation_site(x[0]) is not None
    t.clear()
    assert heaplens.asizeof([1], model="allocator") > 0


@pytest.mark.skipif(_c.KNOWN_LAYOUT, reason="a known-layout build: the test above covers it")
def test_generic_build_refuses_with_the_capability_sentence():
    caps = heaplens.capabilities()
    for feature, call in [
        ("track", lambda: heaplens.track()),
        ("track", lambda: heaplens.Tracker(frames=2)),
        ("allocator_model", lambda: heaplens.asizeof([1, 2], model="allocator")),
        ("allocator_model", lambda: heaplens.flatsize(1, model="allocator")),
        ("allocator_model", lambda: heaplens.snapshot(model="allocator")),
        ("snapshot_by_site", lambda: heaplens.snapshot(by="site")),
    ]:
        with pytest.raises(heaplens.UnsupportedError) as e:
            call()
        assert e.value.feature == feature
        assert str(caps[feature]) in str(e.value)
        assert VERSION in str(e.value)
    # What generic mode keeps: the getsizeof figures of public API.
    assert caps["asizeof"] is True and caps["snapshot"] is True
    assert caps["leaks"] is True and caps["graph"] is True
    for o in [1, "abc", (1,), [1, 2, 3], {"a": 1}, 1.5, object(), type]:
        assert heaplens.flatsize(o, align=1) == sys.getsizeof(o)
        assert heaplens.basicsize(o) == type(o).__basicsize__ + (
            sys.getsizeof(o) - type(o).__sizeof__(o))
    assert heaplens.asizeof([1, "ab"]) == sum(
        (sys.getsizeof(o) + 7) // 8 * 8 for o in ([1, "ab"], 1, "ab"))
    s = heaplens.snapshot()
    assert s.total_count > 1000 and s.total_size > 0


def _fake(monkeypatch, mode, free_threaded=False, gil_enabled=None):
    fake = types.SimpleNamespace(KNOWN_LAYOUT=int(mode == "known"), LAYOUT_MODE=mode,
                                 FREE_THREADED=int(free_threaded))
    monkeypatch.setattr(_capabilities, "_c", fake)
    monkeypatch.setattr(_capabilities, "_all_known", None)
    monkeypatch.setattr(_capabilities, "_fixed", None)
    if gil_enabled is not None:
        monkeypatch.setattr(sys, "_is_gil_enabled", lambda: gil_enabled, raising=False)


def test_known_mode_refuses_nothing(monkeypatch):
    _fake(monkeypatch, "known")
    assert set(heaplens.capabilities().values()) == {True}
    for f in FEATURES:
        _capabilities.require(f)  # no exception


@pytest.mark.parametrize("mode, phrase", [
    ("generic-option", "built in generic mode (HEAPLENS_GENERIC=ON) on CPython " + VERSION),
    ("generic-version", "knows the internal layouts of CPython 3.9-3.13 only, and this is "
                        "CPython " + VERSION),
])
def test_generic_modes_name_the_version_and_reason(monkeypatch, mode, phrase):
    _fake(monkeypatch, mode)
    caps = heaplens.capabilities()
    refused = {k for k, v in caps.items() if v is not True}
    assert refused == {"hidden_memory", "allocator_model", "track", "snapshot_by_site"}
    for k in refused:
        assert phrase in caps[k], k
        with pytest.raises(heaplens.UnsupportedError) as e:
            _capabilities.require(k)
        assert e.value.feature == k and phrase in str(e.value)
        assert str(e.value).startswith("heaplens cannot provide ")
    assert "lifetime tracking reads the interpreter's frames" in caps["track"]
    assert "values array" in caps["hidden_memory"]
    for k in ("asizeof", "snapshot", "leaks", "graph"):
        _capabilities.require(k)


def test_free_threaded_with_the_gil(monkeypatch):
    _fake(monkeypatch, "free-threaded", free_threaded=True, gil_enabled=True)
    caps = heaplens.capabilities()
    assert "CPython %s (free-threaded) is a free-threaded build" % VERSION in caps["track"]
    assert "without a GIL to serialise them" in caps["track"]
    assert caps["asizeof"] is True and caps["snapshot"] is True and caps["leaks"] is True


def test_free_threaded_without_the_gil_refuses_walks(monkeypatch):
    _fake(monkeypatch, "free-threaded", free_threaded=True, gil_enabled=False)
    caps = heaplens.capabilities()
    for k in ("asizeof", "snapshot", "leaks", "graph", "allocator_model"):
        assert caps[k].startswith("the GIL is disabled in this process (PYTHON_GIL=0"), k
    with pytest.raises(heaplens.UnsupportedError, match="the GIL is disabled"):
        _capabilities.require("asizeof")
    # The refusal reaches the public functions, before any walk starts.
    with pytest.raises(heaplens.UnsupportedError, match=r"cannot provide asizeof\(\) here"):
        heaplens.asizeof([1, 2, 3])
    with pytest.raises(heaplens.UnsupportedError, match=r"cannot provide snapshot\(\) here"):
        heaplens.snapshot()
    with pytest.raises(heaplens.UnsupportedError, match="cannot provide referrer graphs here"):
        heaplens.referrers([])
    with pytest.raises(heaplens.UnsupportedError, match="cannot provide leak checks here"):
        heaplens.check_leaks(lambda: None)


def test_unsupported_error_is_not_a_runtime_error():
    # Code that catches RuntimeError around heaplens calls must not swallow it.
    assert not issubclass(heaplens.UnsupportedError, RuntimeError)
    assert heaplens.UnsupportedError("x", "track").feature == "track"
