/*
 * privsep.c: giving up root for good, and the jail of the pre-login
 * process.
 * Runs as: root (the parent, until it becomes the user), and the
 * pre-login child while it jails itself.
 *
 * The root list: every file with code that runs as root when pop3d is
 * started as root, or (pop3d-passwd) by the administrator.  make lint
 * (tools/root-list) fails unless these are exactly the files of pop3d/,
 * auth/ and store/ whose "Runs as:" line starts with "root".
 *
 *   pop3d/main.c	options and the process setting
 *   pop3d/serve.c	the session from the launch to the exit status
 *   pop3d/conf.c	reading /etc/pop3d.conf; the mailbox path
 *   pop3d/parse.c	strict numbers, for the configuration
 *   pop3d/log.c	opening the journal or syslog; log lines
 *   pop3d/launch.c	finding the client socket and its address
 *   pop3d/proxy.c	the trust-proxy list, read and matched against
 *			the connection's peer
 *   pop3d/peer.c	taking the client's address from a PROXY note
 *   pop3d/conn.c	the connection set up; the input handed over
 *   pop3d/reply.c	the -ERR when the pre-login child cannot start
 *   pop3d/session.c	the session freed
 *   pop3d/keeper.c	forking the login process; the keeper until it
 *			becomes the user
 *   pop3d/keeper-main.c	pop3d-session, the keeper's program
 *   pop3d/handover.c	the login's handover, written and read
 *   pop3d/prelogin.c	forking the pre-login child, serving its records
 *   pop3d/record.c	the child's records, checked field by field
 *   pop3d/jail.c	the empty directory and the account of the child
 *   pop3d/login.c	the session set up; checking a credential, the
 *			account, the log line, the failure pause;
 *			login_finish up to the handover
 *   pop3d/recover.c	pop3d --recover: finding the mailboxes, a child
 *			per mailbox that becomes its owner
 *   pop3d/relay.c	POP-before-SMTP: recording a login's address
 *			before becoming the user; pop3d-relay's table
 *   pop3d/relay-main.c	pop3d-relay, run by the administrator
 *   pop3d/check.c	pop3d --check: the configuration, PAM, the
 *			account, the secrets file; a child that becomes
 *			the user for the mailbox
 *   pop3d/diag.c	pop3d --check: the words for a file's owner
 *   auth/auth.c	checking credentials with each method
 *   auth/pam.c		the PAM conversation
 *   auth/pamconf.c	pop3d --check: reading the PAM service's files
 *   auth/secrets.c	opening the secrets file
 *   auth/apop.c	the APOP timestamp and digest
 *   auth/scram.c	SCRAM secrets and proofs
 *   auth/scram-hi.c	SCRAM's key derivation
 *   auth/sasl.c	decoding the base64 proof of a record
 *   auth/privsep.c	this file
 *   auth/passwd.c	pop3d-passwd, run by the administrator
 *
 * (end of the root list)  Everything else runs as the jailed pre-login
 * child, the mail user or the invoking user; store/ never runs as root,
 * and after privsep_become nothing does.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "auth/auth.h"

/* The groups are set: the IDs, for good. */
static int
become_ids(uid_t uid, gid_t gid, gid_t keep_gid)
{
	gid_t saved = keep_gid == (gid_t)-1 ? gid : keep_gid;

	if (setresgid(gid, gid, saved) == -1 || setresuid(uid, uid, uid) == -1)
		return -1;
	/* Prove it is gone. */
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1 ||
	    setegid(0) != -1 || getuid() != uid || geteuid() != uid ||
	    getgid() != gid || getegid() != gid) {
		errno = EPERM;
		return -1;
	}
	/* Nothing this process runs may gain privileges again. */
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ? -1 : 0;
}

int
privsep_become(const char *user, uid_t uid, gid_t gid, gid_t keep_gid)
{
	if (uid == 0 || gid == 0) {
		errno = EPERM;	/* never a session as root */
		return -1;
	}
	if ((user != NULL ? initgroups(user, gid) : setgroups(1, &gid)) == -1)
		return -1;
	return become_ids(uid, gid, keep_gid);
}

int
privsep_become_groups(uid_t uid, gid_t gid, const gid_t *groups,
    unsigned int ngroups, gid_t keep_gid)
{
	if (uid == 0 || gid == 0) {
		errno = EPERM;
		return -1;
	}
	if (ngroups == 0 ? setgroups(1, &gid) == -1 :
	    setgroups(ngroups, groups) == -1)
		return -1;
	return become_ids(uid, gid, keep_gid);
}

int
privsep_drop_saved_gid(void)
{
	gid_t r, e, saved;

	if (getresgid(&r, &e, &saved) == -1 || (r == e && e == saved))
		return 0;
	if (setresgid(r, r, r) == -1)
		return -1;
#if defined(__SANITIZE_ADDRESS__)
	/*
	 * Only in the --enable-sanitizers build: the changes of user made
	 * the process non-dumpable, and LeakSanitizer, which attaches to it
	 * with ptrace at exit, would fail ("Could not attach to thread").
	 * A real build stays non-dumpable.
	 */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == -1)
		return -1;
#endif
	return 0;
}

int
privsep_jail(const char *dir, uid_t uid, gid_t gid)
{
	struct rlimit none = { 0, 0 }, one = { 1, 1 };

	if (chroot(dir) == -1 || chdir("/") == -1 ||
	    privsep_become(NULL, uid, gid, (gid_t)-1) == -1)
		return -1;
	/*
	 * Not dumpable: another pre-login process of the same user cannot
	 * ptrace this one and read the password it is handed.  No new
	 * privileges, no new descriptors, no new processes.  (RLIMIT_NOFILE
	 * is 1, not 0, because poll() refuses more descriptors than it; fd 0
	 * is always open, so no new one can be made either way.  There is no
	 * file size limit: the client's output may be a regular file.)
	 */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1 ||
	    setrlimit(RLIMIT_NOFILE, &one) == -1 ||
	    setrlimit(RLIMIT_NPROC, &none) == -1)
		return -1;
	return 0;
}
