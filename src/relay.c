/*
 * relay.c — a message body moving from one side's buffer to the other
 * side with bounded buffers and back-pressure (proxy.h): length-delimited,
 * chunked (relayed verbatim, or de-chunked for a 1.0 client) and
 * until-close (relayed, or chunked for a 1.1 client).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "viaduct.h"
#include "proxy.h"

#define RELAY_SENDFILE_MAX	(1024 * 1024)	/* per call, so one body cannot hog the loop */


static void
queue(struct relay *r, const char *p, size_t n, size_t consume)
{
	r->iov[0] = (struct iovec){ (void *)(uintptr_t)p, n };
	r->niov = n > 0 ? 1 : 0;
	r->consume = consume;
}

static void
queue_encoded(struct relay *r, const char *p, size_t n)
{
	size_t hl = http_chunk_header(r->chdr, n);

	r->iov[0] = (struct iovec){ r->chdr, hl };
	r->iov[1] = (struct iovec){ (void *)(uintptr_t)p, n };
	r->iov[2] = (struct iovec){ (void *)(uintptr_t)"\r\n", 2 };
	r->niov = 3;
	r->consume = n;
}

/* Body data (decoded) to the cache's tap, if any (cache_fill.c). */
static void
tap(struct relay *r, const char *p, size_t n)
{
	if (r->tap != NULL && n > 0)
		r->tap(r->tap_arg, p, n);
}

/* The decoder refuses what the trailer section of a request must not hold
 * (http_chunk.h); its error is the client's 400 before the last CRLF can
 * reach the origin. */
void
relay_check_trailer(struct relay *r)
{
	r->ch.request = true;
}

/* Turn buffered source bytes into queued output.  VD_OK or RELAY_ESRC. */
static int
produce(struct relay *r, struct buf *b)
{
	const char *p = b->p + b->start;
	size_t avail = b->end - b->start, cons, off, dl;
	int rc;

	switch (r->fr.kind) {
	case HTTP_BODY_LENGTH:
		if (avail > r->left)
			avail = (size_t)r->left;
		queue(r, p, avail, avail);
		tap(r, p, avail);
		r->left -= avail;
		r->ending = r->left == 0;
		return VD_OK;
	case HTTP_BODY_CHUNKED:
		rc = http_chunk_decode(&r->ch, p, avail, &cons, &off, &dl);
		if (rc == VD_ERR) {
			r->why = r->ch.why;
			return RELAY_ESRC;
		}
		r->total += dl;
		if (r->limit > 0 && r->total > r->limit) {
			r->why = "request body too large";
			r->status = 413;
			return RELAY_ESRC;
		}
		tap(r, p + off, dl);
		if (r->out == RELAY_DECODE && dl == 0) {
			/* framing only: done with at once (a flush of the pending
			 * head must not take these bytes off a second time) */
			queue(r, p, 0, 0);
			b->start += cons;
		} else if (r->out == RELAY_DECODE) {
			queue(r, p + off, dl, cons);
		} else {
			queue(r, p, cons, cons);
		}
		r->ending = rc == VD_DONE;
		return VD_OK;
	case HTTP_BODY_EOF:
		tap(r, p, avail);
		if (r->out == RELAY_ENCODE)
			queue_encoded(r, p, avail);
		else
			queue(r, p, avail, avail);
		return VD_OK;
	case HTTP_BODY_NONE:
		break;
	}
	r->ending = true;
	return VD_OK;
}

static bool
head_pending(const struct relay *r)
{
	return r->head != NULL && *r->head_off < r->head->len;
}

/* Take n sent bytes off the head, then off the queue. */
static void
advance(struct relay *r, size_t n)
{
	if (head_pending(r)) {
		size_t k = r->head->len - *r->head_off;

		k = n < k ? n : k;
		*r->head_off += k;
		n -= k;
	}
	for (int i = 0; i < r->niov && n > 0; i++) {
		size_t k = n < r->iov[i].iov_len ? n : r->iov[i].iov_len;

		r->iov[i].iov_base = (char *)r->iov[i].iov_base + k;
		r->iov[i].iov_len -= k;
		n -= k;
	}
	while (r->niov > 0 && r->iov[0].iov_len == 0) {
		memmove(r->iov, r->iov + 1, sizeof(r->iov[0]) * (size_t)(r->niov - 1));
		r->niov--;
	}
}

