/*
 * cache_reval.c — a stale object kept while the request goes upstream
 * (see cache_reval.h): the conditional request, the 304 merge, and
 * stale-if-error when the origin fails.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "viaduct.h"
#include "cache_conn.h"
#include "cache_fill.h"
#include "cache_hit.h"
#include "cache_reval.h"
#include "conf.h"
#include "log.h"

/*
 * Keep what answering from the stale object later needs — a 304's merge
 * (RFC 9111 §4.3.4) or an origin that fails (RFC 5861 §4) — since the read
 * txn ends before the origin answers: its header block, its times, a copy
 * of an inline body or the open body file.  VD_OK, or VD_DECLINED.
 */
static int
keep_stale(struct conn *c, struct cache_conn *cc, const struct cache_obj *o)
{
	struct cache_proxy *cp = cp_of(c);
	bool file = (o->flags & CACHE_OBJ_BODY_FILE) != 0;

	if (o->head.len > cp->head_cap || o->vary.len > sizeof(cc->vary) ||
	    (!file && o->body_size > cp->cs.inline_max))
		return VD_DECLINED;
	if (file && (cc->fd = cache_store_body_open(cp_store(c), o)) == -1)
		return VD_DECLINED;
	if (!file && o->body_size > 0)
		memcpy(cc->buf, o->body.p, o->body_size);
	memcpy(cc->old, o->head.p, o->head.len);
	cc->oldlen = o->head.len;
	memcpy(cc->vary, o->vary.p, o->vary.len);
	cc->vlen = o->vary.len;
	cc->old_resp = o->resp;
	cc->old_size = o->body_size;
	cc->old_file = file;
	cc->stale = true;
	return VD_OK;
}

/* RFC 9111 §4.3.1: the stored validators into the request head in c->out,
 * unless the client sent its own (the origin's 304 is then the client's).
 * VD_OK, or VD_DECLINED (a plain refetch). */
static int
add_validators(struct conn *c, struct cache_conn *cc, const struct cache_obj *o)
{
	struct http_req *r = &c->req;
	char f[1024];
	ssize_t n;

	if ((o->etag.len == 0 && o->last_modified.len == 0) ||
	    http_field_find(r->fields, r->nfields, "if-none-match", 0) >= 0 ||
	    http_field_find(r->fields, r->nfields, "if-modified-since", 0) >= 0 ||
	    (n = cache_conditional_fields(&o->etag, &o->last_modified, f, sizeof(f))) < 0 ||
	    c->out.len < 2 || c->out.len + (size_t)n > c->out.cap)
		return VD_DECLINED;
	c->out.len -= 2;			/* before the blank line */
	http_out_add(&c->out, f, (size_t)n);
	http_out_str(&c->out, "\r\n");
	cc->revalidating = true;
	return VD_OK;
}

int
cache_reval_prepare(struct conn *c, struct cache_conn *cc, const struct cache_obj *o)
{
	if (keep_stale(c, cc, o) != VD_OK)
		return VD_DECLINED;
	return add_validators(c, cc, o);
}

/* Next "Name: value\r\n" line of a header block; false at the end. */
static bool
next_line(const char *b, size_t len, size_t *pos, struct vd_str *name, struct vd_str *v)
{
	const char *p = b + *pos, *end = b + len, *colon, *eol;

	if (p >= end || (eol = memchr(p, '\r', (size_t)(end - p))) == NULL ||
	    (colon = memchr(p, ':', (size_t)(eol - p))) == NULL)
		return false;
	*name = (struct vd_str){ p, (size_t)(colon - p) };
	for (colon++; colon < eol && (*colon == ' ' || *colon == '\t'); colon++)
		;
	*v = (struct vd_str){ colon, (size_t)(eol - colon) };
	*pos = (size_t)(eol - b) + 2;
	return true;
}

/* Store the refreshed object (same body, merged head).  A status. */
static int
refresh_store(struct conn *c, struct cache_conn *cc)
{
	struct cache_store *cs = cp_store(c);
	struct cache_obj *o = &cc->obj;
	loff_t in = 0;
	ssize_t n;
	int rc;

	if (!cc->old_file) {
		o->body = (struct vd_str){ cc->buf, cc->old_size };
		return cache_store_put(cs, &cc->hkey, o);
	}
	if ((rc = cache_body_begin(cs, &cc->body)) != VD_OK)
		return rc;
	/* the body is unchanged: an in-kernel copy into a new file */
	while ((uint64_t)in < cc->old_size) {
		n = copy_file_range(cc->fd, &in, cc->body.fd, NULL,
		    (size_t)(cc->old_size - (uint64_t)in), 0);
		if (n <= 0) {
			cache_body_abort(cs, &cc->body);
			return VD_ERR;
		}
		cc->body.size += (uint64_t)n;
	}
	return cache_body_commit(cs, &cc->body, &cc->hkey, o);
}

