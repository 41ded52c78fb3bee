/*
 * tunnel.c — CONNECT and Upgrade tunnels: splice() both ways (tunnel.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "viaduct.h"
#include "stats.h"
#include "proxy.h"
#include "tunnel.h"

#define SPLICE_FLAGS	(SPLICE_F_NONBLOCK | SPLICE_F_MOVE)

int
tunnel_start(struct conn *c)
{
	struct tunnel *tu = &c->tun;

	for (int i = 0; i < 2; i++) {
		struct tunnel_dir *d = &tu->d[i];
		int sz;

		*d = (struct tunnel_dir){ .pipe = { -1, -1 } };
		if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
			tunnel_close(c);
			return VD_ERR;
		}
		sz = fcntl(d->pipe[1], F_GETPIPE_SZ);
		d->cap = sz > 0 ? (size_t)sz : 65536;
	}
	tu->active = true;
	return VD_OK;
}

void
tunnel_close(struct conn *c)
{
	struct tunnel *tu = &c->tun;

	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 2; k++)
			if (tu->d[i].pipe[k] >= 0) {
				close(tu->d[i].pipe[k]);
				tu->d[i].pipe[k] = -1;
			}
	tu->active = false;
}

/* Bytes buffered before the tunnel: sent first.  VD_OK (none left), VD_AGAIN, VD_ERR. */
static int
send_pre(struct buf *b, struct side *to, uint64_t *count)
{
	ssize_t n;

	while (b->start < b->end) {
		if (!to->wr)
			return VD_AGAIN;
		n = send(to->fd, b->p + b->start, b->end - b->start, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				to->wr = false;
				return VD_AGAIN;
			}
			return VD_ERR;
		}
		b->start += (size_t)n;
		*count += (uint64_t)n;
	}
	return VD_OK;
}

/* The destination failed (EPIPE, a reset): it closed.  What was bound for
 * it can never arrive; from now on its source is only drained. */
static int
die(struct tunnel_dir *d, struct buf *pre)
{
	for (int k = 0; k < 2; k++)
		if (d->pipe[k] >= 0) {
			close(d->pipe[k]);
			d->pipe[k] = -1;
		}
	d->inpipe = 0;
	pre->start = pre->end;
	d->dead = d->shut = true;
	return VD_OK;
}

/* A dead direction: read what the source sends and drop it, until EOF. */
static int
drain(struct tunnel_dir *d, struct side *from)
{
	char junk[16384];
	ssize_t n;

	if (d->eof || !from->rd)
		return VD_AGAIN;
	n = recv(from->fd, junk, sizeof(junk), MSG_DONTWAIT);
	if (n > 0 || (n < 0 && errno == EINTR))
		return VD_OK;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		from->rd = false;
		return VD_AGAIN;
	}
	d->eof = from->eof = true;	/* EOF or an error: it is over */
	return VD_OK;
}

/* One step of one direction: VD_OK (moved something), VD_AGAIN.  *count
 * adds what was sent on, *got what was read from `from` now (the bytes in
 * pre were counted when they were read). */
static int
step(struct tunnel_dir *d, struct buf *pre, struct side *from, struct side *to,
    uint64_t *count, uint64_t *got)
{
	ssize_t n;
	int rc;

	if (d->dead)
		return drain(d, from);
	if ((rc = send_pre(pre, to, count)) == VD_ERR)
		return die(d, pre);
	if (rc != VD_OK)
		return rc;
	if (d->inpipe > 0 && to->wr) {
		n = splice(d->pipe[0], NULL, to->fd, NULL, d->inpipe, SPLICE_FLAGS);
		if (n > 0) {
			d->inpipe -= (size_t)n;
			*count += (uint64_t)n;
			return VD_OK;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return die(d, pre);
		to->wr = false;		/* EAGAIN: the socket is full */
	}
	if (!d->eof && from->rd && d->inpipe < d->cap) {
		n = splice(from->fd, NULL, d->pipe[1], NULL, d->cap - d->inpipe, SPLICE_FLAGS);
		if (n > 0) {
			d->inpipe += (size_t)n;
			*got += (uint64_t)n;
			return VD_OK;
		}
		if (n < 0 && errno == EINTR)
			return VD_OK;
		if (n < 0 && errno == EAGAIN) {
			/* EAGAIN from an empty pipe means the socket is empty;
			 * from a partly full one it may be the pipe, which
			 * drains above */
			if (d->inpipe == 0)
				from->rd = false;
		} else {
			/* EOF, or a reset: what it sent is in the pipe, and
			 * goes on before the half-close */
			d->eof = from->eof = true;
			return VD_OK;
		}
	}
	if (d->eof && d->inpipe == 0 && !d->shut) {
		shutdown(to->fd, SHUT_WR);	/* half-close passed on */
		d->shut = true;
		return VD_OK;
	}
	return VD_AGAIN;
}

int
tunnel_run(struct conn *c, bool *moved)
{
	struct tunnel *tu = &c->tun;
	uint64_t up = 0, down = 0, up_got = 0, down_got = 0;
	bool progress;
	int r0, r1;

	*moved = false;
	do {
		r0 = step(&tu->d[0], &c->in, &c->cl, &c->up.s, &up, &up_got);
		r1 = step(&tu->d[1], &c->up.in, &c->up.s, &c->cl, &down, &down_got);
		progress = r0 == VD_OK || r1 == VD_OK;
		*moved = *moved || progress;
	} while (progress);
	STATS_INC(sent_to_clients, down);
	STATS_INC(received_from_servers, down_got);	/* what came from the origin side */
	c->sent += down;
	/* done when both are shut; a dead one drains until then */
	if (tu->d[0].shut && tu->d[1].shut)
		return VD_DONE;
	return VD_AGAIN;
}