/* Write the pending head and what is queued.  VD_OK all written, VD_AGAIN,
 * RELAY_EDST. */
static int
flush(struct relay *r, struct side *to, uint64_t *count)
{
	struct iovec iov[1 + VD_ARRLEN(r->iov)];
	struct msghdr mh;
	ssize_t n;
	int k;

	if (r->discard) {
		size_t pend = head_pending(r) ? r->head->len - *r->head_off : 0;

		for (int i = 0; i < r->niov; i++)
			pend += r->iov[i].iov_len;
		advance(r, pend);
		return VD_OK;
	}
	while (r->niov > 0 || head_pending(r)) {
		if (!to->wr)
			return VD_AGAIN;
		k = 0;
		if (head_pending(r))
			iov[k++] = (struct iovec){ r->head->p + *r->head_off,
			    r->head->len - *r->head_off };
		memcpy(iov + k, r->iov, sizeof(r->iov[0]) * (size_t)r->niov);
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)(k + r->niov);
		n = sendmsg(to->fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				to->wr = false;
				return VD_AGAIN;
			}
			r->why = strerror(errno);
			return RELAY_EDST;
		}
		*count += (uint64_t)n;
		advance(r, (size_t)n);
	}
	return VD_OK;
}

int
relay_fill(struct buf *b, struct side *from, uint64_t *count, const char **why)
{
	ssize_t n;

	for (;;) {
		if (!from->rd)
			return VD_AGAIN;
		n = recv(from->fd, b->p + b->end, b->cap - b->end, 0);
		if (n > 0) {
			side_short_read(from, (size_t)n, b->cap - b->end);
			b->end += (size_t)n;
			*count += (uint64_t)n;
			return VD_OK;
		}
		if (n == 0) {
			from->eof = true;
			return VD_OK;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			from->rd = false;
			return VD_AGAIN;
		}
		*why = strerror(errno);
		return RELAY_ESRC;
	}
}

int
relay_run(struct relay *r, struct buf *b, struct side *from, struct side *to,
    uint64_t *in_count, uint64_t *out_count)
{
	int rc;

	for (;;) {
		/* a pending head waits for body bytes already buffered */
		if (r->niov > 0 || (head_pending(r) && (b->start == b->end || r->ending ||
		    r->fr.kind == HTTP_BODY_NONE))) {
			if ((rc = flush(r, to, out_count)) != VD_OK)
				return rc;
			b->start += r->consume;
			r->consume = 0;
		}
		if (r->ending || r->fr.kind == HTTP_BODY_NONE)
			return VD_DONE;
		if (b->start < b->end) {
			if ((rc = produce(r, b)) != VD_OK)
				return rc;
			continue;
		}
		b->start = b->end = b->base;
		if (from->eof) {
			if (r->fr.kind != HTTP_BODY_EOF) {
				r->why = "closed before the end of the body";
				return RELAY_ESRC;
			}
			r->ending = true;
			if (r->out == RELAY_ENCODE)
				queue(r, HTTP_CHUNK_LAST, sizeof(HTTP_CHUNK_LAST) - 1, 0);
			continue;
		}
		if ((rc = relay_fill(b, from, in_count, &r->why)) != VD_OK)
			return rc;
	}
}

int
relay_sendfile(struct side *to, int fd, uint64_t *off, uint64_t end, uint64_t *count)
{
	while (*off < end) {
		off_t o = (off_t)*off;
		uint64_t want = end - *off;
		ssize_t n;

		if (!to->wr)
			return VD_AGAIN;
		n = sendfile(to->fd, fd, &o, want < RELAY_SENDFILE_MAX ? want : RELAY_SENDFILE_MAX);
		if (n > 0) {
			*off += (uint64_t)n;
			*count += (uint64_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			to->wr = false;
			return VD_AGAIN;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			return n == 0 ? VD_DECLINED : VD_ERR;
		}
	}
	return VD_OK;
}
