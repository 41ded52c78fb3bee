/*
 * cache_hit.c — a hit (see cache_hit.h): what the request asks of the
 * cache, the lookup, whether the object answers the request, the head the
 * cache writes and the body it sends.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "viaduct.h"
#include "cache_bg.h"
#include "cache_conn.h"
#include "cache_dscp.h"
#include "cache_atime.h"
#include "cache_hit.h"
#include "cache_range.h"
#include "cache_reval.h"
#include "conf.h"
#include "log.h"
#include "rules.h"
#include "cache_wait.h"

int
cache_hit_head_end(struct conn *c)
{
	struct http_out *out = &c->out;

	if (c->t->shutdown)
		c->keep_alive = false;	/* draining: say so (proxy.c) */
	if (!c->keep_alive)
		http_out_str(out, "Connection: close\r\n");
	else if (c->req.version == 10)
		http_out_str(out, "Connection: keep-alive\r\n");
	http_out_str(out, "\r\n");
	c->out_off = 0;
	return out->overflow ? VD_ERR : VD_OK;
}

static void
status_line(struct http_out *out, int status)
{
	out->len = 0;
	out->overflow = false;
	http_out_str(out, "HTTP/1.1 ");
	http_out_uint(out, (uint64_t)status);
	http_out_str(out, " ");
	http_out_str(out, http_reason(status));
	http_out_str(out, "\r\n");
}

/* RFC 9110 §15.5.17: no range of the stored object is satisfiable.  None of
 * the object's fields go with it (a 416 must not pass for the object). */
static int
hit_416(struct conn *c, const struct cache_obj *o, int64_t now)
{
	struct http_out *out = &c->out;
	char date[CACHE_HTTP_DATE_LEN + 1];

	status_line(out, 416);
	(void)cache_http_date_fmt(now, date);
	http_out_str(out, "Date: ");		/* RFC 9110 §6.6.1: we made it */
	http_out_str(out, date);
	http_out_str(out, "\r\nContent-Range: bytes */");
	http_out_uint(out, o->body_size);
	http_out_str(out, "\r\nContent-Length: 0\r\nVia: 1.1 ");
	http_out_str(out, c->t->via);
	http_out_str(out, "\r\n");
	return cache_hit_head_end(c);
}

/* The stored fields; a part (206) or no content (304) goes without those
 * that describe the whole stored body (RFC 9110 §14.4, RFC 9530 §2). */
static void
put_stored(struct http_out *out, const struct vd_str *head, int status)
{
	size_t pos = 0, l0, llen, nlen;

	if (status != 206 && status != 304) {
		http_out_add(out, head->p, head->len);
		return;
	}
	while (cache_head_next(head->p, head->len, &pos, &l0, &llen, &nlen))
		if (!cache_field_of_body(head->p + l0, nlen))
			http_out_add(out, head->p + l0, llen);
}

void
cache_hit_fields(struct conn *c, const struct cache_obj *o, int status, int64_t now)
{
	struct http_out *out = &c->out;
	int64_t age = cache_current_age(&o->resp, now);

	status_line(out, status);
	put_stored(out, &o->head, status);
	if (o->resp.date == CACHE_TIME_UNSET) {
		/* RFC 9110 §6.6.1: stored without one (before stored_head() in
		 * cache_fill.c added it): the time it was received */
		char date[CACHE_HTTP_DATE_LEN + 1];

		(void)cache_http_date_fmt(o->resp.response_time, date);
		http_out_str(out, "Date: ");
		http_out_str(out, date);
		http_out_add(out, "\r\n", 2);
	}
	/* RFC 9111 §5.1: Age on every response from the cache */
	http_out_str(out, "Age: ");
	http_out_uint(out, (uint64_t)(age < 0 ? 0 : age));
	/* RFC 9110 §7.6.3: the version the stored response came in */
	http_out_str(out, (o->flags & CACHE_OBJ_HTTP10) ? "\r\nVia: 1.0 " : "\r\nVia: 1.1 ");
	http_out_str(out, c->t->via);
	http_out_str(out, "\r\n");
}

