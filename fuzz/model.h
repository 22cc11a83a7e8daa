/*
 * model.h: a slow, plain model of the mbox format as store/ reads it, to
 * check store/scan.c and store/stream.c against.
 * Runs as: the fuzz target.
 */
#ifndef POP3D_FUZZ_MODEL_H
#define POP3D_FUZZ_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct model_msg {
	uint64_t	 from_off;	/* its From_ line */
	uint64_t	 data_off;	/* the line after it */
	uint64_t	 end_off;	/* end of its content */
	bool		 hidden;	/* the Pine/UW folder internal data */
	size_t		 text_off;	/* its octets as sent, in model.text */
	size_t		 text_len;	/* (CRLF line ends, no dot-stuffing) */
};

struct model {
	bool		 notmbox;
	struct model_msg *msgs;
	unsigned int	 nmsgs;
	char		*text;
	size_t		 text_len;
};

/*
 * model_scan: what a scan of these bytes must find (aborts when out of
 * memory).  model_free: release it.
 */
void	model_scan(const unsigned char *data, size_t len, bool mboxrd,
	    struct model *m);
void	model_free(struct model *m);

#endif /* POP3D_FUZZ_MODEL_H */
