/* errors.c - see errors.h. */
#include "errors.h"

PyObject *
hl_py_raise(int rc)
{
    const char *msg = hl_error_last();
    if (rc == HL_EPYTHON || (PyErr_Occurred() && rc != HL_ENOMEM)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_SystemError, "heaplens: error without an exception");
        return NULL;
    }
    if (msg == NULL)
        msg = "heaplens: internal error";
    switch (rc) {
    case HL_ENOMEM:
        PyErr_Clear();
        PyErr_SetString(PyExc_MemoryError, msg);
        break;
    case HL_EINVAL:
        PyErr_SetString(PyExc_ValueError, msg);
        break;
    case HL_EOVERFLOW:
        PyErr_SetString(PyExc_OverflowError, msg);
        break;
    default:
        PyErr_SetString(PyExc_RuntimeError, msg);
        break;
    }
    return NULL;
}
