/*
 * cache_fill.c — a response on its way into the cache (see cache_fill.h):
 * invalidation, the decision to store, the stored head, the body captured
 * as it streams, and the commit.
 */
#include "config.h"

#include <string.h>

#include "viaduct.h"
#include "cache_conn.h"
#include "cache_fill.h"
#include "cache_hit.h"
#include "cache_wait.h"
#include "conf.h"
#include "log.h"

/* RFC 9111 §4.4: a successful unsafe request invalidates the target URI
 * and same-origin Location / Content-Location. */
static void
invalidate(struct conn *c, struct cache_conn *cc)
{
	static const char *const loc[] = { "location", "content-location" };
	struct http_resp *rs = &c->resp;
	struct cache_key k;
	char u[CP_URL_MAX];
	size_t ul;
	int rc;

	if (cc->ulen == 0 || !cache_method_invalidates(c->req.method.p, c->req.method.len,
	    rs->status))
		return;
	rc = cache_store_invalidate(cp_store(c), &cc->key, cp_now(c));
	log_debug("cache: %.*s invalidates %.*s: %d", (int)c->req.method.len, c->req.method.p,
	    (int)cc->ulen, cc->url, rc);
	for (size_t i = 0; i < VD_ARRLEN(loc); i++) {
		int f = http_field_find(rs->fields, rs->nfields, loc[i], 0);

		if (f < 0 || cache_key_same_origin(cc->url, cc->ulen, rs->fields[f].value.p,
		    rs->fields[f].value.len, u, sizeof(u), &ul) != VD_OK)
			continue;
		/* §4.4: as this connection would fetch it, the same origin's */
		cache_hit_key(c, u, ul, &k);
		(void)cache_store_invalidate(cp_store(c), &k, cp_now(c));
	}
}

void
cache_fill_note_field(struct cache_conn *cc, struct cache_obj *o, struct vd_str name,
    struct vd_str v, int64_t now, struct vd_str **val)
{
	*val = NULL;
	if (http_str_ieq(name, "cache-control")) {
		cache_cc_parse(&o->resp.cc, v.p, v.len);
	} else if (http_str_ieq(name, "date")) {
		o->resp.date = cache_http_date_parse(v.p, v.len, now);
	} else if (http_str_ieq(name, "expires")) {
		/* RFC 9111 §4.2.1: of several, the first counts */
		if (o->resp.expires == CACHE_TIME_UNSET)
			o->resp.expires = cache_http_date_parse(v.p, v.len, now);
	} else if (http_str_ieq(name, "last-modified")) {
		o->resp.last_modified = cache_http_date_parse(v.p, v.len, now);
		*val = &o->last_modified;
	} else if (http_str_ieq(name, "etag")) {
		*val = &o->etag;
	} else if (http_str_ieq(name, "vary") && cc != NULL) {
		/* RFC 9110 §5.3: several lines are one comma-separated list */
		size_t sep = cc->varies ? 2 : 0;

		if (cc->vrawlen + sep + v.len > sizeof(cc->vraw)) {
			cc->vraw_over = true;
		} else {
			memcpy(cc->vraw + cc->vrawlen, ", ", sep);
			memcpy(cc->vraw + cc->vrawlen + sep, v.p, v.len);
			cc->vrawlen += sep + v.len;
		}
		cc->varies = true;
	}
}

/* The canonical Vary names of the combined lines into cc->vary (vlen 0:
 * not understood, not stored); Vary: * marks the response (§4.1). */
static void
vary_names(struct cache_conn *cc, struct cache_obj *o)
{
	size_t vl = 0;
	int vr = cc->vraw_over ? VD_ERR : cache_key_vary_names(cc->vraw, cc->vrawlen, cc->vary,
	    sizeof(cc->vary), &vl);

	if (vr == VD_DECLINED)
		o->resp.vary_star = true;
	cc->vlen = vr == VD_OK ? vl : 0;
}

void
cache_fill_note_age(struct cache_obj *o, const struct http_field *f, int n)
{
	int i = http_field_find(f, n, "age", 0);

	o->resp.age_value = i < 0 ? 0 : cache_age_parse(f[i].value.p, f[i].value.len);
}

/*
 * On a reverse port we are the origin's own surrogate: its Surrogate-Control
 * speaks to us (cache_policy.h).  A forward or transparent proxy is nobody's
 * surrogate and leaves the field alone.
 */
