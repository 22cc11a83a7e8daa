/*
 * pam.c: USER/PASS through PAM, with account management.
 * Runs as: root (when started as root) or the invoking user.
 *
 * The conversation answers the password prompt with the password and a
 * visible prompt with the user name; messages are dropped.  Account
 * management runs after authentication, so that an administrator can shut
 * a user out of POP with the usual modules (pam_access, pam_listfile,
 * pam_time, an expired account).  PAM's own failure delay is turned off:
 * pop3d applies one delay of its own to every failure, whatever the method.
 * pop3d --check runs account management alone (auth_pam_account), the
 * same stack of the same service, to tell why an account is refused.
 */
#include "config.h"

#include <security/pam_appl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

enum auth_result auth_pam(const struct auth_config *, const char *,
    const char *, struct auth_outcome *);

struct pam_appdata {
	const char	*user;
	const char	*pass;
};

static void
responses_free(struct pam_response *resp, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (resp[i].resp != NULL) {
			sodium_memzero(resp[i].resp, strlen(resp[i].resp));
			free(resp[i].resp);
		}
	free(resp);
}

static int
conversation(int n, const struct pam_message **msg,
    struct pam_response **resp_r, void *appdata)
{
	const struct pam_appdata *ad = appdata;
	struct pam_response *resp;
	int i, prompts = 0;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	for (i = 0; i < n; i++)
		prompts += msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
		    msg[i]->msg_style == PAM_PROMPT_ECHO_ON;
	/*
	 * Only messages (pam_motd, pam_lastlog, ...): nothing to answer,
	 * and no array that a module might not free.
	 */
	if (prompts == 0) {
		for (i = 0; i < n; i++)
			if (msg[i]->msg_style != PAM_ERROR_MSG &&
			    msg[i]->msg_style != PAM_TEXT_INFO)
				return PAM_CONV_ERR;
		*resp_r = NULL;
		return PAM_SUCCESS;
	}
	if ((resp = calloc((size_t)n, sizeof(*resp))) == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			resp[i].resp = strdup(ad->pass);
			break;
		case PAM_PROMPT_ECHO_ON:
			resp[i].resp = strdup(ad->user);
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			continue;
		default:
			responses_free(resp, n);
			return PAM_CONV_ERR;
		}
		if (resp[i].resp == NULL) {
			responses_free(resp, n);
			return PAM_BUF_ERR;
		}
	}
	*resp_r = resp;
	return PAM_SUCCESS;
}

static void
no_delay(int status, unsigned int usec, void *appdata)
{
	(void)status;
	(void)usec;
	(void)appdata;
}

/*
 * pam_start (or pam_start_confdir) for user with the conversation, the
 * client address and no delay of PAM's own; 0 with *pamh_r, or -1 with
 * the reason in out->why.
 */
static int
pam_open(const struct auth_config *cf, const char *user,
    const struct pam_conv *conv, pam_handle_t **pamh_r,
    struct auth_outcome *out)
{
	pam_handle_t *pamh = NULL;
	int r;

	if (cf->pam_confdir != NULL) {
#ifdef HAVE_PAM_START_CONFDIR
		r = pam_start_confdir(cf->pam_service, user, conv,
		    cf->pam_confdir, &pamh);
#else
		(void)snprintf(out->why, sizeof(out->why),
		    "pam-confdir needs Linux-PAM 1.4 or later");
		return -1;
#endif
	} else
		r = pam_start(cf->pam_service, user, conv, &pamh);
	if (r != PAM_SUCCESS) {
		(void)snprintf(out->why, sizeof(out->why), "pam_start: %s",
		    pam_strerror(pamh, r));
		return -1;
	}
	if (cf->rhost != NULL)
		(void)pam_set_item(pamh, PAM_RHOST, cf->rhost);
	(void)pam_set_item(pamh, PAM_FAIL_DELAY, (const void *)no_delay);
	*pamh_r = pamh;
	return 0;
}