/*
 * The head of a hit into c->out: stored fields, Age, Via, framing.  A 206
 * carries bytes [first, first + count) of the object (RFC 9110 §14.4).
 */
int
cache_hit_head(struct conn *c, const struct cache_obj *o, int status, int64_t now,
    uint64_t first, uint64_t count)
{
	struct http_out *out = &c->out;

	if (status == 416)
		return hit_416(c, o, now);
	cache_hit_fields(c, o, status, now);
	if (status == 206) {
		http_out_str(out, "Content-Range: bytes ");
		http_out_uint(out, first);
		http_out_str(out, "-");
		http_out_uint(out, first + count - 1);
		http_out_str(out, "/");
		http_out_uint(out, o->body_size);
		http_out_str(out, "\r\n");
	}
	if (status != 304 && status != 204) {	/* RFC 9110 §8.6: never in a 204 */
		http_out_str(out, "Content-Length: ");
		http_out_uint(out, status == 206 ? count : o->body_size);
		http_out_str(out, "\r\n");
	}
	return cache_hit_head_end(c);
}

/*
 * RFC 9110 §14.2, §13.1.5: what a request gets of a stored 200: the whole
 * object (200), bytes [*first, *first + *count) (206) or nothing (416).
 * Range is defined for GET only, and a second Range line makes it invalid.
 */
static int
hit_range(const struct conn *c, const struct cache_obj *o, int64_t now, uint64_t *first,
    uint64_t *count)
{
	const struct http_req *r = &c->req;
	int i = http_field_find(r->fields, r->nfields, "range", 0);
	int ir = http_field_find(r->fields, r->nfields, "if-range", 0);

	*first = 0;
	*count = o->body_size;
	if (i < 0 || !http_method_is(r->method, "GET") ||
	    http_field_find(r->fields, r->nfields, "range", i + 1) >= 0)
		return 200;
	/* §13.1.5: one validator; two If-Range lines are no valid one */
	if (ir >= 0 && (http_field_find(r->fields, r->nfields, "if-range", ir + 1) >= 0 ||
	    !cache_if_range_ok(r->fields[ir].value.p, r->fields[ir].value.len, &o->etag,
	    o->resp.last_modified, o->resp.date, now)))
		return 200;		/* the object changed: all of it */
	switch (cache_range_eval(r->fields[i].value.p, r->fields[i].value.len, o->body_size,
	    first, count)) {
	case CACHE_RANGE_ONE:
		return 206;
	case CACHE_RANGE_UNSATISFIABLE:
		return 416;
	default:
		*first = 0;
		*count = o->body_size;
		return 200;
	}
}

bool
cache_hit_not_modified(const struct conn *c, const struct cache_obj *o, int64_t now)
{
	const struct http_req *r = &c->req;
	int i = http_field_find(r->fields, r->nfields, "if-none-match", 0);

	if (i >= 0) {
		/* §13.1.3: If-Modified-Since is then ignored.  A list too long
		 * for lbuf, or an empty one, matches nothing. */
		char lbuf[1024];
		struct vd_str inm = cp_req_list(r, "if-none-match", lbuf, sizeof(lbuf));

		return inm.len > 0 &&
		    cache_client_conditional(&inm, NULL, &o->etag, &o->resp, now) == 304;
	}
	i = http_field_find(r->fields, r->nfields, "if-modified-since", 0);
	/* §13.1.3: a field value of more than one member is ignored */
	if (i < 0 || http_field_find(r->fields, r->nfields, "if-modified-since", i + 1) >= 0)
		return false;
	return cache_client_conditional(NULL, &r->fields[i].value, &o->etag, &o->resp,
	    now) == 304;
}

