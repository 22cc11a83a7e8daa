/*
 * conn-mem.h: a test double for pop3d/conn.c, swapped in at link time
 * (list tests/fakes/conn-mem.c before libpop3d.a).  The client's input
 * comes from memory and the output goes to a bounded memory buffer: no
 * descriptors, no poll(), no clock.
 * Runs as: the test or fuzz target.
 */
#ifndef POP3D_CONN_MEM_H
#define POP3D_CONN_MEM_H

#include <stdbool.h>
#include <stddef.h>

/*
 * conn_mem_input: what every struct conn reads from now on: data (not
 * copied; it must outlive the reads), handed out chunk octets per read()
 * (0: as much as fits), then CONN_TIMEOUT when timeout is set, else
 * CONN_EOF.
 */
void	conn_mem_input(const void *data, size_t len, size_t chunk,
	    bool timeout);

/*
 * conn_mem_output: where flushed output goes: buf of size octets.  Once
 * it is full, a flush fails as if the client had gone away.  buf NULL:
 * output is counted and dropped.  Resets the count.
 */
void	conn_mem_output(char *buf, size_t size);
/* conn_mem_output_len: octets flushed since conn_mem_output. */
size_t	conn_mem_output_len(void);

#endif /* POP3D_CONN_MEM_H */