void
cache_fill_note_surrogate(const struct conn *c, struct cache_cc *sc, bool *has,
    struct vd_str name, struct vd_str v)
{
	if (c->mode != ROUTER_REVERSE || !http_str_ieq(name, "surrogate-control"))
		return;
	cache_cc_parse(sc, v.p, v.len);
	*has = true;
}

void
cache_fill_obj_init(struct cache_obj *o, int status, int64_t req_time, int64_t now)
{
	memset(o, 0, sizeof(*o));
	o->resp.status = status;
	o->resp.request_time = req_time;
	o->resp.response_time = now;
	o->resp.date = o->resp.expires = o->resp.last_modified = CACHE_TIME_UNSET;
	cache_cc_init(&o->resp.cc);
}

/*
 * What decides whether the response is stored: struct cache_resp from its
 * fields and the Vary names.  Nothing is copied yet (most responses that
 * pass through are not stored).
 */
static void
describe(struct conn *c, struct cache_conn *cc, int64_t now)
{
	struct http_resp *rs = &c->resp;
	struct cache_obj *o = &cc->obj;
	struct vd_str *val;
	struct cache_cc sc;
	bool has_sc = false;

	cache_fill_obj_init(o, rs->status, cc->req_time, now);
	cache_cc_init(&sc);
	cc->hlen = cc->vlen = cc->vrawlen = 0;
	cc->varies = cc->vraw_over = false;
	for (int i = 0; i < rs->nfields; i++) {
		cache_fill_note_field(cc, o, rs->fields[i].name, rs->fields[i].value, now, &val);
		cache_fill_note_surrogate(c, &sc, &has_sc, rs->fields[i].name,
		    rs->fields[i].value);
	}
	cache_fill_note_age(o, rs->fields, rs->nfields);
	if (has_sc)
		cache_surrogate_apply(&o->resp, &sc);
	if (cc->varies)
		vary_names(cc, o);
	if (rs->version == 10)
		o->flags |= CACHE_OBJ_HTTP10;	/* RFC 9110 §7.6.3: the hits' Via */
}

/*
 * The stored header block of a response that will be stored (storable,
 * end-to-end fields; the framing is ours on every hit) with the ETag /
 * Last-Modified slices into it.  VD_OK, VD_ERR too large.
 */
static int
stored_head(struct conn *c, struct cache_conn *cc)
{
	struct http_resp *rs = &c->resp;
	struct cache_obj *o = &cc->obj;
	size_t cap = cp_of(c)->head_cap, at;
	bool overflow = false, dated = false;

	for (int i = 0; i < rs->nfields; i++) {
		const struct http_field *f = &rs->fields[i];
		struct vd_str *val = http_str_ieq(f->name, "etag") ? &o->etag :
		    http_str_ieq(f->name, "last-modified") ? &o->last_modified : NULL;

		if (!cache_field_storable(f->name.p, f->name.len) ||
		    http_str_ieq(f->name, "content-length") ||
		    http_is_hop(rs->fields, rs->nfields, f->name))
			continue;
		at = cc->hlen + f->name.len + 2;
		if (!cp_put_line(cc->head, &cc->hlen, cap, f->name, f->value))
			overflow = true;
		else if (val != NULL)
			*val = (struct vd_str){ cc->head + at, f->value.len };
		dated = dated || http_str_ieq(f->name, "date");
	}
	/* RFC 9110 §6.6.1: a response cached without a Date (none came, or
	 * the one that came was hop-by-hop, named by Connection) gets the
	 * time it was received (what its age is counted from anyway, §4.2.3) */
	if (!dated) {
		char d[CACHE_HTTP_DATE_LEN + 1];
		size_t dl = cache_http_date_fmt(o->resp.response_time, d);

		if (!cp_put_line(cc->head, &cc->hlen, cap, VD_STR("Date"), (struct vd_str){ d, dl }))
			overflow = true;
		else
			o->resp.date = o->resp.response_time;
	}
	o->head = (struct vd_str){ cc->head, cc->hlen };
	o->url = (struct vd_str){ cc->url, cc->ulen };
	return overflow ? VD_ERR : VD_OK;
}

/* The whole body is in: nobody needs to stream it any more. */
static bool
body_in(const struct conn *c, const struct cache_conn *cc)
{
	return c->body.fr.kind == HTTP_BODY_LENGTH && cc->got >= c->body.fr.length;
}

