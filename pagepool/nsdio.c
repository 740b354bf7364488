/* pagepool/nsdio.c - see nsdio.h. */
#include "pagepool/nsdio.h"

#include <stdlib.h>

#include "common/err.h"
#include "common/log.h"

struct pp_nsd_op {
	struct nsd_io io;	/* first: the completion gets it back */
	struct pp_io *pio;
};

static void done(struct nsd_io *io, int rc)
{
	struct pp_nsd_op *op = (struct pp_nsd_op *)io;
	struct pp_io *pio = op->pio;

	if (rc)
		mm_error("pagepool", "%s", io->err);
	free(op);
	pio->done(pio, rc);
}

static int submit(void *arg, struct pp_io *pio)
{
	struct pp_nsd_op *op = calloc(1, sizeof(*op));
	int rc;

	if (!op)
		return MM_ENOMEM;
	op->pio = pio;
	op->io.nsd_id = pio->nsd_id;
	op->io.op = pio->write ? NSD_WRITE : NSD_READ;
	op->io.offset = pio->offset;
	op->io.len = pio->len;
	op->io.buf = pio->buf;
	op->io.done = done;
	rc = nsd_client_submit(arg, &op->io);
	if (rc) {
		mm_error("pagepool", "%s", op->io.err);
		free(op);
	}
	return rc;
}

void pp_nsd_backend(struct pp_config *cfg, nsd_client *c)
{
	cfg->io.submit = submit;
	cfg->io_arg = c;
}