/* RFC 9111 §4.3.4: the stored header block updated with the 304's fields,
 * into cc->head (the stored one as it was when they cannot be merged).
 * Its length. */
static size_t
merge_head(struct conn *c, struct cache_conn *cc)
{
	struct http_resp *rs = &c->resp;
	size_t cap = cp_of(c)->head_cap, ul = 0;
	bool dated = false;
	ssize_t n;

	for (int i = 0; i < rs->nfields; i++) {
		const struct http_field *f = &rs->fields[i];

		/* §4.3.4: the stored ETag is what selected this 304; a strong
		 * tag that differs names another representation, never ours */
		if (!cache_field_storable(f->name.p, f->name.len) ||
		    http_str_ieq(f->name, "etag") ||
		    http_is_hop(rs->fields, rs->nfields, f->name))
			continue;
		dated = dated || http_str_ieq(f->name, "date");
		(void)cp_put_line(cc->upd, &ul, cap, f->name, f->value);
	}
	if (!dated) {		/* RFC 9110 §6.6.1, as stored_head() does */
		char d[CACHE_HTTP_DATE_LEN + 1];
		size_t dl = cache_http_date_fmt(cp_now(c), d);

		(void)cp_put_line(cc->upd, &ul, cap, VD_STR("Date"), (struct vd_str){ d, dl });
	}
	n = cache_merge_304(cc->old, cc->oldlen, cc->upd, ul, cc->head, cap);
	if (n < 0) {
		memcpy(cc->head, cc->old, cc->oldlen);
		n = (ssize_t)cc->oldlen;
	}
	return (size_t)n;
}

/* The refreshed object's metadata from its merged head (hlen bytes of
 * cc->head) and the 304's own Age (§5.1). */
static void
refresh_meta(struct conn *c, struct cache_conn *cc, size_t hlen, int64_t now)
{
	struct http_resp *rs = &c->resp;
	struct cache_obj *o = &cc->obj;
	struct vd_str name, v, *val;
	struct cache_cc sc;
	bool has_sc = false;
	size_t pos = 0;

	cache_fill_obj_init(o, cc->old_resp.status, cc->req_time, now);
	cache_fill_note_age(o, rs->fields, rs->nfields);
	cache_cc_init(&sc);
	while (next_line(cc->head, hlen, &pos, &name, &v)) {
		if (http_str_ieq(name, "age"))
			continue;
		cache_fill_note_field(NULL, o, name, v, now, &val);
		cache_fill_note_surrogate(c, &sc, &has_sc, name, v);
		if (val != NULL)
			*val = v;
	}
	if (has_sc)
		cache_surrogate_apply(&o->resp, &sc);
	o->head = (struct vd_str){ cc->head, hlen };
	o->url = (struct vd_str){ cc->url, cc->ulen };
	o->vary = (struct vd_str){ cc->vary, cc->vlen };
	o->body_size = cc->old_size;
	if (rs->version == 10)			/* the refreshed one came so */
		o->flags |= CACHE_OBJ_HTTP10;
}

static bool
str_eq(struct vd_str a, struct vd_str b)
{
	return a.len == b.len && a.len > 0 && memcmp(a.p, b.p, a.len) == 0;
}

/*
 * RFC 9111 §4.3.4: which stored response a 304 updates.  With strong
 * validators (entity-tags not marked W/), only one that has one of them;
 * else with weak ones (W/ tags, Last-Modified), only one they correspond
 * to (weak comparison); with none, the one stored response (ours: the
 * request carried our validators).  A 304 that identifies ours in none of
 * these ways updates nothing.
 */
static bool
identifies_stored(const struct conn *c, const struct cache_conn *cc, bool ours)
{
	const struct http_resp *rs = &c->resp;
	struct vd_str etag = { NULL, 0 }, lm = { NULL, 0 }, name, v;
	bool strong = false, weak = false, weak_match = false;
	size_t pos = 0;

	while (next_line(cc->old, cc->oldlen, &pos, &name, &v)) {
		if (http_str_ieq(name, "etag"))
			etag = v;
		else if (http_str_ieq(name, "last-modified"))
			lm = v;
	}
	for (int i = 0; i < rs->nfields; i++) {
		struct vd_str f = rs->fields[i].name, e = rs->fields[i].value;

		if (http_str_ieq(f, "etag") && e.len >= 2 && e.p[0] == '"') {
			strong = true;
			if (str_eq(e, etag))	/* the stored one strong too */
				return true;
		} else if (http_str_ieq(f, "etag")) {
			weak = true;
			weak_match = weak_match ||
			    cache_etag_weak_eq(e.p, e.len, etag.p, etag.len);
		} else if (http_str_ieq(f, "last-modified")) {
			weak = true;
			weak_match = weak_match || str_eq(e, lm);
		}
	}
	if (strong || weak)
		return !strong && weak_match;
	/* none: the one stored response, when the validators asked with were
	 * ours, or when it has none either (the client's own If-Modified-Since
	 * may have named a representation we do not keep) */
	return ours || (etag.p == NULL && lm.p == NULL);
}