/* RouterOS's lookups no-expiration-info: a conditional request for a
 * stored object that has nothing to compare it with (no ETag, no
 * Last-Modified). */
static bool
conditional_unanswerable(const struct conn *c, const struct cache_obj *o)
{
	const struct http_req *r = &c->req;

	return o->etag.len == 0 && o->last_modified.len == 0 &&
	    (http_field_find(r->fields, r->nfields, "if-none-match", 0) >= 0 ||
	    http_field_find(r->fields, r->nfields, "if-modified-since", 0) >= 0);
}

/* The status a request gets from object o: 304 to its conditionals
 * (RFC 9110 §13.1), else what its Range selects (hit_range). */
int
cache_hit_status(const struct conn *c, const struct cache_obj *o, int64_t now,
    uint64_t *first, uint64_t *count)
{
	int status = o->resp.status;

	*first = 0;
	*count = o->body_size;
	/* RFC 9110 §13.2.1: preconditions apply where the answer would be 2xx */
	if (status >= 200 && status < 300 && cache_hit_not_modified(c, o, now))
		status = 304;
	if (status == 200)
		status = hit_range(c, o, now, first, count);
	return status;
}

int
cache_hit_lookup(struct conn *c, struct cache_conn *cc, struct cache_obj *o)
{
	struct http_req *r = &c->req;
	int rc;

	if (cc->rd.txn == NULL && cache_reader_init(cp_store(c), &cc->rd) != VD_OK)
		return VD_AGAIN;
	rc = cache_store_lookup(&cc->rd, &cc->key, cc->url, cc->ulen, o);
	cc->hkey = cc->key;
	if (rc != VD_OK || !(o->flags & CACHE_OBJ_VARY))
		return rc;
	if (o->flags & CACHE_OBJ_VARY_STAR)
		return VD_DECLINED;
	if (o->flags & CACHE_OBJ_VARY_VOID)
		cc->vary_void = o->resp.request_time;
	cache_key_variant(&cc->key, cc->url, cc->ulen, o->vary.p, o->vary.len, r->fields,
	    r->nfields, &cc->hkey);
	rc = cache_store_lookup(&cc->rd, &cc->hkey, cc->url, cc->ulen, o);
	/* a variant of before the URL's invalidation (RFC 9111 §4.4); in the
	 * same second too, since it may have come just before */
	if (rc == VD_OK && o->resp.response_time <= cc->vary_void)
		return VD_DECLINED;
	return rc;
}

bool
cache_hit_usable(const struct conn *c, const struct cache_conn *cc, const struct cache_resp *r,
    int64_t now)
{
	switch (cache_serve(r, &cc->rq, now, c->t->conf->max_fresh_time,
	    c->t->conf->always_from_cache)) {
	case CACHE_SERVE_FRESH:
	case CACHE_SERVE_STALE_OK:
	case CACHE_SERVE_STALE_REVALIDATE:
		return true;
	default:
		return false;
	}
}

