/* check_registry.c - the type registry and how walks use it. */
#include "heaplens/heaplens.h"
#include "registry.h"
#include "suites.h"

START_TEST(register_find_unregister)
{
    PyObject *ns = hl_test_eval("class RegBase: pass\nclass RegSub(RegBase): pass",
                                "(RegBase, RegSub, RegSub(), lambda o: 1000)");
    PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(ns, 0);
    PyTypeObject *sub = (PyTypeObject *)PyTuple_GET_ITEM(ns, 1);
    PyObject *inst = PyTuple_GET_ITEM(ns, 2), *sizeof_fn = PyTuple_GET_ITEM(ns, 3);
    size_t before = hl_registry__count();
    Py_ssize_t plain = 0, sized = 0;
    ck_assert_int_eq(hl_size_flat(&plain, inst, HL_MODEL_GETSIZEOF, 1), 0);

    ck_assert_int_eq(hl_register_type(base, NULL, sizeof_fn, 0), 0);
    ck_assert_uint_eq(hl_registry__count(), before + 1);
    const hl_registry__entry *e = hl_registry__find(sub); /* through the MRO */
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_eq(e->type, base);
    ck_assert_ptr_eq(e->sizeof_fn, sizeof_fn);
    /* A walk sizes the subclass's instance with the registered function in
     * place of its __sizeof__ (the header and hidden memory stay). */
    PyObject *own = PyObject_CallMethod(inst, "__sizeof__", NULL);
    ck_assert_ptr_nonnull(own);
    ck_assert_int_eq(hl_size_flat(&sized, inst, HL_MODEL_GETSIZEOF, 1), 0);
    ck_assert_int_eq(sized - plain, 1000 - PyLong_AsSsize_t(own));
    Py_DECREF(own);

    PyObject *list = NULL;
    ck_assert_int_eq(hl_registry_types(&list), 0);
    ck_assert_int_eq(PyList_GET_SIZE(list), (Py_ssize_t)before + 1);
    Py_DECREF(list);

    ck_assert_int_eq(hl_unregister_type(sub), 0); /* only own entries */
    ck_assert_int_eq(hl_unregister_type(base), 1);
    ck_assert_int_eq(hl_unregister_type(base), 0);
    ck_assert_ptr_null(hl_registry__find(sub));
    ck_assert_int_eq(hl_size_flat(&sized, inst, HL_MODEL_GETSIZEOF, 1), 0);
    ck_assert_int_eq(sized, plain);
    Py_DECREF(ns);
}
END_TEST

START_TEST(bad_arguments)
{
    PyObject *notcallable = PyLong_FromLong(3);
    ck_assert_int_eq(hl_register_type(&PyFloat_Type, notcallable, NULL, 0), HL_EINVAL);
    ck_assert_int_eq(hl_register_type(&PyFloat_Type, NULL, NULL, 1u << 30), HL_EINVAL);
    ck_assert_ptr_null(hl_registry__find(&PyFloat_Type));
    Py_DECREF(notcallable);
}
END_TEST

Suite *
registry_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, register_find_unregister);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
