/*
 * conn-mem.h: the client at the other end of pop3d/conn.c, for the fuzz
 * targets.  The real conn.c reads from a pipe this client fills from
 * memory and writes to a pipe it empties into a bounded memory buffer.
 * Link tests/fakes/conn-mem.c with CONN_MEM_WRAPS (Makefile.am): the
 * linker's --wrap sends conn.c's ppoll() and every call of conn_write(),
 * conn_commit() and conn_getc() through it.
 * Runs as: the fuzz target.
 */
#ifndef POP3D_CONN_MEM_H
#define POP3D_CONN_MEM_H

#include <stdbool.h>
#include <stddef.h>

/*
 * conn_mem_input: a new input pipe; returns the descriptor pop3d reads,
 * or -1 with errno set.  The client sends data (not copied; it must
 * outlive the session), chunk octets at a time, each once pop3d has read
 * the one before (chunk 0: as much as the pipe holds), then closes the
 * pipe (pop3d reads EOF) or, when timeout is set, keeps it open and sends
 * nothing more (pop3d's wait times out).
 */
int	conn_mem_input(const void *data, size_t len, size_t chunk,
	    bool timeout);

/*
 * conn_mem_output: a new output pipe; returns the descriptor pop3d
 * writes (non-blocking, as bin/pop3d makes its own), or -1 with errno
 * set.  The client reads into buf, of size octets, whenever pop3d waits;
 * once buf is full it reads no more, so that pop3d's wait for room in
 * the pipe times out, as with a client that stopped reading.
 */
int	conn_mem_output(char *buf, size_t size);

/*
 * conn_mem_output_len: read what pop3d flushed; the octets in buf.  Call
 * it after pop3d's last conn_flush().
 */
size_t	conn_mem_output_len(void);

/*
 * conn_mem_error: NULL, or how conn.c let the client down since
 * conn_mem_output: octets that reached the pipe other than those queued
 * by conn_write() and conn_commit(), in another order, or (unless the
 * client stopped reading) never; a wait for input before all that was
 * queued had been written, which with a real client waiting for those
 * replies would wait for ever; octets from conn_getc() other than the
 * client's, in another order, or an EOF or timeout before the end of the
 * input (unless the client stopped reading).  Call it after
 * conn_mem_output_len().
 */
const char *conn_mem_error(void);

#endif /* POP3D_CONN_MEM_H */
