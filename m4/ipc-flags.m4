# SPDX-License-Identifier: LGPL-2.1-or-later
#
# IPC_ADD_CFLAGS(VAR, FLAGS...): append to VAR each flag the C compiler
# accepts with -Werror (so unknown warnings are dropped, not fatal).
# IPC_ADD_LDFLAGS(VAR, FLAGS...): the same for the linker.

AC_DEFUN([IPC_ADD_CFLAGS], [
	for ipc_flag in m4_normalize([$2]); do
		AS_VAR_PUSHDEF([ipc_cache], [ipc_cv_cflag_$ipc_flag])
		AC_CACHE_CHECK([whether $CC accepts $ipc_flag], [ipc_cache], [
			ipc_save_CFLAGS=$CFLAGS
			CFLAGS="$CFLAGS -Werror $ipc_flag"
			AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
				[AS_VAR_SET([ipc_cache], [yes])], [AS_VAR_SET([ipc_cache], [no])])
			CFLAGS=$ipc_save_CFLAGS])
		AS_VAR_IF([ipc_cache], [yes], [$1="$$1 $ipc_flag"])
		AS_VAR_POPDEF([ipc_cache])
	done
])

AC_DEFUN([IPC_ADD_LDFLAGS], [
	for ipc_flag in m4_normalize([$2]); do
		AS_VAR_PUSHDEF([ipc_cache], [ipc_cv_ldflag_$ipc_flag])
		AC_CACHE_CHECK([whether the linker accepts $ipc_flag], [ipc_cache], [
			ipc_save_LDFLAGS=$LDFLAGS
			LDFLAGS="$LDFLAGS -Werror $ipc_flag"
			AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])],
				[AS_VAR_SET([ipc_cache], [yes])], [AS_VAR_SET([ipc_cache], [no])])
			LDFLAGS=$ipc_save_LDFLAGS])
		AS_VAR_IF([ipc_cache], [yes], [$1="$$1 $ipc_flag"])
		AS_VAR_POPDEF([ipc_cache])
	done
])