void
cache_fill_share(struct conn *c, struct cache_conn *cc)
{
	if (!cc->storing || cc->to_file || cc->shadow || cc->rww_tried || cc->co_h < 0 ||
	    body_in(c, cc))
		return;
	if (cache_body_begin(cp_store(c), &cc->body) != VD_OK) {
		cc->rww_tried = true;	/* once: the waiters wait for the stored object */
		return;
	}
	cc->shadow = true;
	if (cache_body_write(&cc->body, cc->buf, cc->blen) == VD_OK)
		cache_wait_publish(c, cc);	/* (rww_tried now) */
	if (!cc->rww_pub) {	/* not written, or its head did not fit */
		cache_body_abort(cp_store(c), &cc->body);
		cc->shadow = false;
		cc->rww_tried = true;
	}
}

/* relay.c's tap: body bytes as they stream to the client. */
static void
tap(void *arg, const char *p, size_t n)
{
	struct conn *c = arg;
	struct cache_conn *cc = c->cache;
	struct cache_store *cs = cp_store(c);
	int64_t max = c->t->conf->max_cache_object_size;

	if (!cc->storing)
		return;
	if (max > 0 && cc->got + n > (uint64_t)max && !cc->feed_only) {
		STATS_INC(inserts_too_large, 1);
		if (!cc->rww_pub || !(cc->to_file || cc->shadow))
			goto drop;
		/* waiters are streaming the file: it goes on for them, and is
		 * never stored (cache_fill_end) */
		cc->feed_only = true;
		cc->shadow = false;
		cc->to_file = true;
	}
	cc->got += n;
	if (cc->feed_only)
		goto file;
	if (!cc->to_file && cc->blen + n <= cs->inline_max) {
		memcpy(cc->buf + cc->blen, p, n);
		cc->blen += n;
		if (cc->shadow)
			goto file;
		if (collapse_wanted(&cp_of(c)->co, cc->co_h))
			cache_fill_share(c, cc);
		return;
	}
	if (cc->shadow) {	/* too large for inline after all: the file is the body */
		cc->shadow = false;
		cc->to_file = true;
	} else if (!cc->to_file) {
		if (cache_body_begin(cs, &cc->body) != VD_OK) {
			STATS_INC(inserts_errors, 1);
			cc->storing = false;
			cache_wait_unpublish(c, cc);
			return;
		}
		cc->to_file = true;
		if (cache_body_write(&cc->body, cc->buf, cc->blen) != VD_OK)
			goto fail;
	}
file:
	if (cache_body_write(&cc->body, p, n) == VD_OK) {
		cache_wait_progress(c, cc);
		return;
	}
fail:
	STATS_INC(inserts_errors, 1);
drop:
	if (cc->to_file || cc->shadow)
		cache_body_abort(cs, &cc->body);
	cc->to_file = cc->shadow = cc->feed_only = false;
	cc->storing = false;
	cache_wait_unpublish(c, cc);
}

/*
 * RFC 9111 §4.1: a variant is keyed by the request fields its Vary names,
 * as the origin saw them.  The client's own values of a field we removed
 * (hop-by-hop, named by its Connection; From and Referer when anonymous)
 * or rewrote (X-Forwarded-For, Via) are not what selected the response, so
 * a response that varies on one is not stored: a client could otherwise
 * store the origin's default answer under a value the origin never saw,
 * for every other client that sends it.
 */
static bool
vary_keyable(const struct conn *c, const char *names, size_t len)
{
	const struct http_req *r = &c->req;
	size_t i = 0, n0;

	while (i < len) {
		struct vd_str n;

		for (n0 = i; i < len && names[i] != ','; i++)
			;
		n = (struct vd_str){ names + n0, i - n0 };
		i++;
		if (http_str_ieq(n, "x-forwarded-for") || http_str_ieq(n, "via") ||
		    (c->t->conf->anonymous && (http_str_ieq(n, "from") ||
		    http_str_ieq(n, "referer"))) || http_is_hop(r->fields, r->nfields, n))
			return false;
	}
	return true;
}

/* May the response be stored?  Its metadata, variant key and stored head
 * are ready when it may (true); the refusal is counted when not. */
