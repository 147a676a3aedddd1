import os
import sys

# The test helpers beside this file (workloads.py: heaps of the standard
# shapes) import as top-level modules.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


# ---- generic mode (heaplens.capabilities()) --------------------------------
# A test that needs a feature this build refuses is skipped, and the skip
# reason is the sentence capabilities() gives: whole modules through
# _NEEDS_BY_MODULE, single tests through @pytest.mark.needs("feature").
# tests/python/unit/test_capabilities.py checks the refusals themselves.
import pytest  # noqa: E402

from heaplens import capabilities  # noqa: E402

_NEEDS_BY_MODULE = {
    "test_lifetimes.py": "track",
    "test_lifetimes_truth.py": "track",
    "test_lifetimes_gc_in_alloc.py": "track",
    "test_allocator_model.py": "allocator_model",
    # The screen's per-type counts come from the tracker; a generic build
    # keeps the block-count screen and its blind spot (docs/leaks.md).
    "test_leaks_blindspot.py": "track",
}
# Tests (by function name) whose expected figures count what generic mode
# does not: the hidden memory of instances and ranges, the exact header.
_NEEDS_BY_TEST = {
    "test_instance_inline_values_and_names": ("hidden_memory",),
    "test_range_and_slice_bounds_followed": ("hidden_memory",),
    "test_range_length_object_counted": ("hidden_memory",),
    # docs/semantics.md shows the figures of a known-layout build.
    "test_semantics_examples": ("hidden_memory", "allocator_model"),
    # Every page's examples and the README's demo table are a known-layout
    # build's (allocator model, track()).
    "test_page_examples": ("hidden_memory", "allocator_model", "track"),
    "test_readme_demo_output_is_the_demos": ("allocator_model", "track"),
    # run --track and Tracker reports need the tracker.
    "test_run_track_names_allocation_sites": ("track",),
    "test_repl_shows_tracker_report_once": ("track",),
    "test_hover_shows_values_and_legend_is_distinguishable": ("track",),
    "test_plain_instance_has_a_site": ("track",),
    # The leak screen's per-type counts and the with-block's sites come from
    # the tracker; without it the with-block compares censuses, which can
    # miss an untracked object leaked into an old container (docs/leaks.md).
    "test_leak_check_fixture_block_has_the_site": ("track",),
    "test_plain_instance_in_with_block_has_its_site": ("track",),
    # The registry's sizes replace __sizeof__ calls that generic mode leaves
    # to sys.getsizeof().
    "test_pandas_asized_tree_sums": ("hidden_memory",),
    "test_pandas_dataframe_is_not_counted_twice": ("hidden_memory",),
    "test_register_inherited_sizeof_for_a_deep_sizeof": ("hidden_memory",),
    "test_register_sizeof_function_and_no_traverse": ("hidden_memory",),
    "test_snapshot_total_counts_a_dataframe_once": ("hidden_memory",),
    "test_subclasses_inherit_an_entry": ("hidden_memory",),
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs(feature, ...): skip unless heaplens.capabilities()[feature] is True")


def _missing(features):
    caps = capabilities()
    for f in features:
        if caps[f] is not True:
            return "needs %s: %s" % (f, caps[f])
    return None


class _UnsupportedModule(pytest.Module):
    """A test module whose feature is refused here: collected as one skip
    with capabilities()' reason (importing it could fail: it may use the
    tracker's C functions at import)."""

    reason = ""

    def collect(self):
        pytest.skip("%s %s" % (self.path.name, self.reason))


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    feature = _NEEDS_BY_MODULE.get(module_path.name)
    why = _missing([feature]) if feature else None
    if why is None:
        return None
    mod = _UnsupportedModule.from_parent(parent, path=module_path)
    mod.reason = why
    return mod


def pytest_collection_modifyitems(config, items):
    for item in items:
        needs = _NEEDS_BY_TEST.get(getattr(item, "originalname", item.name))
        why = _missing(needs) if needs else None
        if why is not None:
            item.add_marker(pytest.mark.skip(reason=why))
        for mark in item.iter_markers("needs"):
            why = _missing(mark.args)
            if why is not None:
                item.add_marker(pytest.mark.skip(reason=why))


# Tests of other features that happen to use a refused one (model="allocator"
# in a parametrised case, say) are skipped when the refusal is the reason
# they stopped: UnsupportedError naming a feature that capabilities() says
# is refused here. In a build where the feature works, nothing is skipped.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    outcome = yield
    exc = outcome.excinfo
    if exc is None or not issubclass(exc[0], UnsupportedError):
        return
    why = _missing([exc[1].feature]) if exc[1].feature else None
    if why is not None:
        outcome.force_exception(pytest.skip.Exception("refused here: " + why, _use_item_location=True))


from heaplens import UnsupportedError  # noqa: E402
