/*
 * cache_record.c — the record codec (see the design note in cache_store.c):
 * a fixed little-endian part, then url, head, vary, etag, last-modified and
 * the inline body.  No I/O, no allocation; decoded strings point into the
 * record (the map, for a lookup).  The fuzz target is
 * t/fuzz/fuzz_cache_record.c.
 */
#include "config.h"

#include <string.h>

#include "cache_store_priv.h"

#define REC_MAGIC	0x31434456u	/* "VDC1" little-endian */

/* Offsets of the fixed part. */
enum {
	R_MAGIC = 0, R_VERSION = 4, R_FLAGS = 6, R_STATUS = 8, R_CCFLAGS = 12,
	R_REQ_TIME = 16, R_RESP_TIME = 24, R_DATE = 32, R_EXPIRES = 40, R_LASTMOD = 48,
	R_AGE = 56, R_MAX_AGE = 64, R_S_MAXAGE = 72, R_SWR = 80, R_SIE = 88,
	R_LAST_ACCESS = 96, R_BODY_SIZE = 104, R_BODY_FILE = 112, R_LENS = 120,
};
#define NSTR	6

static const struct vd_str *
obj_strs(const struct cache_obj *o, const struct vd_str *s[NSTR])
{
	s[0] = &o->url, s[1] = &o->head, s[2] = &o->vary;
	s[3] = &o->etag, s[4] = &o->last_modified;
	s[5] = (o->flags & CACHE_OBJ_BODY_FILE) ? NULL : &o->body;
	return s[0];
}

size_t
cache_rec_size(const struct cache_obj *o)
{
	const struct vd_str *s[NSTR];
	size_t n = CACHE_REC_FIXED;
	int i;

	obj_strs(o, s);
	for (i = 0; i < NSTR; i++)
		if (s[i] != NULL)
			n += s[i]->len;
	return n;
}

void
cache_rec_encode(const struct cache_obj *o, uint8_t *b)
{
	static const int toff[] = { R_REQ_TIME, R_RESP_TIME, R_DATE, R_EXPIRES, R_LASTMOD,
	    R_AGE, R_MAX_AGE, R_S_MAXAGE, R_SWR, R_SIE, R_LAST_ACCESS };
	const struct cache_resp *r = &o->resp;
	const int64_t tv[] = { r->request_time, r->response_time, r->date, r->expires,
	    r->last_modified, r->age_value, r->cc.max_age, r->cc.s_maxage,
	    r->cc.stale_while_revalidate, r->cc.stale_if_error, o->last_access };
	const struct vd_str *s[NSTR];
	unsigned flags = o->flags & ~CACHE_OBJ_VARY_STAR;
	size_t off = CACHE_REC_FIXED;
	int i;

	if (r->vary_star)
		flags |= CACHE_OBJ_VARY_STAR;
	memset(b, 0, CACHE_REC_FIXED);
	put32(b + R_MAGIC, REC_MAGIC);
	put16(b + R_VERSION, CACHE_REC_VERSION);
	put16(b + R_FLAGS, (uint16_t)flags);
	put16(b + R_STATUS, (uint16_t)r->status);
	put32(b + R_CCFLAGS, r->cc.flags);
	for (i = 0; i < (int)VD_ARRLEN(toff); i++)
		put64(b + toff[i], (uint64_t)tv[i]);
	put64(b + R_BODY_SIZE, o->body_size);
	put64(b + R_BODY_FILE, (flags & CACHE_OBJ_BODY_FILE) ? o->body_file : 0);
	obj_strs(o, s);
	for (i = 0; i < NSTR; i++) {
		size_t len = s[i] != NULL ? s[i]->len : 0;
		put32(b + R_LENS + 4 * i, (uint32_t)len);
		if (len > 0)
			memcpy(b + off, s[i]->p, len);
		off += len;
	}
}

int
cache_rec_decode(const uint8_t *b, size_t len, struct cache_obj *o)
{
	struct vd_str *s[NSTR] = { &o->url, &o->head, &o->vary, &o->etag,
	    &o->last_modified, &o->body };
	struct cache_resp *r = &o->resp;
	uint64_t total = CACHE_REC_FIXED;
	size_t off = CACHE_REC_FIXED;
	int i;

	if (len < CACHE_REC_FIXED || get32(b + R_MAGIC) != REC_MAGIC ||
	    get16(b + R_VERSION) != CACHE_REC_VERSION)
		return VD_ERR;
	for (i = 0; i < NSTR; i++)
		total += get32(b + R_LENS + 4 * i);
	if (total != len)
		return VD_ERR;
	o->flags = get16(b + R_FLAGS);
	r->status = get16(b + R_STATUS);
	if ((o->flags & ~CACHE_OBJ_FLAGS) || r->status < 100 || r->status > 999)
		return VD_ERR;
	r->cc.flags = get32(b + R_CCFLAGS);
	r->request_time = (int64_t)get64(b + R_REQ_TIME);
	r->response_time = (int64_t)get64(b + R_RESP_TIME);
	r->date = (int64_t)get64(b + R_DATE);
	r->expires = (int64_t)get64(b + R_EXPIRES);
	r->last_modified = (int64_t)get64(b + R_LASTMOD);
	r->age_value = (int64_t)get64(b + R_AGE);
	r->cc.max_age = (int64_t)get64(b + R_MAX_AGE);
	r->cc.s_maxage = (int64_t)get64(b + R_S_MAXAGE);
	r->cc.stale_while_revalidate = (int64_t)get64(b + R_SWR);
	r->cc.stale_if_error = (int64_t)get64(b + R_SIE);
	r->cc.max_stale = r->cc.min_fresh = -1;	/* request-only directives */
	r->vary_star = (o->flags & CACHE_OBJ_VARY_STAR) != 0;
	o->last_access = (int64_t)get64(b + R_LAST_ACCESS);
	o->body_size = get64(b + R_BODY_SIZE);
	o->body_file = get64(b + R_BODY_FILE);
	for (i = 0; i < NSTR; i++) {
		s[i]->len = get32(b + R_LENS + 4 * i);
		s[i]->p = (const char *)b + off;
		off += s[i]->len;
	}
	if (o->url.len == 0)
		return VD_ERR;
	if (o->flags & CACHE_OBJ_BODY_FILE) {
		if (o->body.len != 0)
			return VD_ERR;
	} else if (o->body.len != o->body_size || o->body_file != 0)
		return VD_ERR;
	return VD_OK;
}

uint64_t
cache_store_obj_bytes(const struct cache_obj *o)
{
	uint64_t n = sizeof(((struct cache_key *)0)->b) + cache_rec_size(o);

	if (o->flags & CACHE_OBJ_BODY_FILE)
		n += o->body_size;
	return n;
}