int
cache_hit_start(struct conn *c, struct cache_conn *cc, const struct cache_obj *o, int64_t now)
{
	uint64_t first, count;
	int status;

	cc->fd = -1;
	cc->inline_body = false;
	/* c->out still holds the request head for the origin: keep it intact
	 * unless the hit's head surely fits (status line, Age, Via, framing) */
	if (o->head.len + strlen(c->t->via) + 250 > c->out.cap)
		return VD_DECLINED;
	status = cache_hit_status(c, o, now, &first, &count);
	if (status != 304 && status != 416 && !c->head_method && count > 0) {
		if (o->flags & CACHE_OBJ_BODY_FILE) {
			/* the file stays readable even if it is replaced meanwhile */
			if ((cc->fd = cache_store_body_open(cp_store(c), o)) == -1)
				return VD_DECLINED;
		} else {
			cc->inline_body = true;
			cc->body_p = o->body.p;
		}
	}
	VD_ASSERT(cache_hit_head(c, o, status, now, first, count) == VD_OK);
	cc->body_off = first;
	cc->body_size = cc->fd >= 0 || cc->inline_body ? first + count : 0;
	cc->obj_rt = o->resp.response_time;
	cc->obj_size = o->body_size;
	cc->hit = true;
	cc->result = status == 304 ? AL_TCP_IMS_HIT : AL_TCP_HIT;
	c->status = status;
	c->resp.status = 0;		/* nothing came from an origin */
	c->resp.nfields = 0;
	/* a waiter's lookup was counted when it found nothing (cache_wait.h) */
	if (!cc->looked_up && conditional_unanswerable(c, o))
		CP_CLIENT_INC(c, lookups_no_expiration_info);
	else if (!cc->looked_up)
		CP_CLIENT_INC(c, lookups_successes);
	cc->looked_up = cc->hit_counted = true;
	CP_CLIENT_INC(c, hits);
	/* its access time, and its Vary record's, for eviction (cache_atime.h) */
	cache_atime_note(&cp_of(c)->atx, &cc->hkey, now);
	if (memcmp(cc->hkey.b, cc->key.b, sizeof(cc->key.b)) != 0)
		cache_atime_note(&cp_of(c)->atx, &cc->key, now);
	cache_dscp_hit(c);
	c->state = PX_CACHE;
	conn_timer(c, c->t->conf->idle_timeout);
	return VD_OK;
}

/* The normalised absolute URL of the request into cc->url (ulen 0: none). */
static void
request_url(struct conn *c, struct cache_conn *cc)
{
	struct http_req *r = &c->req;
	char tmp[CP_URL_MAX];
	const char *u = r->target.p;
	size_t ul = r->target.len;
	int n;

	cc->ulen = 0;
	if (r->form != HTTP_FORM_ABSOLUTE) {
		if (r->form != HTTP_FORM_ORIGIN || r->host_field < 0)
			return;
		n = snprintf(tmp, sizeof(tmp), "http://%.*s%.*s",
		    (int)r->fields[r->host_field].value.len, r->fields[r->host_field].value.p,
		    (int)r->target.len, r->target.p);
		if (n <= 0 || (size_t)n >= sizeof(tmp))
			return;
		u = tmp;
		ul = (size_t)n;
	}
	if (cache_key_url_norm(u, ul, cc->url, sizeof(cc->url), &cc->ulen) != VD_OK)
		cc->ulen = 0;
}

/* Request Cache-Control, Pragma (RFC 9111 §5.4) and Authorization. */
static void
request_directives(struct conn *c, struct cache_conn *cc)
{
	struct http_req *r = &c->req;
	bool have_cc = false;
	struct cache_cc pragma;

	cache_cc_init(&cc->rq);
	cache_cc_init(&pragma);
	cc->auth = false;
	for (int i = 0; i < r->nfields; i++) {
		struct http_field *f = &r->fields[i];

		if (http_str_ieq(f->name, "cache-control")) {
			cache_cc_parse(&cc->rq, f->value.p, f->value.len);
			have_cc = true;
		} else if (http_str_ieq(f->name, "pragma")) {
			/* RFC 7234 §5.4: a list; no-cache is a directive of it,
			 * case-insensitive, not a substring */
			cache_cc_parse(&pragma, f->value.p, f->value.len);
		} else if (http_str_ieq(f->name, "authorization")) {
			cc->auth = true;
		}
	}
	if (!have_cc && (pragma.flags & CACHE_CC_NO_CACHE))
		cc->rq.flags |= CACHE_CC_NO_CACHE;
}

/* Requests the cache leaves alone (forwarded as they are, not stored). */
static bool
cache_skips(const struct http_req *r)
{
	static const char *const f[] = { "if-match", "if-unmodified-since" };

	for (size_t i = 0; i < VD_ARRLEN(f); i++)
		if (http_field_find(r->fields, r->nfields, f[i], 0) >= 0)
			return true;
	return false;
}

