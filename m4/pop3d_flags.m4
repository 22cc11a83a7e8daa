dnl POP3D_CHECK_CFLAG(FLAG, [IF-OK], [IF-NOT])
dnl Compile and link a trivial program with FLAG (and -Werror, so that
dnl compilers that only warn about unknown flags do not pass the probe).
AC_DEFUN([POP3D_CHECK_CFLAG], [
	AS_VAR_PUSHDEF([cache], [pop3d_cv_cflag_$1])
	AC_CACHE_CHECK([whether $CC accepts $1], [cache], [
		save_CFLAGS=$CFLAGS
		save_LDFLAGS=$LDFLAGS
		CFLAGS="$CFLAGS -Werror $1"
		LDFLAGS="$LDFLAGS $1"
		AC_LINK_IFELSE([AC_LANG_PROGRAM([], [return 0;])],
		    [AS_VAR_SET([cache], [yes])], [AS_VAR_SET([cache], [no])])
		CFLAGS=$save_CFLAGS
		LDFLAGS=$save_LDFLAGS])
	AS_VAR_IF([cache], [yes], [$2], [$3])
	AS_VAR_POPDEF([cache])
])

dnl POP3D_CHECK_LDFLAG(FLAG, [IF-OK], [IF-NOT])
AC_DEFUN([POP3D_CHECK_LDFLAG], [
	AS_VAR_PUSHDEF([cache], [pop3d_cv_ldflag_$1])
	AC_CACHE_CHECK([whether the linker accepts $1], [cache], [
		save_LDFLAGS=$LDFLAGS
		LDFLAGS="$LDFLAGS -Werror $1"
		AC_LINK_IFELSE([AC_LANG_PROGRAM([], [return 0;])],
		    [AS_VAR_SET([cache], [yes])], [AS_VAR_SET([cache], [no])])
		LDFLAGS=$save_LDFLAGS])
	AS_VAR_IF([cache], [yes], [$2], [$3])
	AS_VAR_POPDEF([cache])
])