/* §4.1: the merged response's Vary (hlen bytes of cc->head), canonical,
 * is the stored one's: a 304 that says Vary: * or other names answers for
 * no variant we keep. */
static bool
same_vary(const struct cache_conn *cc, size_t hlen)
{
	char raw[CP_VARY_MAX], names[CP_VARY_MAX];
	size_t rl = 0, nl = 0, pos = 0;
	struct vd_str name, v;

	while (next_line(cc->head, hlen, &pos, &name, &v)) {
		if (!http_str_ieq(name, "vary"))
			continue;
		if (rl + 2 + v.len > sizeof(raw))
			return false;
		if (rl > 0) {
			memcpy(raw + rl, ", ", 2);
			rl += 2;
		}
		memcpy(raw + rl, v.p, v.len);
		rl += v.len;
	}
	if (rl == 0)
		return cc->vlen == 0;
	if (cache_key_vary_names(raw, rl, names, sizeof(names), &nl) != VD_OK)
		return false;
	return nl == cc->vlen && memcmp(names, cc->vary, nl) == 0;
}

/*
 * §4.3.4 then §3: the refreshed response is stored again only if it may be
 * stored at all.  The 304's fields may now say private or no-store (or
 * drop the public that let a response to Authorization be kept), and the
 * request that revalidated may have said no-store: then the stored object
 * goes, and only this client gets the response.
 */
static bool
still_storable(const struct conn *c, const struct cache_conn *cc, size_t hlen)
{
	enum cache_storable st = cache_storable("GET", 3, &cc->rq, cc->auth, &cc->obj.resp);

	if (st == CACHE_STORABLE && same_vary(cc, hlen))
		return true;
	log_debug("%s: refreshed %.*s is not stored again: %s", c->peer,
	    (int)(cc->ulen > 200 ? 200 : cc->ulen), cc->url,
	    st != CACHE_STORABLE ? cache_storable_str(st) : "Vary changed");
	return false;
}

/*
 * RFC 9111 §4.3.3/§4.3.4: the origin says the stored object is still good.
 * Its fields update the stored ones, the times are the 304's, the object is
 * stored again and the client gets the full stored response.
 */
/* §4.3.4: the stored object updated from the 304 in c->resp and stored
 * again, or removed when it may no longer be stored. */
static void
update_stored(struct conn *c, struct cache_conn *cc, int64_t now)
{
	size_t hlen = merge_head(c, cc);
	int rc;

	refresh_meta(c, cc, hlen, now);
	if (!still_storable(c, cc, hlen)) {
		(void)cache_store_delete(cp_store(c), &cc->hkey);
	} else if ((rc = refresh_store(c, cc)) == VD_OK) {
		STATS_INC(inserts_successes, 1);	/* stored again, refreshed */
	} else if (rc == CACHE_STORE_FULL) {
		STATS_INC(inserts_no_memory, 1);
	} else {
		STATS_INC(inserts_errors, 1);
	}
}

static void
refreshed(struct conn *c, struct cache_conn *cc)
{
	int64_t now = cp_now(c);

	if (!identifies_stored(c, cc, true)) {
		/* nothing is updated, and the stale object is not validated:
		 * the client's request goes again, without our validators */
		log_info("%s: the origin's 304 names another representation than the "
		    "stored %.*s: fetched again", c->peer, (int)(cc->ulen > 200 ? 200 : cc->ulen),
		    cc->url);
		cc->stale = false;
		if (cc->fd >= 0)
			close(cc->fd);
		cc->fd = -1;
		upstream_release(c);		/* the 304 had no body */
		proxy_refetch(c);
		return;
	}
	update_stored(c, cc, now);
	/* the client asked without conditionals: it gets the full response,
	 * or the range it asked for */
	if (cache_hit_copy(c, cc, &cc->obj, now) != VD_OK) {
		proxy_error(c, 502, "stored response header too large");
		return;
	}
	cc->result = AL_TCP_REFRESH_UNMODIFIED;
	upstream_release(c);		/* the 304 had no body */
}