/*
 * A transparent request is fetched from the firewall's original
 * destination (route(): c->up.host, already an address), whatever its
 * Host names.  Its object is the URL's own only when Host is that very
 * address and port; otherwise it is keyed by URL and destination, and a
 * client that names another site in Host poisons no one's cache but its
 * own connection's (cache_key_primary_at()).  A reverse port's object is
 * its configured origin's (cache_key_reverse()).
 */
void
cache_hit_key(const struct conn *c, const char *nurl, size_t len, struct cache_key *k)
{
	const struct http_req *r = &c->req;
	struct vd_str h;
	uint16_t port;
	char dst[sizeof(c->up.host) + 8];

	if (c->mode == ROUTER_REVERSE) {
		cache_key_reverse(nurl, len, c->up.host, c->up.port, k);
		return;
	}
	if (c->mode != ROUTER_TRANSPARENT || !c->has_odst || r->form != HTTP_FORM_ORIGIN) {
		cache_key_primary(nurl, len, k);
		return;
	}
	if (r->host_field >= 0 && http_parse_authority(r->fields[r->host_field].value.p,
	    r->fields[r->host_field].value.len, 80, &h, &port) == VD_OK) {
		if (h.len > 2 && h.p[0] == '[')		/* an IPv6 literal */
			h = (struct vd_str){ h.p + 1, h.len - 2 };
		if (port == c->up.port && h.len == strlen(c->up.host) &&
		    strncasecmp(h.p, c->up.host, h.len) == 0) {
			cache_key_primary(nurl, len, k);
			return;
		}
	}
	(void)snprintf(dst, sizeof(dst), "%s:%u", c->up.host, (unsigned)c->up.port);
	cache_key_primary_at(nurl, len, dst, k);
}

/* What the cache needs of the request: its URL, key and directives.
 * VD_OK it may be answered from the cache, VD_DECLINED not. */
static int
request_prepare(struct conn *c, struct cache_conn *cc, int64_t now)
{
	struct http_req *r = &c->req;

	cc->req_time = now;
	cc->hit = cc->storing = cc->hit_counted = cc->looked_up = false;
	cc->result = AL_NONE;
	cc->vary_void = INT64_MIN;
	request_url(c, cc);
	if (cc->ulen > 0)
		cache_hit_key(c, cc->url, cc->ulen, &cc->key);
	cc->cacheable = cc->ulen > 0 && (http_method_is(r->method, "GET") || c->head_method) &&
	    c->req_fr.kind == HTTP_BODY_NONE && !c->upgrade && !cache_skips(r);
	if (!cc->cacheable)
		return VD_DECLINED;
	if (!rules_conn_cache_allowed(c)) {	/* /ip proxy cache */
		CP_CLIENT_INC(c, lookups_non_cacheable);
		CP_CLIENT_INC(c, inserts_denied);	/* RouterOS: by the cache list */
		cc->cacheable = false;
		return VD_DECLINED;
	}
	request_directives(c, cc);
	return VD_OK;
}

/* The lookup and the freshness decision: VD_DONE the hit is set up; VD_OK
 * an object was found but is not answered as it is (being revalidated);
 * anything else no usable object.  The read txn stays active only for an
 * inline hit. */