/* What a PAM status means for a login. */
static enum auth_result
pam_result(int r)
{
	switch (r) {
	case PAM_SUCCESS:
		return AUTH_OK;
	case PAM_AUTHINFO_UNAVAIL:
	case PAM_SYSTEM_ERR:
	case PAM_BUF_ERR:
	case PAM_SERVICE_ERR:
	case PAM_CONV_ERR:
	case PAM_ABORT:
	case PAM_MODULE_UNKNOWN:
	case PAM_SYMBOL_ERR:
		return AUTH_TEMP;
	default:
		return AUTH_FAIL;
	}
}

enum auth_result
auth_pam(const struct auth_config *cf, const char *user, const char *pass,
    struct auth_outcome *out)
{
	struct pam_appdata ad = { user, pass };
	struct pam_conv conv = { conversation, &ad };
	struct auth_account acct;
	pam_handle_t *pamh = NULL;
	const void *item = NULL;
	const char *stage;
	int r;

	if (pam_open(cf, user, &conv, &pamh, out) == -1) {
		(void)snprintf(out->told, sizeof(out->told), "%s", out->why);
		return AUTH_TEMP;
	}
	stage = "pam_authenticate";
	r = pam_authenticate(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (r == PAM_SUCCESS) {
		stage = "pam_acct_mgmt";
		r = pam_acct_mgmt(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	}
	if (r == PAM_SUCCESS) {
		stage = "PAM_USER";
		if (pam_get_item(pamh, PAM_USER, &item) != PAM_SUCCESS ||
		    item == NULL || !auth_name_valid(item))
			r = PAM_SYSTEM_ERR;
		else
			(void)snprintf(out->user, sizeof(out->user), "%s",
			    (const char *)item);
	}
	(void)snprintf(out->why, sizeof(out->why), "%s: %s", stage,
	    pam_strerror(pamh, r));
	(void)pam_end(pamh, r);
	/* Known: a system account, or PAM took the password (a module with
	 * a user list of its own says the rest only in its reason). */
	if (strcmp(stage, "pam_authenticate") != 0)
		out->known = out->verified = true;
	else if (auth_account(user, &acct) == 0)
		out->known = true;
	/*
	 * Account management runs only after the password was right, and a
	 * check that could not be made says nothing of the name: either may
	 * be told.  pam_authenticate's refusals tell an unknown name from a
	 * wrong password ("User not known to the underlying authentication
	 * module"): those may not.
	 */
	if (r != PAM_SUCCESS && (strcmp(stage, "pam_authenticate") != 0 ||
	    pam_result(r) == AUTH_TEMP))
		(void)snprintf(out->told, sizeof(out->told), "%s", out->why);
	return pam_result(r);
}

/* Account management's refusals, as pop3d --check names them. */
static enum auth_acct
acct_verdict(int r)
{
	switch (r) {
	case PAM_SUCCESS:
		return AUTH_ACCT_OK;
	case PAM_ACCT_EXPIRED:
		return AUTH_ACCT_EXPIRED;
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_AUTHTOK_EXPIRED:
		return AUTH_ACCT_PASSWORD_EXPIRED;
	case PAM_PERM_DENIED:
	case PAM_AUTH_ERR:
		return AUTH_ACCT_DENIED;
	case PAM_USER_UNKNOWN:
		return AUTH_ACCT_UNKNOWN;
	default:
		return AUTH_ACCT_ERROR;
	}
}

enum auth_result
auth_pam_account(const struct auth_config *cf, const char *user,
    enum auth_acct *verdict_r, struct auth_outcome *out)
{
	struct pam_appdata ad = { user, "" };
	struct pam_conv conv = { conversation, &ad };
	pam_handle_t *pamh = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	*verdict_r = AUTH_ACCT_ERROR;
	if (pam_open(cf, user, &conv, &pamh, out) == -1)
		return AUTH_TEMP;
	r = pam_acct_mgmt(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	(void)snprintf(out->why, sizeof(out->why), "pam_acct_mgmt: %s",
	    pam_strerror(pamh, r));
	(void)pam_end(pamh, r);
	*verdict_r = acct_verdict(r);
	return pam_result(r);
}