/* The kept stale object as a struct cache_obj (slices into cc->old). */
static void
stale_obj(struct cache_conn *cc, struct cache_obj *o)
{
	struct vd_str name, v;
	size_t pos = 0;

	memset(o, 0, sizeof(*o));
	o->resp = cc->old_resp;
	o->head = (struct vd_str){ cc->old, cc->oldlen };
	o->url = (struct vd_str){ cc->url, cc->ulen };
	o->body_size = cc->old_size;
	while (next_line(cc->old, cc->oldlen, &pos, &name, &v)) {
		if (http_str_ieq(name, "etag"))
			o->etag = v;
		else if (http_str_ieq(name, "last-modified"))
			o->last_modified = v;
	}
}

/* RFC 9111 §4.3.2 / §15.4.5: the statuses that mean the origin failed. */
static bool
origin_failed(int status)
{
	return status == 500 || status == 502 || status == 503 || status == 504;
}

/*
 * RFC 5861 §4: revalidating or refetching a kept stale object failed (no
 * connection, no name, no answer in time, or a 500/502/503/504); within
 * its stale-if-error window (the response's or the request's directive)
 * the stale object answers instead of the error.  VD_OK: the connection is
 * in PX_CACHE; VD_DECLINED: the error goes to the client.
 */
int
cache_reval_error(struct conn *c, struct cache_conn *cc)
{
	struct cache_obj o;
	int64_t now = cp_now(c);

	if (!cc->stale || c->resp_started ||
	    !cache_stale_if_error_ok(&cc->old_resp, &cc->rq, now, c->t->conf->max_fresh_time))
		return VD_DECLINED;
	stale_obj(cc, &o);
	upstream_close(c);		/* what the origin still sends is not wanted */
	cc->revalidating = false;
	cc->storing = false;
	if (cache_hit_copy(c, cc, &o, now) != VD_OK)
		return VD_DECLINED;
	log_info("%s: origin failed, stale-if-error serves the stored %.*s", c->peer,
	    (int)(cc->ulen > 200 ? 200 : cc->ulen), cc->url);
	cc->result = AL_TCP_REFRESH_FAIL_OLD;
	CP_CLIENT_INC(c, hits);
	cc->hit_counted = true;
	conn_timer(c, c->t->conf->idle_timeout);
	return VD_OK;
}

/* The response has field `name`, and the stored one has not, or another value. */
static bool
field_differs(const struct conn *c, const struct cache_conn *cc, const char *name)
{
	const struct http_resp *rs = &c->resp;
	struct vd_str n, v, stored = { NULL, 0 };
	size_t pos = 0;
	int i = http_field_find(rs->fields, rs->nfields, name, 0);

	if (i < 0)
		return false;
	while (next_line(cc->old, cc->oldlen, &pos, &n, &v))
		if (http_str_ieq(n, name))
			stored = v;
	return stored.p == NULL || rs->fields[i].value.len != stored.len ||
	    memcmp(rs->fields[i].value.p, stored.p, stored.len) != 0;
}

/*
 * RFC 9111 §4.3.5: a 200 to the HEAD the cache sent about a stored GET
 * that names another ETag, Last-Modified or length than the stored
 * response: the stored one is stale, and is removed (the next GET fetches).
 */
static void
head_checks_stored(struct conn *c, struct cache_conn *cc)
{
	const struct http_framing *fr = &c->body.fr;

	if ((fr->has_length && fr->declared != cc->old_size) ||
	    field_differs(c, cc, "etag") || field_differs(c, cc, "last-modified")) {
		log_debug("cache: a HEAD shows %.*s changed: the stored GET goes",
		    (int)(cc->ulen > 200 ? 200 : cc->ulen), cc->url);
		(void)cache_store_delete(cp_store(c), &cc->hkey);
	}
}

int
cache_reval_response(struct conn *c, struct cache_conn *cc)
{
	if (cc->stale && origin_failed(c->resp.status) && cache_reval_error(c, cc) == VD_OK)
		return VD_DONE;
	if (cc->revalidating) {
		cc->revalidating = false;
		if (c->resp.status == 304) {
			refreshed(c, cc);
			return VD_DONE;
		}
		if (c->head_method && c->resp.status == 200)
			head_checks_stored(c, cc);
	} else if (cc->stale && c->resp.status == 304 && !c->head_method &&
	    identifies_stored(c, cc, false)) {
		/* §4.3.4: the client's own validators went, and the origin's
		 * 304 for them is the client's; it freshens ours too */
		update_stored(c, cc, cp_now(c));
		cc->result = AL_TCP_REFRESH_UNMODIFIED;
	}
	if (cc->stale) {
		cc->stale = false;
		if (cc->fd >= 0)	/* replaced (200) or failed: the old body goes */
			close(cc->fd);
		cc->fd = -1;
	}
	return VD_DECLINED;
}