static int
decide(struct conn *c, struct cache_conn *cc, int64_t now)
{
	struct cache_obj o;
	enum cache_serve serve;
	int rc = cache_hit_lookup(c, cc, &o);

	if (rc != VD_OK) {
		CP_CLIENT_INC(c, lookups_not_found);
		cc->looked_up = true;
		cache_reader_reset(&cc->rd);
		return rc;
	}
	serve = cache_serve(&o.resp, &cc->rq, now, c->t->conf->max_fresh_time,
	    c->t->conf->always_from_cache);
	if (serve == CACHE_SERVE_STALE_REVALIDATE && c->internal)
		serve = CACHE_SERVE_REVALIDATE;	/* it is the background request */
	switch (serve) {
	case CACHE_SERVE_FRESH:
	case CACHE_SERVE_STALE_OK:
	case CACHE_SERVE_STALE_REVALIDATE:
		if (cache_hit_start(c, cc, &o, now) == VD_OK) {
			/* RFC 5861 §3: stale now, and one revalidation behind */
			if (serve == CACHE_SERVE_STALE_REVALIDATE)
				(void)cache_bg_start(cp_of(c)->bg, c, &cc->hkey);
			if (!cc->inline_body)
				cache_reader_reset(&cc->rd);
			return VD_DONE;
		}
		break;
	case CACHE_SERVE_REVALIDATE:
		/* a conditional request when it has validators, else a
		 * plain refetch; either way a 200 replaces the object */
		CP_CLIENT_INC(c, lookups_expired);
		cc->looked_up = true;
		cc->result = (cc->rq.flags & CACHE_CC_NO_CACHE) ?
		    AL_TCP_CLIENT_REFRESH_MISS : AL_TCP_REFRESH_MODIFIED;
		(void)cache_reval_prepare(c, cc, &o);
		break;
	case CACHE_SERVE_GATEWAY_TIMEOUT:
		CP_CLIENT_INC(c, lookups_expired);	/* found, stale: only-if-cached 504 */
		cc->looked_up = true;
		rc = VD_DECLINED;
		break;
	}
	cache_reader_reset(&cc->rd);
	return rc;
}

/* RFC 9111 §5.2.1.7: also for a request the cache does not take on
 * (conditional on If-Match, with a body, denied by the cache list...): the
 * client wants a stored response or a 504, never the origin. */
static bool
only_if_cached(const struct http_req *r)
{
	struct cache_cc rq;

	cache_cc_init(&rq);
	for (int i = 0; (i = http_field_find(r->fields, r->nfields, "cache-control", i)) >= 0; i++)
		cache_cc_parse(&rq, r->fields[i].value.p, r->fields[i].value.len);
	return (rq.flags & CACHE_CC_ONLY_IF_CACHED) != 0;
}

int
cache_hit_request(struct conn *c)
{
	struct cache_conn *cc = c->cache;
	bool oic;
	int rc;

	if (request_prepare(c, cc, cp_now(c)) != VD_OK) {
		if (!only_if_cached(&c->req))
			return VD_DECLINED;
		rc = VD_DECLINED;	/* no stored response can answer it */
		oic = true;
	} else if ((rc = decide(c, cc, cc->req_time)) == VD_DONE) {
		return VD_OK;		/* a hit */
	} else {
		oic = (cc->rq.flags & CACHE_CC_ONLY_IF_CACHED) != 0;
	}
	if (oic && cc->result == AL_NONE) {
		/* RFC 9111 §5.2.1.7 */
		cc->result = AL_TCP_MISS;
		cc->cacheable = false;
		c->resp.status = 0;
		proxy_error(c, 504, "only-if-cached: not in the cache");
		return VD_OK;
	}
	if (rc != VD_OK && cache_wait_start(c, cc) == VD_OK)
		return VD_OK;		/* collapsed: another request fetches it */
	return VD_DECLINED;
}

int
cache_hit_copy(struct conn *c, struct cache_conn *cc, const struct cache_obj *o, int64_t now)
{
	uint64_t first, count, send;
	int status = cache_hit_status(c, o, now, &first, &count);

	send = status == 304 || status == 416 || c->head_method ? 0 : count;
	cc->inline_body = !cc->old_file && send > 0;
	cc->body_copy = cc->inline_body;
	cc->body_p = cc->buf;
	if (cache_hit_head(c, o, status, now, first, count) != VD_OK)
		return VD_ERR;
	cc->body_off = first;
	cc->body_size = first + send;
	cc->hit = true;
	c->status = status;
	c->state = PX_CACHE;
	return VD_OK;
}

