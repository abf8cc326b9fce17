#include "testutil.h"

#include <errno.h>

#include "base/err.h"

Test(err, names_and_messages)
{
	cr_assert_str_eq(nv_code_name(NV_ENOTFOUND), "NOTFOUND");
	cr_assert_str_eq(nv_code_message(NV_ENOTFOUND), "not found");
	cr_assert_str_eq(nv_code_name(-1), "UNKNOWN");
	cr_assert_str_eq(nv_code_name(NV_E__COUNT), "UNKNOWN");
}

Test(err, set_and_prefix)
{
	struct nv_error e = NV_ERROR_INIT;

	cr_assert_eq(nv_error_set(&e, NV_ECORRUPT, "bad entry '%s'", "x"), NV_ECORRUPT);
	cr_assert_eq(nv_error_prefix(&e, "restore '%s'", "venv"), NV_ECORRUPT);
	cr_assert_str_eq(e.msg, "restore 'venv': bad entry 'x'");
	nv_error_clear(&e);
	cr_assert_eq(e.code, NV_OK);
	cr_assert_str_eq(e.msg, "");
}

Test(err, sys_maps_errno)
{
	struct nv_error e = NV_ERROR_INIT;

	cr_assert_eq(nv_error_sys(&e, NV_EIO, ENOENT, "cannot open '%s'", "/x"), NV_ENOTFOUND);
	cr_assert_str_eq(e.msg, "cannot open '/x': No such file or directory");
	cr_assert_eq(e.sys_errno, ENOENT);
	cr_assert_eq(nv_error_sys(NULL, NV_EIO, ENOSPC, "x"), NV_ENOSPACE);
	cr_assert_eq(nv_error_sys(&e, NV_ECORRUPT, EIO, "x"), NV_ECORRUPT);
}

Test(err, null_carrier_is_fine)
{
	cr_assert_eq(nv_error_set(NULL, NV_EIO, "x"), NV_EIO);
	cr_assert_eq(nv_error_prefix(NULL, "x"), NV_EINTERNAL);
}
