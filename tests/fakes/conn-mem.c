/*
 * conn-mem.c: the client at the other end of pop3d/conn.c, for the fuzz
 * targets (see conn-mem.h): pipes, fed from memory and read into memory.
 * Runs as: the fuzz target.
 *
 * The client acts only while pop3d waits, that is in conn.c's ppoll(),
 * which the linker's --wrap sends to __wrap_ppoll (or __wrap___ppoll_chk,
 * where _FORTIFY_SOURCE makes it call the checking ppoll): it first reads
 * what pop3d wrote, then sends the next chunk of input, then lets the
 * real ppoll() tell conn.c what is ready.  Since the client has done all it
 * will do before pop3d's wait begins, the wait lasts 0 ms instead of
 * the idle timeout: a pipe that is still empty, or still full, makes
 * conn.c's own timeout path run (CONN_TIMEOUT; ETIMEDOUT and a failed
 * conn when the client stopped reading), without the real-time wait.
 *
 * Every octet given to conn_write() or made in place and queued with
 * conn_commit() (both wrapped too) is kept, up to the
 * size of the client's buffer, so that what reaches the pipe can be
 * compared with it, and every octet conn_getc() (wrapped too) returns is
 * compared with what the client sent: a conn.c that loses, adds or
 * reorders octets either way, or waits for input with replies still
 * queued, or ends the input early, is caught by conn_mem_error().
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pop3d/pop3d.h"
#include "tests/fakes/conn-mem.h"

/* The real functions, as the linker names them under --wrap. */
int	__real_ppoll(struct pollfd *fds, nfds_t nfds,
	    const struct timespec *timeout, const sigset_t *mask);
int	__real___ppoll_chk(struct pollfd *fds, nfds_t nfds,
	    const struct timespec *timeout, const sigset_t *mask,
	    size_t fdslen);
int	__real_conn_write(struct conn *c, const void *buf, size_t len);
int	__real_conn_getc(struct conn *c);
/* The wrappers; only the linker calls them by these names. */
int	__wrap_ppoll(struct pollfd *fds, nfds_t nfds,
	    const struct timespec *timeout, const sigset_t *mask);
int	__wrap___ppoll_chk(struct pollfd *fds, nfds_t nfds,
	    const struct timespec *timeout, const sigset_t *mask,
	    size_t fdslen);
int	__wrap_conn_write(struct conn *c, const void *buf, size_t len);
void	__real_conn_commit(struct conn *c, size_t n);
void	__wrap_conn_commit(struct conn *c, size_t n);
int	__wrap_conn_getc(struct conn *c);

/*
 * The output pipe holds 16 KiB, the initial send buffer of a Linux TCP
 * socket (tcp_wmem): less than conn.c's queue, so that its flushes are
 * cut short as on a real connection.
 */
#define OUT_PIPE_SIZE	(16 * 1024)

/* The input: pop3d reads in_r; the client writes in_w, -1 once closed. */
static int in_r = -1, in_w = -1;
static const unsigned char *in_data;
static size_t in_len, in_pos, in_chunk;
static size_t in_got;		/* octets conn_getc() returned */
static bool in_timeout;

/* The output: pop3d writes out_w; the client reads out_r into out_buf. */
static int out_r = -1, out_w = -1;
static char *out_buf;
static size_t out_size, out_len;
static bool out_stopped;	/* a wait for room timed out */

/* What pop3d queued (conn_write, conn_commit): the first out_size octets,
 * and a count. */
static unsigned char *sent;
static size_t sent_size, sent_len;
static const char *error;

static void
close_fd(int *fd)
{
	if (*fd != -1)
		(void)close(*fd);
	*fd = -1;
}

/*
 * A pipe whose end the client uses (fds[mine]) does not block; pop3d's
 * input blocks, as a socket on stdin does, and its output does not.
 */
static int
new_pipe(int fds[2], int mine, bool pop3d_blocks)
{
	static bool once;
	int theirs = 1 - mine;

	if (!once) {
		/* As pop3d's main() does. */
		(void)signal(SIGPIPE, SIG_IGN);
		once = true;
	}
	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	if (fcntl(fds[mine], F_SETFL, O_NONBLOCK) == -1 ||
	    (!pop3d_blocks && fcntl(fds[theirs], F_SETFL, O_NONBLOCK) == -1)) {
		(void)close(fds[0]);
		(void)close(fds[1]);
		return -1;
	}
	return 0;
}

int
conn_mem_input(const void *data, size_t len, size_t chunk, bool timeout)
{
	int fds[2];

	close_fd(&in_r);
	close_fd(&in_w);
	if (new_pipe(fds, 1, true) == -1)
		return -1;
	in_r = fds[0];
	in_w = fds[1];
	in_data = data;
	in_len = len;
	in_pos = in_got = 0;
	in_chunk = chunk;
	in_timeout = timeout;
	error = NULL;
	return in_r;
}

int
conn_mem_output(char *buf, size_t size)
{
	unsigned char *p;
	int fds[2], queued = -1;

	if (size > sent_size) {
		if ((p = realloc(sent, size)) == NULL)
			return -1;
		sent = p;
		sent_size = size;
	}
	/* An empty pipe is as good as new, and much cheaper. */
	if (out_r != -1 && (ioctl(out_r, FIONREAD, &queued) == -1 ||
	    queued != 0)) {
		close_fd(&out_r);
		close_fd(&out_w);
	}
	if (out_r == -1) {
		if (new_pipe(fds, 0, false) == -1)
			return -1;
		if (fcntl(fds[1], F_SETPIPE_SZ, OUT_PIPE_SIZE) == -1) {
			(void)close(fds[0]);
			(void)close(fds[1]);
			return -1;
		}
		out_r = fds[0];
		out_w = fds[1];
	}
	out_buf = buf;
	out_size = size;
	out_len = 0;
	out_stopped = false;
	sent_len = 0;
	error = NULL;
	return out_w;
}

