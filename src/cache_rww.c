/*
 * cache_rww.c — read-while-writer (see cache_rww.h): the head file's codec
 * and a waiter's send loop.
 *
 * Head file layout (little-endian):
 *    0  magic "VDRWW001"
 *    8  end word: 1 when the body is complete, else 0
 *   16  ... the complete body's size
 *   24  Content-Length from the origin, or CACHE_RWW_UNKNOWN
 *   32  the 16-byte key the object will be stored at
 *   48  the object's record (cache_store.h's codec), its body in a file
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "viaduct.h"
#include "cache_rww.h"
#include "proxy.h"

#define RWW_MAGIC	0x3130305757524456ULL	/* "VDRWW001" */

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

size_t
cache_rww_head_size(const struct cache_obj *o)
{
	return CACHE_RWW_FIXED + cache_rec_size(o);
}

void
cache_rww_head_encode(const struct cache_obj *o, const struct cache_key *k, uint64_t length,
    uint8_t *b)
{
	memset(b, 0, CACHE_RWW_FIXED);
	put64(b, RWW_MAGIC);
	put64(b + 24, length);
	memcpy(b + 32, k->b, sizeof(k->b));
	cache_rec_encode(o, b + CACHE_RWW_FIXED);
}

int
cache_rww_head_decode(const uint8_t *b, size_t len, struct cache_rww_head *h)
{
	memset(h, 0, sizeof(*h));
	if (len < CACHE_RWW_FIXED || get64(b) != RWW_MAGIC ||
	    cache_rec_decode(b + CACHE_RWW_FIXED, len - CACHE_RWW_FIXED, &h->obj) != VD_OK ||
	    !(h->obj.flags & CACHE_OBJ_BODY_FILE))
		return VD_ERR;
	h->length = get64(b + 24);
	memcpy(h->key.b, b + 32, sizeof(h->key.b));
	return VD_OK;
}

void
cache_rww_end_encode(uint64_t size, uint8_t b[16])
{
	put64(b, 1);
	put64(b + 8, size);
}

int
cache_rww_end_decode(const uint8_t b[16], uint64_t *size)
{
	*size = get64(b + 8);
	return get64(b) == 1 ? VD_OK : VD_DECLINED;
}

size_t
cache_rww_chunk(char *buf, uint64_t n, bool after)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = 0;
	int shift = 60;

	if (after) {
		buf[len++] = '\r';
		buf[len++] = '\n';
	}
	while (shift > 0 && ((n >> shift) & 0xf) == 0)
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		buf[len++] = hex[(n >> shift) & 0xf];
	memcpy(buf + len, n == 0 ? "\r\n\r\n" : "\r\n", n == 0 ? 4 : 2);
	return len + (n == 0 ? 4 : 2);
}

static int
pwrite_all(int fd, const uint8_t *p, size_t n, off_t off)
{
	ssize_t w;

	while (n > 0) {
		w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return VD_ERR;
		p += w, n -= (size_t)w, off += w;
	}
	return VD_OK;
}

int
cache_rww_write_head(int fd, const uint8_t *p, size_t n)
{
	return pwrite_all(fd, p, n, 0);
}

int
cache_rww_write_end(int fd, uint64_t size)
{
	uint8_t b[16];

	cache_rww_end_encode(size, b);
	return pwrite_all(fd, b, sizeof(b), CACHE_RWW_END_OFF);
}

int
cache_rww_read_end(int fd, uint64_t *size)
{
	uint8_t b[16];

	*size = 0;
	if (pread(fd, b, sizeof(b), CACHE_RWW_END_OFF) != (ssize_t)sizeof(b))
		return VD_DECLINED;
	return cache_rww_end_decode(b, size);
}

void
cache_rww_init(struct cache_rww *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = r->hfd = -1;
	r->stop = UINT64_MAX;
}

void
cache_rww_close(struct cache_rww *r)
{
	if (r->fd != -1)
		close(r->fd);
	if (r->hfd != -1)
		close(r->hfd);
	cache_rww_init(r);
}

/* What c->out still holds (the head, or a chunk's framing).  MSG_MORE when
 * body bytes follow at once, so that they leave together. */
static int
send_out(struct conn *c, const struct cache_rww *r, uint64_t *out)
{
	ssize_t n;

	while (c->out_off < c->out.len) {
		if (!c->cl.wr)
			return VD_AGAIN;
		n = send(c->cl.fd, c->out.p + c->out_off, c->out.len - c->out_off,
		    MSG_NOSIGNAL | (r->off < r->avail ? MSG_MORE : 0));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->cl.wr = false;
			return VD_AGAIN;
		}
		if (n <= 0)
			return VD_ERR;
		c->out_off += (size_t)n;
		*out += (uint64_t)n;
	}
	return VD_OK;
}

/* [off, avail) of the file.  Short of what was published: the writer's
 * file is not what it said, so the response is cut (VD_DECLINED). */
static int
send_body(struct conn *c, struct cache_rww *r, uint64_t *out)
{
	return relay_sendfile(&c->cl, r->fd, &r->off, r->avail, out);
}

/* Framing bytes into c->out (it is empty: everything before went). */
static void
queue(struct conn *c, uint64_t n, bool after)
{
	char b[CACHE_RWW_CHUNK_MAX];

	c->out.len = 0;
	c->out.overflow = false;
	http_out_add(&c->out, b, cache_rww_chunk(b, n, after));
	c->out_off = 0;
}

/* Everything known is sent: what now?  VD_OK more is queued, VD_AGAIN
 * nothing new yet, VD_DECLINED the fetch ended without a complete body. */
static int
next(struct conn *c, struct cache_rww *r, const struct collapse *co)
{
	uint64_t w;
	int st;

	if (r->off >= r->stop) {	/* a range, all sent */
		r->end = true;
		return VD_OK;
	}
	st = collapse_watch(co, &r->w, &w);
	if (st == VD_ERR)	/* the entry is gone: the head file knows how it ended */
		st = cache_rww_read_end(r->hfd, &w) == VD_OK ? VD_DONE : VD_DECLINED;
	if (st == VD_DECLINED || (r->length != CACHE_RWW_UNKNOWN && w > r->length))
		return VD_DECLINED;
	if (w > r->off) {
		if (r->chunked)
			queue(c, w - r->off, r->off > 0);
		r->avail = w < r->stop ? w : r->stop;
		return VD_OK;
	}
	if (st == VD_AGAIN)		/* (a range may start beyond what is written) */
		return VD_AGAIN;
	if (w < r->off || (r->length != CACHE_RWW_UNKNOWN && w != r->length))
		return VD_DECLINED;
	if (r->chunked)
		queue(c, 0, r->off > 0);
	r->end = true;
	return VD_OK;
}

int
cache_rww_send(struct conn *c, struct cache_rww *r, const struct collapse *co, uint64_t *out)
{
	int rc;

	for (;;) {
		if ((rc = send_out(c, r, out)) != VD_OK || (rc = send_body(c, r, out)) != VD_OK)
			return rc;
		if (r->end)
			return VD_DONE;
		if ((rc = next(c, r, co)) != VD_OK)
			return rc;
	}
}