static bool
admit(struct conn *c, struct cache_conn *cc)
{
	int64_t max = c->t->conf->max_cache_object_size;
	enum cache_storable st;

	describe(c, cc, cp_now(c));	/* decide first: build nothing for a pass-through */
	st = cache_storable(c->req.method.p, c->req.method.len, &cc->rq, cc->auth, &cc->obj.resp);
	if (st != CACHE_STORABLE) {
		/* HTTP forbids it: no insert was denied (RouterOS's inserts
		 * denied are the cache list's, request_prepare()) */
		log_debug("cache: not storing %.*s: %s", (int)cc->ulen, cc->url,
		    cache_storable_str(st));
		return false;
	}
	if (c->body.fr.kind == HTTP_BODY_LENGTH && max > 0 && c->body.fr.length > (uint64_t)max) {
		STATS_INC(inserts_too_large, 1);
		return false;
	}
	if (cc->varies) {
		if (cc->vlen == 0 || !vary_keyable(c, cc->vary, cc->vlen))
			return false;	/* a Vary we cannot key */
		cache_key_variant(&cc->key, cc->url, cc->ulen, cc->vary, cc->vlen,
		    c->req.fields, c->req.nfields, &cc->vkey);
		cc->obj.vary = (struct vd_str){ cc->vary, cc->vlen };
	}
	if (stored_head(c, cc) != VD_OK) {
		STATS_INC(inserts_errors, 1);
		return false;
	}
	return true;
}

void
cache_fill_response(struct conn *c, struct cache_conn *cc)
{
	invalidate(c, cc);
	if (!cc->cacheable || c->head_method || !admit(c, cc))
		return;
	cc->storing = true;
	cc->feed_only = false;
	cc->to_file = cc->shadow = false;
	cc->got = 0;
	cc->blen = 0;
	c->body.tap = tap;
	c->body.tap_arg = c;
	/* a body that needs a file has it now: waiters start with the head */
	if (cc->co_h >= 0 && c->body.fr.kind == HTTP_BODY_LENGTH &&
	    c->body.fr.length > cp_store(c)->inline_max &&
	    cache_body_begin(cp_store(c), &cc->body) == VD_OK) {
		cc->to_file = true;
		cache_wait_publish(c, cc);
	}
}

static int
commit(struct conn *c, struct cache_conn *cc)
{
	struct cache_store *cs = cp_store(c);
	const struct cache_key *k = cc->varies ? &cc->vkey : &cc->key;
	struct cache_obj *o = &cc->obj;
	int rc;

	o->body_size = cc->got;
	if (cc->varies) {
		/* the marker at the primary key names the fields that select */
		struct cache_obj m = *o;

		m.flags = CACHE_OBJ_VARY;
		if (cc->vary_void != INT64_MIN) {	/* the invalidation stays */
			m.flags |= CACHE_OBJ_VARY_VOID;
			m.resp.request_time = cc->vary_void;
		}
		m.head = m.body = m.etag = m.last_modified = (struct vd_str){ NULL, 0 };
		m.body_size = 0;
		if ((rc = cache_store_put(cs, &cc->key, &m)) != VD_OK)
			return rc;
	}
	if (cc->to_file) {
		cc->to_file = false;
		return cache_body_commit(cs, &cc->body, k, o);
	}
	o->body = (struct vd_str){ cc->buf, cc->blen };
	return cache_store_put(cs, k, o);
}

void
cache_fill_end(struct conn *c, struct cache_conn *cc, bool complete)
{
	int rc;

	cc->storing = false;
	if (!complete) {
		if (cc->to_file || cc->shadow)
			cache_body_abort(cp_store(c), &cc->body);
		cc->to_file = cc->shadow = cc->feed_only = false;
		return;
	}
	cache_wait_complete(c, cc);
	if (cc->feed_only) {
		/* too large to store: the waiters have the whole body (their
		 * open file, the head file's end word); nothing is committed */
		cache_body_abort(cp_store(c), &cc->body);
		cc->to_file = cc->feed_only = false;
		cache_wait_unpublish(c, cc);
		return;
	}
	rc = commit(c, cc);
	if (cc->shadow)		/* the waiters hold it open; the object is inline */
		cache_body_abort(cp_store(c), &cc->body);
	cc->shadow = false;
	if (rc == VD_OK) {
		STATS_INC(inserts_successes, 1);
		cache_pass_forget(&cp_of(c)->pass, &cc->key);
	} else if (rc == CACHE_STORE_FULL) {
		STATS_INC(inserts_no_memory, 1);
	} else {
		STATS_INC(inserts_errors, 1);
	}
}