/*
 * The client reads what pop3d wrote, while it has room for it; all:
 * even when conn_write() was given nothing new (which saves a read()
 * per wait).
 */
static void
drain(bool all)
{
	ssize_t n;

	if (out_r == -1 || out_len == out_size || (!all && out_len == sent_len))
		return;
	/* One read takes all a pipe holds: pop3d is not writing now. */
	if ((n = read(out_r, out_buf + out_len, out_size - out_len)) <= 0)
		return;
	if (error == NULL && out_len + (size_t)n > sent_len)
		error = "octets reached the client that neither "
		    "conn_write() nor conn_commit() queued";
	else if (error == NULL &&
	    memcmp(out_buf + out_len, sent + out_len, (size_t)n) != 0)
		error = "octets reached the client other than those "
		    "queued by conn_write() and conn_commit(), or in another "
		    "order";
	out_len += (size_t)n;
}

/* How many octets pop3d has written to the pipe. */
static size_t
written(void)
{
	int queued = 0;

	if (out_len == out_size)	/* the client may have left some */
		(void)ioctl(out_r, FIONREAD, &queued);
	return out_len + (size_t)queued;
}

/* The client sends the next chunk, once pop3d has read the last. */
static void
feed(void)
{
	ssize_t n;
	size_t len;
	int queued;

	if (in_w == -1)
		return;
	if (in_pos < in_len) {
		/* Once pop3d has had all that was sent, the pipe is empty. */
		if (in_got < in_pos && (ioctl(in_r, FIONREAD, &queued) == -1 ||
		    queued > 0))
			return;
		len = in_len - in_pos;
		if (in_chunk > 0 && len > in_chunk)
			len = in_chunk;
		if ((n = write(in_w, in_data + in_pos, len)) > 0)
			in_pos += (size_t)n;
	}
	if (in_pos == in_len && !in_timeout)
		close_fd(&in_w);	/* EOF, once the pipe is read */
}

/*
 * The client's turn, before pop3d waits on fds: returns the timeout the
 * wait takes, zero when it waits only for the client.
 */
static const struct timespec *
client_turn(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
    bool *for_room_r)
{
	static const struct timespec none = { 0, 0 };
	bool ours = nfds > 0;
	nfds_t i;

	*for_room_r = false;
	for (i = 0; i < nfds; i++) {
		if (fds[i].fd == in_r && in_r != -1) {
			drain(false);
			if (error == NULL && !out_stopped &&
			    written() != sent_len)
				error = "it waited for input before "
				    "writing all its replies";
			feed();
		} else if (fds[i].fd == out_w && out_w != -1) {
			drain(false);
			*for_room_r = true;
		} else
			ours = false;
	}
	return ours ? &none : timeout;
}

/* The wait is over: r is what ppoll() returned. */
static int
client_waited(int r, bool for_room)
{
	if (r == 0 && for_room)
		out_stopped = true;
	return r;
}

int
__wrap_ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
    const sigset_t *mask)
{
	bool for_room;

	timeout = client_turn(fds, nfds, timeout, &for_room);
	return client_waited(__real_ppoll(fds, nfds, timeout, mask),
	    for_room);
}

int
__wrap___ppoll_chk(struct pollfd *fds, nfds_t nfds,
    const struct timespec *timeout, const sigset_t *mask, size_t fdslen)
{
	bool for_room;

	timeout = client_turn(fds, nfds, timeout, &for_room);
	return client_waited(__real___ppoll_chk(fds, nfds, timeout, mask,
	    fdslen), for_room);
}

/* Octets pop3d gives conn.c, as the client should get them. */
static void
given(const struct conn *c, const void *buf, size_t len)
{
	size_t n;

	/* A failed conn drops what it is given (and says so). */
	if (c->out_fd == out_w && out_w != -1 && !c->failed) {
		if (sent_len < out_size) {
			n = out_size - sent_len;
			if (n > len)
				n = len;
			memcpy(sent + sent_len, buf, n);
		}
		sent_len += len;
	}
}

int
__wrap_conn_write(struct conn *c, const void *buf, size_t len)
{
	given(c, buf, len);
	return __real_conn_write(c, buf, len);
}

void
__wrap_conn_commit(struct conn *c, size_t n)
{
	given(c, c->out + c->out_len, n);
	__real_conn_commit(c, n);
}

int
__wrap_conn_getc(struct conn *c)
{
	int ch = __real_conn_getc(c);

	if (c->in_fd != in_r || in_r == -1 || error != NULL)
		return ch;
	if (ch >= 0) {
		if (in_got == in_pos || in_data[in_got] != ch)
			error = "conn_getc() returned octets other than those "
			    "the client sent, or in another order";
		in_got++;
	} else if (in_got < in_len && !out_stopped)
		error = "conn_getc() ended the input before its end";
	else if (ch == CONN_TIMEOUT && !in_timeout)
		error = "conn_getc() timed out on a closed input";
	return ch;
}

size_t
conn_mem_output_len(void)
{
	drain(true);
	if (error == NULL && !out_stopped && written() != sent_len)
		error = "octets queued by conn_write() or conn_commit() "
		    "never reached the client";
	return out_len;
}

const char *
conn_mem_error(void)
{
	return error;
}
