/* check_modes.c - compiled, never run: what lib/compat.h selects where no
 * interpreter of that kind can be installed. ctest builds this file twice
 * with the rest of the core and the binding (target heaplens_mode_*):
 * once with Py_GIL_DISABLED forced, as a free-threaded CPython's pyconfig.h
 * would define it (on 3.13 headers this also selects the free-threaded
 * object header, so the sources are compiled against that layout), and
 * once with HEAPLENS_GENERIC=1. A wrong selection is a compile error. */
#include "compat.h"

#if !defined(HL_EXPECT_FREE_THREADED) && !defined(HL_EXPECT_GENERIC_OPTION)
#error "compile with HL_EXPECT_FREE_THREADED or HL_EXPECT_GENERIC_OPTION"
#endif

_Static_assert(HL_KNOWN_LAYOUT == 0, "no internal layout may be assumed here");
_Static_assert(HL_HAVE_TRACKER == 0, "the lifetime tracker must not be built here");
_Static_assert(HL_HAVE_MANAGED_DICT == 0, "generic mode reads no values array");

#ifdef HL_EXPECT_FREE_THREADED
_Static_assert(HL_FREE_THREADED == 1, "Py_GIL_DISABLED must select free-threaded mode");
#if PY_VERSION_HEX >= 0x030D0000
/* On 3.13+ headers the forced macro really selects the free-threaded object
 * header (ob_tid, split reference counts): 32 bytes, not 16. */
_Static_assert(sizeof(PyObject) > 2 * sizeof(void *), "free-threaded object header expected");
#endif
_Static_assert(sizeof(HL_LAYOUT_MODE) == sizeof("free-threaded"), "layout mode names the reason");
#else
_Static_assert(HL_FREE_THREADED == 0, "a GIL build is not free-threaded");
_Static_assert(sizeof(HL_LAYOUT_MODE) == sizeof("generic-option"), "layout mode names the reason");
#endif

/* The private-layout parts of compat.h do not exist in these builds. */
#if defined(HL_IF_CODE) || defined(HL_IF_PREVIOUS) || defined(HL_IF_OWNER)
#error "the frame cursor's private offsets must not be defined in generic mode"
#endif

int hl_check_modes_dummy(void);
int
hl_check_modes_dummy(void)
{
    return HL_KNOWN_LAYOUT;
}