/* Pitfall 5: the read txn was reset while the client was blocked; find the
 * same object again and point body_p into the map.  VD_OK, VD_ERR it changed. */
static int
relookup(struct cache_conn *cc)
{
	struct cache_obj o;

	if (cache_store_lookup(&cc->rd, &cc->hkey, cc->url, cc->ulen, &o) != VD_OK ||
	    o.resp.response_time != cc->obj_rt || o.body_size != cc->obj_size ||
	    (o.flags & CACHE_OBJ_BODY_FILE) || o.body.p == NULL) {
		cache_reader_reset(&cc->rd);
		return VD_ERR;
	}
	cc->body_p = o.body.p;
	log_debug("cache: hit resumed at %llu of %llu", (unsigned long long)cc->body_off,
	    (unsigned long long)cc->body_size);
	return VD_OK;
}

/* writev of the rest of the head and the inline body (body_p valid while
 * the read txn is active).  VD_OK / VD_AGAIN / VD_ERR. */
static int
send_inline(struct conn *c, struct cache_conn *cc, uint64_t *out)
{
	struct iovec iov[2];
	struct msghdr mh;
	ssize_t n;
	size_t hl;
	int k;

	for (;;) {
		k = 0;
		hl = c->out.len - c->out_off;
		if (hl > 0)
			iov[k++] = (struct iovec){ c->out.p + c->out_off, hl };
		if (cc->inline_body && cc->body_off < cc->body_size)
			iov[k++] = (struct iovec){ (char *)(uintptr_t)cc->body_p + cc->body_off,
			    cc->body_size - cc->body_off };
		if (k == 0)
			return VD_OK;
		if (!c->cl.wr)
			return VD_AGAIN;
		/* MSG_MORE: the head leaves with the first part of a body file */
		mh = (struct msghdr){ .msg_iov = iov, .msg_iovlen = (size_t)k };
		n = sendmsg(c->cl.fd, &mh, MSG_NOSIGNAL |
		    (cc->fd >= 0 && cc->body_off < cc->body_size ? MSG_MORE : 0));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->cl.wr = false;
				return VD_AGAIN;
			}
			return VD_ERR;
		}
		*out += (uint64_t)n;
		if ((size_t)n <= hl) {
			c->out_off += (size_t)n;
		} else {
			c->out_off = c->out.len;
			cc->body_off += (uint64_t)n - hl;
		}
	}
}

/* sendfile of a body file, after the head.  VD_OK / VD_AGAIN / VD_ERR. */
static int
send_file(struct conn *c, struct cache_conn *cc, uint64_t *out)
{
	int rc;

	if (cc->fd < 0)
		return VD_OK;
	rc = relay_sendfile(&c->cl, cc->fd, &cc->body_off, cc->body_size, out);
	return rc == VD_DECLINED ? VD_ERR : rc;	/* the file shrank */
}

int
cache_hit_send(struct conn *c, struct cache_conn *cc)
{
	uint64_t out = 0;
	int rc = VD_OK;

	if (cc->inline_body && !cc->body_copy && cc->body_off < cc->body_size &&
	    !cc->rd.active)
		rc = relookup(cc);
	if (rc == VD_OK)
		rc = send_inline(c, cc, &out);
	if (rc == VD_OK)
		rc = send_file(c, cc, &out);
	/* never hold the read txn across a callback (STYLE pitfall 5) */
	cache_reader_reset(&cc->rd);
	CLIENT_STATS_INC(c, sent_to_clients, out);
	if (cc->hit_counted)	/* not a refresh's (TCP_REFRESH_UNMODIFIED is no hit) */
		CLIENT_STATS_INC(c, hits_sent_to_clients, out);
	c->sent += out;
	if (out > 0) {
		c->resp_started = true;
		conn_timer(c, c->t->conf->idle_timeout);
	}
	return rc == VD_OK ? VD_DONE : rc;
}
