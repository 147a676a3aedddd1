"""Code that leaks. Each case_* function is checked with
heaplens.check_leaks; each must be reported, and the report must name the
holder given in HOLDERS."""

_items = []


class _Payload:
    pass


def case_global_list_grows():
    _items.append(_Payload())


class Handler:
    callbacks = []

    def on_event(self):
        pass


def case_class_attribute_bound_methods():
    Handler.callbacks.append(Handler().on_event)


_registry = {}
_n = [0]


def case_closure_in_registry():
    _n[0] += 1
    data = [_n[0]] * 3
    _registry["job-%d" % _n[0]] = lambda: sum(data)


class _Cyclic:
    def __init__(self):
        self.me = self


_anchors = []


def case_cycle_anchored_in_global():
    _anchors.append(_Cyclic())


_by_id = {}


def case_dict_entry_keyed_by_fresh_id():
    obj = _Payload()
    _by_id[id(obj)] = obj


CASES = {name[5:]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}

# What the referrer chain of each case must mention.
HOLDERS = {
    "global_list_grows": "dict['_items']",
    "class_attribute_bound_methods": "Handler",
    "closure_in_registry": "dict['_registry']",
    "cycle_anchored_in_global": "dict['_anchors']",
    "dict_entry_keyed_by_fresh_id": "dict['_by_id']",
}
