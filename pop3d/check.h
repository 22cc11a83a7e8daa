/*
 * check.h: what the two halves of pop3d --check share: check.c (the
 * configuration, PAM, the account, the secrets file, the password) and
 * check-mbox.c (the mailbox, as the account that serves it).
 * Runs as: (header)
 */
#ifndef POP3D_CHECK_H
#define POP3D_CHECK_H

#include "pop3d/pop3d.h"

enum check_level { CHECK_OK, CHECK_WARNING, CHECK_PROBLEM };

/* The count of what was said. */
struct check {
	unsigned int	 problems;
	unsigned int	 warnings;
};

/*
 * check_say: one line "LEVEL: STEP: TEXT" on stdout (flushed: a child
 * prints the mailbox half), counted in c.
 */
void		 check_say(struct check *c, enum check_level level,
		    const char *step, const char *fmt, ...) PRINTFLIKE(4, 5);

/*
 * check_mailbox: the steps of the mailbox at path, as the process that
 * would serve l's session (login_become done): the directories, the
 * mailbox, the state file, the locks, the journal, a full scan.
 */
void		 check_mailbox(struct check *c, struct session *s,
		    const struct login *l, const char *path);

#endif /* POP3D_CHECK_H */
