/*
 * cache_proxy.c — the shared cache on the request path (see cache_proxy.h
 * for the flow).  The RFC 9111 decisions are cache_policy.c's, the keys
 * cache_key.c's and the storage cache_store.c's; here they meet a
 * connection: which requests look up, how a hit is written, and how a
 * miss's body is captured while it streams to the client.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "viaduct.h"
#include "cache_collapse.h"
#include "cache_dscp.h"
#include "cache_pass.h"
#include "cache_key.h"
#include "cache_policy.h"
#include "cache_bg.h"
#include "cache_proxy.h"
#include "cache_range.h"
#include "cache_rww.h"
#include "cache_store.h"
#include "conf.h"
#include "log.h"
#include "proxy.h"
#include "rules.h"
#include "stats.h"

#define CP_URL_MAX	4096	/* longer URLs are not cached */
#define CP_VARY_MAX	512	/* canonical Vary names */

/* RouterOS's lookup and hit counters count clients' requests: a background
 * revalidation (cache_bg.h) is not one. */
#define CP_CLIENT_INC(c, f)	do { if (!(c)->internal) STATS_INC(f, 1); } while (0)

/* A miss parked for collapsed forwarding: deciding who fetches, waiting,
 * or (a stream that failed before a byte went) about to go to the origin. */
enum cp_co { CP_CO_NONE, CP_CO_DEFER, CP_CO_WAIT, CP_CO_ORIGIN };

/* Per connection slot (allocated with the table, pages touched on use). */
struct cache_conn {
	struct cache_reader rd;
	bool		 cacheable;	/* GET/HEAD the cache may answer and store */
	bool		 hit;		/* the cache answers this request */
	enum accesslog_result result;
	struct cache_cc	 rq;		/* request directives */
	bool		 auth;		/* the request had Authorization */
	int64_t		 req_time;
	char		 url[CP_URL_MAX];
	size_t		 ulen;		/* 0: no usable URL */
	struct cache_key key;		/* primary */
	/* the hit being sent */
	struct cache_key hkey;		/* where the object was found */
	uint64_t	 body_off, body_size;	/* what is sent: [body_off, body_size) */
	int64_t		 obj_rt;	/* identity of the object: response_time */
	uint64_t	 obj_size;	/* ... and its size (a range sends less) */
	int		 fd;		/* body file, -1 */
	bool		 inline_body;
	const char	*body_p;	/* inline body in the map, while rd is active */
	/* the miss being stored */
	bool		 storing;
	bool		 to_file;
	bool		 varies;
	struct cache_key vkey;		/* variant key when varies */
	struct cache_body body;
	uint64_t	 got;
	size_t		 blen;
	char		*buf;		/* inline_max bytes */
	char		*head;		/* stored header block, head_cap bytes */
	size_t		 hlen;
	struct cache_obj obj;
	char		 vary[CP_VARY_MAX];
	size_t		 vlen;
	char		 vraw[CP_VARY_MAX];	/* the Vary lines, combined */
	size_t		 vrawlen;
	bool		 vraw_over;
	/* a stale object being revalidated (RFC 9111 §4.3): what 304 keeps */
	bool		 revalidating;
	bool		 stale;		/* old*, buf or fd: the stale object, kept */
	bool		 body_copy;	/* the hit's inline body is buf, not the map */
	char		*old;		/* its header block, head_cap bytes */
	size_t		 oldlen;
	char		*upd;		/* the 304's fields, head_cap bytes */
	struct cache_resp old_resp;
	uint64_t	 old_size;
	bool		 old_file;
	/* collapsed forwarding (cache_collapse.h) */
	int		 co_h;		/* our published entry while we fetch, -1 */
	enum cp_co	 co_wait;	/* parked in PX_CACHE until it ends */
	struct ev_timer	 co_timer;	/* the next look */
	int64_t		 co_until;	/* loop ms: then fetch ourselves */
	int64_t		 co_delay;	/* ms, backing off */
	/* read-while-writer (cache_rww.h): the fetcher publishes its body file ... */
	bool		 rww_tried;	/* ... or tried to */
	bool		 rww_pub;	/* ... and waiters may be reading it */
	/* ... a waiter streams it */
	struct cache_rww rw;
	bool		 rww_no;	/* not for this request: wait for the stored object */
	size_t		 reqlen;	/* the request head for the origin, kept in upd */
	bool		 req_ka;	/* ... and keep_alive as it was */
};

struct cache_proxy {
	struct cache_store cs;
	char		 path[PATH_MAX];
	struct cache_conn *cc;
	char		*mem;
	size_t		 head_cap;
	struct cache_bg	*bg;		/* stale-while-revalidate (cache_bg.h) */
	struct collapse	 co;		/* our slot's table of fetched keys */
	struct cache_pass pass;		/* keys that were not stored: no collapsing */
};

static struct cache_proxy *
cp_of(const struct conn *c)
{
	return c->t->cache;
}

static struct cache_store *
store_of(const struct conn *c)
{
	return &cp_of(c)->cs;
}

static int64_t
now_sec(const struct conn *c)
{
	return (int64_t)c->t->loop->now_sec;
}

static ev_timer_cb co_poll;

/* ------------------------------------------------------------ set-up */

int
cache_proxy_init(struct conn_table *t)
{
	struct cache_store_conf scf;
	struct cache_proxy *cp;
	size_t per;
	int rc;

	if ((cp = calloc(1, sizeof(*cp))) == NULL)
		return VD_ERR;
	rc = cache_store_conf_init(&scf, t->conf, cp->path, sizeof(cp->path));
	if (rc != VD_OK) {
		if (rc == VD_ERR)
			log_warnx("cache: cache path too long, serving without a cache");
		free(cp);
		return rc;
	}
	if (cache_store_open(&cp->cs, &scf) != VD_OK) {
		log_warnx("cache: cannot open the store at %s, serving without a cache", cp->path);
		free(cp);
		return VD_ERR;
	}
	cp->head_cap = (size_t)t->conf->max_header_size;
	per = cp->cs.inline_max + 3 * cp->head_cap;
	cp->cc = calloc(t->n, sizeof(*cp->cc));
	/* untouched pages cost nothing until a connection stores something */
	cp->mem = calloc(t->n, per);
	if (cp->cc == NULL || cp->mem == NULL) {
		log_warnx("cache: out of memory, serving without a cache");
		cache_store_close(&cp->cs);
		free(cp->cc);
		free(cp->mem);
		free(cp);
		return VD_ERR;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct cache_conn *cc = &cp->cc[i];

		cc->fd = -1;
		cc->body.fd = -1;
		cc->body.hfd = -1;
		cache_rww_init(&cc->rw);
		cc->buf = cp->mem + i * per;
		cc->head = cc->buf + cp->cs.inline_max;
		cc->old = cc->head + cp->head_cap;
		cc->upd = cc->old + cp->head_cap;
		cc->result = AL_NONE;
		cc->co_h = -1;
		ev_timer_init(&cc->co_timer, co_poll, &t->conns[i]);
		t->conns[i].cache = cc;
	}
	t->cache = cp;
	if ((cp->bg = cache_bg_create(t)) == NULL)
		log_warnx("cache: no background revalidation (out of memory)");
	/* off (every miss fetches) when the segment cannot be found */
	if (collapse_attach(&cp->co, vd.stats, t->conf->run_dir) != VD_OK)
		log_warnx("cache: collapsed forwarding off: no stats slot of ours");
	log_info("cache: store %s open", cp->path);
	return VD_OK;
}

void
cache_proxy_free(struct conn_table *t)
{
	struct cache_proxy *cp = t->cache;

	if (cp == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		cache_reader_free(&cp->cc[i].rd);
		cache_rww_close(&cp->cc[i].rw);
		t->conns[i].cache = NULL;
	}
	cache_bg_free(cp->bg);
	cache_store_close(&cp->cs);
	free(cp->cc);
	free(cp->mem);
	free(cp);
	t->cache = NULL;
}

/* ------------------------------------------------------------ the request */

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
	bool have_cc = false, pragma = false;

	cache_cc_init(&cc->rq);
	cc->auth = false;
	for (int i = 0; i < r->nfields; i++) {
		struct http_field *f = &r->fields[i];

		if (http_str_ieq(f->name, "cache-control")) {
			cache_cc_parse(&cc->rq, f->value.p, f->value.len);
			have_cc = true;
		} else if (http_str_ieq(f->name, "pragma")) {
			pragma = pragma || memmem(f->value.p, f->value.len, "no-cache", 8) != NULL;
		} else if (http_str_ieq(f->name, "authorization")) {
			cc->auth = true;
		}
	}
	if (!have_cc && pragma)
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

static struct vd_str
req_field(const struct http_req *r, const char *name)
{
	int i = http_field_find(r->fields, r->nfields, name, 0);

	return i >= 0 ? r->fields[i].value : (struct vd_str){ NULL, 0 };
}

/* The end of a hit's head: our connection fields and the blank line. */
static int
head_end(struct conn *c)
{
	struct http_out *out = &c->out;

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
	return head_end(c);
}

/* The start of a head from the cache into c->out: stored fields, Age, Via. */
static void
hit_fields(struct conn *c, const struct cache_obj *o, int status, int64_t now)
{
	struct http_out *out = &c->out;
	int64_t age = cache_current_age(&o->resp, now);

	status_line(out, status);
	http_out_add(out, o->head.p, o->head.len);
	/* RFC 9111 §5.1: Age on every response from the cache */
	http_out_str(out, "Age: ");
	http_out_uint(out, (uint64_t)(age < 0 ? 0 : age));
	http_out_str(out, "\r\nVia: 1.1 ");
	http_out_str(out, c->t->via);
	http_out_str(out, "\r\n");
}

/*
 * The head of a hit into c->out: stored fields, Age, Via, framing.  A 206
 * carries bytes [first, first + count) of the object (RFC 9110 §14.4).
 */
static int
hit_head(struct conn *c, const struct cache_obj *o, int status, int64_t now, uint64_t first,
    uint64_t count)
{
	struct http_out *out = &c->out;

	if (status == 416)
		return hit_416(c, o, now);
	hit_fields(c, o, status, now);
	if (status == 206) {
		http_out_str(out, "Content-Range: bytes ");
		http_out_uint(out, first);
		http_out_str(out, "-");
		http_out_uint(out, first + count - 1);
		http_out_str(out, "/");
		http_out_uint(out, o->body_size);
		http_out_str(out, "\r\n");
	}
	if (status != 304) {
		http_out_str(out, "Content-Length: ");
		http_out_uint(out, status == 206 ? count : o->body_size);
		http_out_str(out, "\r\n");
	}
	return head_end(c);
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
	struct vd_str ir = req_field(r, "if-range");

	*first = 0;
	*count = o->body_size;
	if (i < 0 || !http_str_ieq(r->method, "GET") ||
	    http_field_find(r->fields, r->nfields, "range", i + 1) >= 0)
		return 200;
	if (ir.p != NULL && !cache_if_range_ok(ir.p, ir.len, &o->etag, o->resp.last_modified,
	    o->resp.date, now))
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

/* Look the key up, following a Vary marker.  As cache_store_lookup(). */
static int
lookup(struct conn *c, struct cache_conn *cc, struct cache_obj *o)
{
	struct http_req *r = &c->req;
	int rc;

	if (cc->rd.txn == NULL && cache_reader_init(store_of(c), &cc->rd) != VD_OK)
		return VD_AGAIN;
	rc = cache_store_lookup(&cc->rd, &cc->key, cc->url, cc->ulen, o);
	cc->hkey = cc->key;
	if (rc != VD_OK || !(o->flags & CACHE_OBJ_VARY))
		return rc;
	if (o->flags & CACHE_OBJ_VARY_STAR)
		return VD_DECLINED;
	cache_key_variant(cc->url, cc->ulen, o->vary.p, o->vary.len, r->fields, r->nfields,
	    &cc->hkey);
	return cache_store_lookup(&cc->rd, &cc->hkey, cc->url, cc->ulen, o);
}

/* A usable object: set the hit up.  VD_OK, or VD_DECLINED (go upstream). */
static int
start_hit(struct conn *c, struct cache_conn *cc, const struct cache_obj *o, int64_t now)
{
	struct vd_str inm = req_field(&c->req, "if-none-match");
	struct vd_str ims = req_field(&c->req, "if-modified-since");
	int status = o->resp.status;
	uint64_t first = 0, count = o->body_size;

	cc->fd = -1;
	cc->inline_body = false;
	/* c->out still holds the request head for the origin: keep it intact
	 * unless the hit's head surely fits (status line, Age, Via, framing) */
	if (o->head.len + strlen(c->t->via) + 250 > c->out.cap)
		return VD_DECLINED;
	if (status == 200 && (inm.len > 0 || ims.len > 0))
		status = cache_client_conditional(&inm, &ims, &o->etag, &o->resp, now);
	if (status == 200)
		status = hit_range(c, o, now, &first, &count);
	if (status != 304 && status != 416 && !c->head_method && count > 0) {
		if (o->flags & CACHE_OBJ_BODY_FILE) {
			/* the file stays readable even if it is replaced meanwhile */
			if ((cc->fd = cache_store_body_open(store_of(c), o)) == -1)
				return VD_DECLINED;
		} else {
			cc->inline_body = true;
			cc->body_p = o->body.p;
		}
	}
	VD_ASSERT(hit_head(c, o, status, now, first, count) == VD_OK);
	cc->body_off = first;
	cc->body_size = cc->fd >= 0 || cc->inline_body ? first + count : 0;
	cc->obj_rt = o->resp.response_time;
	cc->obj_size = o->body_size;
	cc->hit = true;
	cc->result = status == 304 ? AL_TCP_IMS_HIT : AL_TCP_HIT;
	c->status = status;
	c->resp.status = 0;		/* nothing came from an origin */
	c->resp.nfields = 0;
	CP_CLIENT_INC(c, lookups_successes);
	CP_CLIENT_INC(c, hits);
	cache_dscp_hit(c);
	c->state = PX_CACHE;
	conn_timer(c, c->t->conf->idle_timeout);
	return VD_OK;
}

/*
 * Keep what answering from the stale object later needs — a 304's merge
 * (RFC 9111 §4.3.4) or an origin that fails (RFC 5861 §4) — since the read
 * txn ends before the origin answers: its header block, its times, a copy
 * of an inline body or the open body file.  VD_OK, or VD_DECLINED.
 */
static int
keep_stale(struct conn *c, struct cache_conn *cc, const struct cache_obj *o)
{
	struct cache_proxy *cp = c->t->cache;
	bool file = (o->flags & CACHE_OBJ_BODY_FILE) != 0;

	if (o->head.len > cp->head_cap || o->vary.len > sizeof(cc->vary) ||
	    (!file && o->body_size > cp->cs.inline_max))
		return VD_DECLINED;
	if (file && (cc->fd = cache_store_body_open(store_of(c), o)) == -1)
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

/* A stale object goes upstream: kept, and asked for conditionally when it
 * can be.  VD_OK, or VD_DECLINED (a plain refetch). */
static int
revalidate_prepare(struct conn *c, struct cache_conn *cc, const struct cache_obj *o)
{
	if (keep_stale(c, cc, o) != VD_OK)
		return VD_DECLINED;
	return add_validators(c, cc, o);
}

/* ------------------------------------------------------------ collapsed forwarding */

#define CP_CO_FIRST_MS	2	/* a waiter's first look again */
#define CP_CO_MAX_MS	50	/* backing off to this */

static struct collapse *
co_of(const struct conn *c)
{
	return &((struct cache_proxy *)c->t->cache)->co;
}

/* May this miss wait for another request's fetch?  A GET the cache may
 * answer from a shared object (the lookup would serve it). */
static bool
co_may_wait(const struct cache_conn *cc)
{
	return cc->cacheable && !cc->auth &&
	    !(cc->rq.flags & (CACHE_CC_NO_CACHE | CACHE_CC_NO_STORE));
}

/* May others wait for this miss's fetch?  Only if its response can be the
 * stored object: not HEAD (no body), no conditionals (a 304 stores
 * nothing), no Range (206). */
static bool
co_may_fetch(const struct conn *c)
{
	static const char *const f[] = { "if-none-match", "if-modified-since", "range" };
	const struct http_req *r = &c->req;

	if (c->head_method)
		return false;
	for (size_t i = 0; i < VD_ARRLEN(f); i++)
		if (http_field_find(r->fields, r->nfields, f[i], 0) >= 0)
			return false;
	return true;
}

/* Park the request in PX_CACHE until co_poll() decides.  VD_OK, VD_ERR. */
static int
co_park(struct conn *c, struct cache_conn *cc, enum cp_co how)
{
	struct ev_loop *l = c->t->loop;

	cc->co_delay = how == CP_CO_DEFER ? 1 : CP_CO_FIRST_MS;
	if (ev_timer_start(l, &cc->co_timer, cc->co_delay) == -1)
		return VD_ERR;
	if (how == CP_CO_WAIT)
		STATS_INC(collapsed_waits, 1);
	cc->co_wait = how;
	/* the bound: as long as a fetch may take to answer */
	cc->co_until = l->now_ms + c->t->conf->response_timeout;
	c->state = PX_CACHE;
	conn_timer(c, c->t->conf->response_timeout + c->t->conf->idle_timeout);
	return VD_OK;
}

/* A miss (the read txn is reset): VD_OK parked, VD_DECLINED go upstream,
 * as the fetcher others wait for when cc->co_h >= 0. */
static int
co_start(struct conn *c, struct cache_conn *cc)
{
	int rc;

	cc->co_h = -1;
	cc->rww_no = false;
	if (!co_may_wait(cc) ||
	    cache_pass_has(&cp_of(c)->pass, &cc->key, c->t->loop->now_ms))
		return VD_DECLINED;
	if (!co_may_fetch(c))
		rc = collapse_busy(co_of(c), &cc->key) ? VD_AGAIN : VD_ERR;
	else
		rc = collapse_claim(co_of(c), &cc->key, &cc->co_h);
	if (rc == VD_OK || rc == VD_ERR)
		return VD_DECLINED;
	if (co_park(c, cc, rc == VD_AGAIN ? CP_CO_WAIT : CP_CO_DEFER) == VD_OK)
		return VD_OK;
	collapse_release(co_of(c), cc->co_h);
	cc->co_h = -1;
	return VD_DECLINED;
}

/* The fetch we waited for is stored: serve it as a hit.  true if so. */
static bool
co_hit(struct conn *c, struct cache_conn *cc)
{
	struct cache_obj o;
	int64_t now = now_sec(c);
	bool ok = false;

	if (lookup(c, cc, &o) == VD_OK) {
		switch (cache_serve(&o.resp, &cc->rq, now, c->t->conf->max_fresh_time,
		    c->t->conf->always_from_cache)) {
		case CACHE_SERVE_FRESH:
		case CACHE_SERVE_STALE_OK:
		case CACHE_SERVE_STALE_REVALIDATE:
			ok = start_hit(c, cc, &o, now) == VD_OK;
			break;
		default:
			break;
		}
	}
	if (!ok || !cc->inline_body)
		cache_reader_reset(&cc->rd);
	return ok;
}

/* The wait is over: answered from the cache, or the origin after all. */
static void
co_resume(struct conn *c, struct cache_conn *cc, bool hit)
{
	cc->co_wait = CP_CO_NONE;
	if (!hit) {
		proxy_upstream(c);
		return;
	}
	STATS_INC(collapsed_hits, 1);
	if (!c->running)
		proxy_run(c);
}

/* The next look's delay: doubled, up to CP_CO_MAX_MS. */
static int64_t
co_backoff(struct cache_conn *cc)
{
	cc->co_delay = cc->co_delay * 2 > CP_CO_MAX_MS ? CP_CO_MAX_MS : cc->co_delay * 2;
	return cc->co_delay;
}

/* ------------------------------------------------------------ read-while-writer */

#define CP_RWW_MAX_MS	10	/* a stream that caught up looks again at least this often */

/* Is the object being written what this request would be served from the
 * cache (the URL, the variant its own fields select, fresh enough)? */
static bool
rww_fits(struct conn *c, struct cache_conn *cc, const struct cache_rww_head *h, int64_t now)
{
	const struct cache_obj *o = &h->obj;
	struct cache_key k = cc->key;

	if (o->url.len != cc->ulen || memcmp(o->url.p, cc->url, cc->ulen) != 0 ||
	    o->resp.vary_star || o->head.len + strlen(c->t->via) + 250 > c->out.cap)
		return false;
	if (o->vary.len > 0)
		cache_key_variant(cc->url, cc->ulen, o->vary.p, o->vary.len, c->req.fields,
		    c->req.nfields, &k);
	if (memcmp(k.b, h->key.b, sizeof(k.b)) != 0)
		return false;
	switch (cache_serve(&o->resp, &cc->rq, now, c->t->conf->max_fresh_time,
	    c->t->conf->always_from_cache)) {
	case CACHE_SERVE_FRESH:
	case CACHE_SERVE_STALE_OK:
	case CACHE_SERVE_STALE_REVALIDATE:
		return true;
	default:
		return false;
	}
}

/* The head of a streamed response into c->out: as a hit's, framed by the
 * origin's Content-Length, else chunked (1.1) or by closing (1.0). */
static int
rww_head(struct conn *c, const struct cache_obj *o, int status, int64_t now, uint64_t length,
    struct cache_rww *r)
{
	struct http_out *out = &c->out;

	hit_fields(c, o, status, now);
	r->length = CACHE_RWW_UNKNOWN;
	r->chunked = false;
	if (status != 304 && length != CACHE_RWW_UNKNOWN) {
		http_out_str(out, "Content-Length: ");
		http_out_uint(out, length);
		http_out_str(out, "\r\n");
		r->length = length;
	} else if (status != 304 && !c->head_method) {
		if (c->req.version == 11) {
			http_out_str(out, "Transfer-Encoding: chunked\r\n");
			r->chunked = true;
		} else {
			c->keep_alive = false;
		}
	}
	return head_end(c);
}

/* Open what the fetch in *w writes and set the response up (the head in
 * c->out).  VD_OK streaming; VD_AGAIN its files are gone (it ended: the
 * next look tells how); VD_DECLINED not for this request. */
static int
rww_start(struct conn *c, struct cache_conn *cc, const struct collapse_watch *w)
{
	struct cache_store *cs = store_of(c);
	struct vd_str inm = req_field(&c->req, "if-none-match");
	struct vd_str ims = req_field(&c->req, "if-modified-since");
	struct cache_rww *r = &cc->rw;
	struct cache_rww_head h;
	int64_t now = now_sec(c);
	ssize_t n;
	int status;

	cache_rww_close(r);
	r->w = *w;
	if ((r->fd = cache_body_tmp_open(cs, w->pid, w->file, false)) == -1 ||
	    (r->hfd = cache_body_tmp_open(cs, w->pid, w->file, true)) == -1) {
		cache_rww_close(r);
		return VD_AGAIN;
	}
	n = pread(r->hfd, cc->buf, cs->inline_max, 0);	/* a waiter stores nothing */
	if (n <= 0 || (size_t)n >= cs->inline_max ||
	    cache_rww_head_decode((const uint8_t *)cc->buf, (size_t)n, &h) != VD_OK ||
	    !rww_fits(c, cc, &h, now)) {
		cache_rww_close(r);
		cc->rww_no = true;
		return VD_DECLINED;
	}
	status = h.obj.resp.status;
	if (status == 200 && (inm.len > 0 || ims.len > 0))
		status = cache_client_conditional(&inm, &ims, &h.obj.etag, &h.obj.resp, now);
	/* c->out holds the request for the origin: kept for a fetch that
	 * fails before a byte of ours goes */
	cc->reqlen = c->out.len <= cp_of(c)->head_cap ? c->out.len : 0;
	memcpy(cc->upd, c->out.p, cc->reqlen);
	cc->req_ka = c->keep_alive;
	VD_ASSERT(rww_head(c, &h.obj, status, now, h.length, r) == VD_OK);
	r->on = true;
	r->end = status == 304 || c->head_method;
	cc->hit = true;			/* answered without a fetch of its own */
	cc->result = AL_TCP_MISS;	/* Squid: TCP_CF_MISS, the object was not in the cache */
	c->status = status;
	c->resp.status = 0;
	c->resp.nfields = 0;
	return VD_OK;
}

/* A waiter whose key is fetched: stream the body if it is being written
 * to a file.  true: streaming now. */
static bool
rww_try(struct conn *c, struct cache_conn *cc)
{
	struct collapse_watch w;

	if (cc->rww_no || http_field_find(c->req.fields, c->req.nfields, "range", 0) >= 0 ||
	    collapse_find(co_of(c), &cc->key, &w) != VD_OK || rww_start(c, cc, &w) != VD_OK)
		return false;
	log_debug("cache: streaming %.*s while it is written", (int)cc->ulen, cc->url);
	cache_dscp_other(c);		/* a miss, not a hit (cache-hit-dscp) */
	cc->co_wait = CP_CO_NONE;
	cc->co_delay = 1;
	STATS_INC(collapsed_hits, 1);
	conn_timer(c, c->t->conf->idle_timeout);
	if (!c->running)
		proxy_run(c);
	return true;
}

/* The fetch failed before a byte of ours went: to the origin ourselves,
 * from the loop (proxy_run is under us).  VD_AGAIN, or VD_ERR. */
static int
rww_to_origin(struct conn *c, struct cache_conn *cc)
{
	cache_rww_close(&cc->rw);
	memcpy(c->out.p, cc->upd, cc->reqlen);
	c->out.len = cc->reqlen;
	c->out.overflow = false;
	c->out_off = 0;
	c->keep_alive = cc->req_ka;
	c->status = 0;
	cc->reqlen = 0;
	cc->hit = false;
	cc->result = AL_NONE;
	cc->rww_no = true;
	cc->co_wait = CP_CO_ORIGIN;
	return ev_timer_start(c->t->loop, &cc->co_timer, 0) == 0 ? VD_AGAIN : VD_ERR;
}

/* PX_CACHE while streaming: as cache_proxy_send(). */
static int
rww_send(struct conn *c, struct cache_conn *cc)
{
	uint64_t out = 0;
	int rc = cache_rww_send(c, &cc->rw, co_of(c), &out);

	STATS_INC(sent_to_clients, out);
	c->sent += out;
	if (out > 0) {
		c->resp_started = true;
		conn_timer(c, c->t->conf->idle_timeout);
	}
	if (rc == VD_AGAIN && c->cl.wr) {
		/* caught up with the writer: look again soon, later if it is slow */
		cc->co_delay = out > 0 ? 1 : cc->co_delay * 2 > CP_RWW_MAX_MS ? CP_RWW_MAX_MS :
		    cc->co_delay * 2;
		if (ev_timer_start(c->t->loop, &cc->co_timer, cc->co_delay) == -1)
			return VD_ERR;
		return VD_AGAIN;
	}
	if (rc == VD_DECLINED && !c->resp_started && cc->reqlen > 0)
		return rww_to_origin(c, cc);
	if (rc == VD_DECLINED)
		log_info("%s: the fetch of %.*s ended early: response cut", c->peer,
		    (int)(cc->ulen > 200 ? 200 : cc->ulen), cc->url);
	return rc == VD_DECLINED ? VD_ERR : rc;
}

/* The fetcher: waiters may read its body as it is written.  The head file
 * first, then the entry says so.  Nothing when the head does not fit. */
static void
rww_publish(struct conn *c, struct cache_conn *cc)
{
	struct cache_store *cs = store_of(c);
	struct cache_obj o = cc->obj;
	uint64_t len = c->body.fr.kind == HTTP_BODY_LENGTH ? c->body.fr.length :
	    CACHE_RWW_UNKNOWN;
	size_t n;

	cc->rww_tried = true;
	o.flags |= CACHE_OBJ_BODY_FILE;
	o.body_file = cc->body.id;
	o.body_size = len == CACHE_RWW_UNKNOWN ? 0 : len;
	o.body = (struct vd_str){ NULL, 0 };
	n = cache_rww_head_size(&o);
	/* cc->buf is free: what it held is in the file */
	if (cc->co_h < 0 || n >= cs->inline_max || cache_body_head_create(&cc->body) != VD_OK)
		return;
	cache_rww_head_encode(&o, cc->varies ? &cc->vkey : &cc->key, len, (uint8_t *)cc->buf);
	if (cache_rww_write_head(cc->body.hfd, (const uint8_t *)cc->buf, n) != VD_OK)
		return;
	collapse_stream(co_of(c), cc->co_h, cc->body.id, cc->got);
	cc->rww_pub = true;
}

/* The fetcher wrote more of the body file. */
static void
rww_progress(struct conn *c, struct cache_conn *cc)
{
	if (cc->rww_pub)
		collapse_progress(co_of(c), cc->co_h, cc->got);
	else if (!cc->rww_tried && cc->co_h >= 0)
		rww_publish(c, cc);
}

/* The fetcher's body is complete: the head file says so before the entry
 * does, and both before the commit renames the file and releases the key. */
static void
rww_complete(struct conn *c, struct cache_conn *cc)
{
	if (cc->rww_pub && cc->to_file && cache_rww_write_end(cc->body.hfd, cc->got) == VD_OK)
		collapse_complete(co_of(c), cc->co_h, cc->got);
}

/* The fetch will not be stored after all: waiters stop waiting now. */
static void
co_unpublish(struct conn *c, struct cache_conn *cc)
{
	if (cc->co_h >= 0)
		collapse_release(co_of(c), cc->co_h);
	cc->co_h = -1;
	cc->rww_pub = false;
}

static void
co_poll(struct ev_loop *l, struct ev_timer *t)
{
	struct conn *c = t->data;
	struct cache_conn *cc = c->cache;
	bool busy;
	int rc;

	if (cc->rw.on) {		/* streaming: more may be written now */
		if (!c->running)
			proxy_run(c);
		return;
	}
	if (cc->co_wait == CP_CO_ORIGIN) {
		co_resume(c, cc, false);
		return;
	}
	if (cc->co_wait == CP_CO_DEFER) {
		rc = collapse_recheck(co_of(c), cc->co_h);
		if (rc == VD_DECLINED && l->now_ms < cc->co_until &&
		    ev_timer_start(l, t, co_backoff(cc)) == 0)
			return;
		if (rc != VD_AGAIN) {
			/* ours to fetch; or undecided for too long: fetch, unpublished */
			if (rc != VD_OK) {
				collapse_release(co_of(c), cc->co_h);
				cc->co_h = -1;
			}
			co_resume(c, cc, false);
			return;
		}
		cc->co_h = -1;
		cc->co_wait = CP_CO_WAIT;
		cc->co_delay = CP_CO_FIRST_MS;
		STATS_INC(collapsed_waits, 1);
	}
	/* before the lookup: an owner commits, then withdraws its key */
	busy = collapse_busy(co_of(c), &cc->key);
	if (co_hit(c, cc)) {
		co_resume(c, cc, true);
		return;
	}
	if (!busy || l->now_ms >= cc->co_until) {
		co_resume(c, cc, false);
		return;
	}
	if (rww_try(c, cc))
		return;
	if (ev_timer_start(l, t, co_backoff(cc)) == -1)
		co_resume(c, cc, false);
}

/* The request ended (or never started waiting): nothing stays published. */
static void
co_end(struct conn *c, struct cache_conn *cc)
{
	ev_timer_stop(c->t->loop, &cc->co_timer);
	cc->co_wait = CP_CO_NONE;
	if (cc->co_h >= 0)
		collapse_release(co_of(c), cc->co_h);
	cc->co_h = -1;
}

static int
request_lookup(struct conn *c)
{
	struct cache_conn *cc = c->cache;
	struct http_req *r = &c->req;
	struct cache_obj o;
	enum cache_serve serve;
	int64_t now;
	int rc;

	if (cc == NULL)
		return VD_DECLINED;
	now = now_sec(c);
	cc->req_time = now;
	cc->hit = cc->storing = false;
	cc->result = AL_NONE;
	request_url(c, cc);
	if (cc->ulen > 0)
		cache_key_primary(cc->url, cc->ulen, &cc->key);
	cc->cacheable = cc->ulen > 0 && (http_str_ieq(r->method, "GET") || c->head_method) &&
	    c->req_fr.kind == HTTP_BODY_NONE && !c->upgrade && !cache_skips(r);
	if (!cc->cacheable)
		return VD_DECLINED;
	if (!rules_conn_cache_allowed(c)) {	/* /ip proxy cache */
		CP_CLIENT_INC(c, lookups_non_cacheable);
		cc->cacheable = false;
		return VD_DECLINED;
	}
	request_directives(c, cc);
	rc = lookup(c, cc, &o);
	if (rc == VD_OK) {
		serve = cache_serve(&o.resp, &cc->rq, now, c->t->conf->max_fresh_time,
		    c->t->conf->always_from_cache);
		if (serve == CACHE_SERVE_STALE_REVALIDATE && c->internal)
			serve = CACHE_SERVE_REVALIDATE;	/* it is the background request */
		switch (serve) {
		case CACHE_SERVE_FRESH:
		case CACHE_SERVE_STALE_OK:
		case CACHE_SERVE_STALE_REVALIDATE:
			if (start_hit(c, cc, &o, now) == VD_OK) {
				/* RFC 5861 §3: stale now, and one revalidation behind */
				if (serve == CACHE_SERVE_STALE_REVALIDATE)
					(void)cache_bg_start(c->t->cache->bg, c, &cc->hkey);
				if (!cc->inline_body)
					cache_reader_reset(&cc->rd);
				return VD_OK;
			}
			break;
		case CACHE_SERVE_REVALIDATE:
			/* a conditional request when it has validators, else a
			 * plain refetch; either way a 200 replaces the object */
			CP_CLIENT_INC(c, lookups_expired);
			cc->result = (cc->rq.flags & CACHE_CC_NO_CACHE) ?
			    AL_TCP_CLIENT_REFRESH_MISS : AL_TCP_REFRESH_MODIFIED;
			(void)revalidate_prepare(c, cc, &o);
			break;
		case CACHE_SERVE_GATEWAY_TIMEOUT:
			rc = VD_DECLINED;
			break;
		}
	} else {
		CP_CLIENT_INC(c, lookups_not_found);
	}
	cache_reader_reset(&cc->rd);
	if ((cc->rq.flags & CACHE_CC_ONLY_IF_CACHED) && cc->result == AL_NONE) {
		/* RFC 9111 §5.2.1.7 */
		cc->result = AL_TCP_MISS;
		cc->cacheable = false;
		c->resp.status = 0;
		proxy_error(c, 504, "only-if-cached: not in the cache");
		return VD_OK;
	}
	if (rc != VD_OK && co_start(c, cc) == VD_OK)
		return VD_OK;		/* collapsed: another request fetches it */
	return VD_DECLINED;
}

int
cache_proxy_request(struct conn *c)
{
	return c->cache == NULL ? VD_DECLINED : request_lookup(c);
}

/* ------------------------------------------------------------ the hit */

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
cache_proxy_send(struct conn *c)
{
	struct cache_conn *cc = c->cache;
	uint64_t out = 0;
	int rc = VD_OK;

	if (cc->co_wait != CP_CO_NONE)
		return VD_AGAIN;	/* parked: co_poll() resumes it */
	if (cc->rw.on)
		return rww_send(c, cc);
	if (cc->inline_body && !cc->body_copy && cc->body_off < cc->body_size &&
	    !cc->rd.active)
		rc = relookup(cc);
	if (rc == VD_OK)
		rc = send_inline(c, cc, &out);
	if (rc == VD_OK)
		rc = send_file(c, cc, &out);
	/* never hold the read txn across a callback (STYLE pitfall 5) */
	cache_reader_reset(&cc->rd);
	STATS_INC(sent_to_clients, out);
	STATS_INC(hits_sent_to_clients, out);
	c->sent += out;
	if (out > 0) {
		c->resp_started = true;
		conn_timer(c, c->t->conf->idle_timeout);
	}
	return rc == VD_OK ? VD_DONE : rc;
}

/* ------------------------------------------------------------ the miss */

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
	rc = cache_store_delete(store_of(c), &cc->key);
	log_debug("cache: %.*s invalidates %.*s: %d", (int)c->req.method.len, c->req.method.p,
	    (int)cc->ulen, cc->url, rc);
	for (size_t i = 0; i < VD_ARRLEN(loc); i++) {
		int f = http_field_find(rs->fields, rs->nfields, loc[i], 0);

		if (f < 0 || cache_key_same_origin(cc->url, cc->ulen, rs->fields[f].value.p,
		    rs->fields[f].value.len, u, sizeof(u), &ul) != VD_OK)
			continue;
		cache_key_primary(u, ul, &k);
		(void)cache_store_delete(store_of(c), &k);
	}
}

static void
add_line(struct cache_conn *cc, size_t cap, const struct http_field *f, struct vd_str *val,
    bool *overflow)
{
	size_t need = f->name.len + 2 + f->value.len + 2;

	if (cc->hlen + need > cap) {
		*overflow = true;
		return;
	}
	memcpy(cc->head + cc->hlen, f->name.p, f->name.len);
	memcpy(cc->head + cc->hlen + f->name.len, ": ", 2);
	memcpy(cc->head + cc->hlen + f->name.len + 2, f->value.p, f->value.len);
	if (val != NULL)
		*val = (struct vd_str){ cc->head + cc->hlen + f->name.len + 2, f->value.len };
	memcpy(cc->head + cc->hlen + need - 2, "\r\n", 2);
	cc->hlen += need;
}

/* One response field into the metadata (RFC 9111 §4.2: the times and
 * directives freshness is computed from).  *val: where ETag /
 * Last-Modified values go (NULL for other fields). */
static void
note_field(struct cache_conn *cc, struct cache_obj *o, struct vd_str name, struct vd_str v,
    int64_t now, struct vd_str **val)
{
	*val = NULL;
	if (http_str_ieq(name, "cache-control")) {
		cache_cc_parse(&o->resp.cc, v.p, v.len);
	} else if (http_str_ieq(name, "date")) {
		o->resp.date = cache_http_date_parse(v.p, v.len, now);
	} else if (http_str_ieq(name, "expires")) {
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

/* §5.1: Age from its first line only; a 304's own Age for a refresh. */
static void
note_age(struct cache_obj *o, const struct http_field *f, int n)
{
	int i = http_field_find(f, n, "age", 0);

	o->resp.age_value = i < 0 ? 0 : cache_age_parse(f[i].value.p, f[i].value.len);
}

/*
 * On a reverse port we are the origin's own surrogate: its Surrogate-Control
 * speaks to us (cache_policy.h).  A forward or transparent proxy is nobody's
 * surrogate and leaves the field alone.
 */
static void
note_surrogate(const struct conn *c, struct cache_cc *sc, bool *has, struct vd_str name,
    struct vd_str v)
{
	if (c->mode != ROUTER_REVERSE || !http_str_ieq(name, "surrogate-control"))
		return;
	cache_cc_parse(sc, v.p, v.len);
	*has = true;
}

static void
obj_init(struct cache_obj *o, int status, int64_t req_time, int64_t now)
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

	obj_init(o, rs->status, cc->req_time, now);
	cache_cc_init(&sc);
	cc->hlen = cc->vlen = cc->vrawlen = 0;
	cc->varies = cc->vraw_over = false;
	for (int i = 0; i < rs->nfields; i++) {
		note_field(cc, o, rs->fields[i].name, rs->fields[i].value, now, &val);
		note_surrogate(c, &sc, &has_sc, rs->fields[i].name, rs->fields[i].value);
	}
	note_age(o, rs->fields, rs->nfields);
	if (has_sc)
		cache_surrogate_apply(&o->resp, &sc);
	if (cc->varies)
		vary_names(cc, o);
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
	size_t cap = c->t->cache->head_cap;
	bool overflow = false;

	for (int i = 0; i < rs->nfields; i++) {
		const struct http_field *f = &rs->fields[i];
		struct vd_str *val = http_str_ieq(f->name, "etag") ? &o->etag :
		    http_str_ieq(f->name, "last-modified") ? &o->last_modified : NULL;

		if (!cache_field_storable(f->name.p, f->name.len) ||
		    http_str_ieq(f->name, "content-length") ||
		    http_is_hop(rs->fields, rs->nfields, f->name))
			continue;
		add_line(cc, cap, f, val, &overflow);
	}
	o->head = (struct vd_str){ cc->head, cc->hlen };
	o->url = (struct vd_str){ cc->url, cc->ulen };
	return overflow ? VD_ERR : VD_OK;
}

/* relay.c's tap: body bytes as they stream to the client. */
static void
tap(void *arg, const char *p, size_t n)
{
	struct conn *c = arg;
	struct cache_conn *cc = c->cache;
	struct cache_store *cs = store_of(c);
	int64_t max = c->t->conf->max_cache_object_size;

	if (!cc->storing)
		return;
	if (max > 0 && cc->got + n > (uint64_t)max) {
		STATS_INC(inserts_too_large, 1);
		goto drop;
	}
	cc->got += n;
	if (!cc->to_file && cc->blen + n <= cs->inline_max) {
		memcpy(cc->buf + cc->blen, p, n);
		cc->blen += n;
		return;
	}
	if (!cc->to_file) {
		if (cache_body_begin(cs, &cc->body) != VD_OK) {
			STATS_INC(inserts_errors, 1);
			cc->storing = false;
			co_unpublish(c, cc);
			return;
		}
		cc->to_file = true;
		if (cache_body_write(&cc->body, cc->buf, cc->blen) != VD_OK)
			goto fail;
	}
	if (cache_body_write(&cc->body, p, n) == VD_OK) {
		rww_progress(c, cc);
		return;
	}
fail:
	STATS_INC(inserts_errors, 1);
drop:
	if (cc->to_file)
		cache_body_abort(cs, &cc->body);
	cc->to_file = false;
	cc->storing = false;
	co_unpublish(c, cc);
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

/*
 * Answer from the kept copy of object o (cc->buf or cc->fd): the client's
 * conditionals and Range apply as on any hit.  VD_OK, VD_ERR head too large.
 */
static int
copy_hit(struct conn *c, struct cache_conn *cc, const struct cache_obj *o, int64_t now)
{
	struct vd_str inm = req_field(&c->req, "if-none-match");
	struct vd_str ims = req_field(&c->req, "if-modified-since");
	uint64_t first = 0, count = o->body_size, send;
	int status = o->resp.status;

	if (status == 200 && (inm.len > 0 || ims.len > 0))
		status = cache_client_conditional(&inm, &ims, &o->etag, &o->resp, now);
	if (status == 200)
		status = hit_range(c, o, now, &first, &count);
	send = status == 304 || status == 416 || c->head_method ? 0 : count;
	cc->inline_body = !cc->old_file && send > 0;
	cc->body_copy = cc->inline_body;
	cc->body_p = cc->buf;
	if (hit_head(c, o, status, now, first, count) != VD_OK)
		return VD_ERR;
	cc->body_off = first;
	cc->body_size = first + send;
	cc->hit = true;
	c->status = status;
	c->state = PX_CACHE;
	return VD_OK;
}

/* Store the refreshed object (same body, merged head).  A status. */
static int
refresh_store(struct conn *c, struct cache_conn *cc)
{
	struct cache_store *cs = store_of(c);
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

/*
 * RFC 9111 §4.3.3/§4.3.4: the origin says the stored object is still good.
 * Its fields update the stored ones, the times are the 304's, the object is
 * stored again and the client gets the full stored response.
 */
static void
refreshed(struct conn *c, struct cache_conn *cc)
{
	struct http_resp *rs = &c->resp;
	struct cache_obj *o = &cc->obj;
	size_t cap = c->t->cache->head_cap, ul = 0, pos = 0;
	int64_t now = now_sec(c);
	struct vd_str name, v, *val;
	struct cache_cc sc;
	bool has_sc = false;
	ssize_t n;
	int rc;

	for (int i = 0; i < rs->nfields; i++) {
		const struct http_field *f = &rs->fields[i];
		size_t need = f->name.len + f->value.len + 4;

		/* §4.3.4: the stored ETag is what selected this 304; a strong
		 * tag that differs names another representation, never ours */
		if (!cache_field_storable(f->name.p, f->name.len) ||
		    http_str_ieq(f->name, "etag") ||
		    http_is_hop(rs->fields, rs->nfields, f->name) || ul + need > cap)
			continue;
		memcpy(cc->upd + ul, f->name.p, f->name.len);
		memcpy(cc->upd + ul + f->name.len, ": ", 2);
		memcpy(cc->upd + ul + f->name.len + 2, f->value.p, f->value.len);
		memcpy(cc->upd + ul + need - 2, "\r\n", 2);
		ul += need;
	}
	n = cache_merge_304(cc->old, cc->oldlen, cc->upd, ul, cc->head, cap);
	if (n < 0) {
		memcpy(cc->head, cc->old, cc->oldlen);
		n = (ssize_t)cc->oldlen;
	}
	obj_init(o, cc->old_resp.status, cc->req_time, now);
	note_age(o, rs->fields, rs->nfields);
	cache_cc_init(&sc);
	while (next_line(cc->head, (size_t)n, &pos, &name, &v)) {
		if (http_str_ieq(name, "age"))
			continue;
		note_field(NULL, o, name, v, now, &val);
		note_surrogate(c, &sc, &has_sc, name, v);
		if (val != NULL)
			*val = v;
	}
	if (has_sc)
		cache_surrogate_apply(&o->resp, &sc);
	o->head = (struct vd_str){ cc->head, (size_t)n };
	o->url = (struct vd_str){ cc->url, cc->ulen };
	o->vary = (struct vd_str){ cc->vary, cc->vlen };
	o->body_size = cc->old_size;
	rc = refresh_store(c, cc);
	if (rc == VD_OK)
		STATS_INC(inserts_successes, 1);	/* stored again, refreshed */
	else if (rc == CACHE_STORE_FULL)
		STATS_INC(inserts_no_memory, 1);
	else
		STATS_INC(inserts_errors, 1);
	/* the client asked without conditionals: it gets the full response,
	 * or the range it asked for */
	if (copy_hit(c, cc, o, now) != VD_OK) {
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
static int
stale_on_error(struct conn *c, struct cache_conn *cc)
{
	struct cache_obj o;
	int64_t now = now_sec(c);

	if (!cc->stale || c->resp_started ||
	    !cache_stale_if_error_ok(&cc->old_resp, &cc->rq, now, c->t->conf->max_fresh_time))
		return VD_DECLINED;
	stale_obj(cc, &o);
	upstream_close(c);		/* what the origin still sends is not wanted */
	cc->revalidating = false;
	cc->storing = false;
	if (copy_hit(c, cc, &o, now) != VD_OK)
		return VD_DECLINED;
	log_info("%s: origin failed, stale-if-error serves the stored %.*s", c->peer,
	    (int)(cc->ulen > 200 ? 200 : cc->ulen), cc->url);
	cc->result = AL_TCP_REFRESH_FAIL_OLD;
	STATS_INC(hits, 1);
	conn_timer(c, c->t->conf->idle_timeout);
	return VD_OK;
}

static void
store_response(struct conn *c)
{
	struct cache_conn *cc = c->cache;
	int64_t now, max;
	enum cache_storable st;

	if (cc == NULL || cc->hit)
		return;
	if (cc->stale && origin_failed(c->resp.status) && stale_on_error(c, cc) == VD_OK)
		return;
	if (cc->revalidating) {
		cc->revalidating = false;
		if (c->resp.status == 304) {
			refreshed(c, cc);
			return;
		}
	}
	if (cc->stale) {
		cc->stale = false;
		if (cc->fd >= 0)	/* replaced (200) or failed: the old body goes */
			close(cc->fd);
		cc->fd = -1;
	}
	invalidate(c, cc);
	if (!cc->cacheable || c->head_method)
		return;
	now = now_sec(c);
	max = c->t->conf->max_cache_object_size;
	describe(c, cc, now);		/* decide first: build nothing for a pass-through */
	st = cache_storable(c->req.method.p, c->req.method.len, &cc->rq, cc->auth, &cc->obj.resp);
	if (st != CACHE_STORABLE) {
		log_debug("cache: not storing %.*s: %s", (int)cc->ulen, cc->url,
		    cache_storable_str(st));
		STATS_INC(inserts_denied, 1);
		return;
	}
	if (c->body.fr.kind == HTTP_BODY_LENGTH && max > 0 && c->body.fr.length > (uint64_t)max) {
		STATS_INC(inserts_too_large, 1);
		return;
	}
	if (cc->varies) {
		if (cc->vlen == 0) {
			STATS_INC(inserts_denied, 1);
			return;
		}
		cache_key_variant(cc->url, cc->ulen, cc->vary, cc->vlen, c->req.fields,
		    c->req.nfields, &cc->vkey);
		cc->obj.vary = (struct vd_str){ cc->vary, cc->vlen };
	}
	if (stored_head(c, cc) != VD_OK) {
		STATS_INC(inserts_errors, 1);
		return;
	}
	cc->storing = true;
	cc->to_file = false;
	cc->got = 0;
	cc->blen = 0;
	c->body.tap = tap;
	c->body.tap_arg = c;
	/* a body that needs a file has it now: waiters start with the head */
	if (cc->co_h >= 0 && c->body.fr.kind == HTTP_BODY_LENGTH &&
	    c->body.fr.length > store_of(c)->inline_max &&
	    cache_body_begin(store_of(c), &cc->body) == VD_OK) {
		cc->to_file = true;
		rww_publish(c, cc);
	}
}

void
cache_proxy_response(struct conn *c)
{
	struct cache_conn *cc = c->cache;

	store_response(c);
	if (cc == NULL || cc->storing)
		return;
	/* not stored after all: whoever waits for it goes to the origin now,
	 * and for a while nobody waits for this key (cache_pass.h) -- unless
	 * the answer says nothing of the object (a 304, an error) */
	if (co_may_wait(cc) && co_may_fetch(c) && !cc->revalidating &&
	    c->status >= 200 && c->status < 500 && c->status != 304)
		cache_pass_note(&cp_of(c)->pass, &cc->key, c->t->loop->now_ms, CACHE_PASS_MS);
	if (cc->co_h >= 0) {
		collapse_release(co_of(c), cc->co_h);
		cc->co_h = -1;
	}
}

static int
commit(struct conn *c, struct cache_conn *cc)
{
	struct cache_store *cs = store_of(c);
	const struct cache_key *k = cc->varies ? &cc->vkey : &cc->key;
	struct cache_obj *o = &cc->obj;
	int rc;

	o->body_size = cc->got;
	if (cc->varies) {
		/* the marker at the primary key names the fields that select */
		struct cache_obj m = *o;

		m.flags = CACHE_OBJ_VARY;
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

/* The body being stored is complete (commit it) or not (drop it). */
static void
store_end(struct conn *c, struct cache_conn *cc, bool complete)
{
	int rc;

	cc->storing = false;
	if (!complete) {
		if (cc->to_file)
			cache_body_abort(store_of(c), &cc->body);
		cc->to_file = false;
		return;
	}
	rww_complete(c, cc);
	if ((rc = commit(c, cc)) == VD_OK) {
		STATS_INC(inserts_successes, 1);
		cache_pass_forget(&cp_of(c)->pass, &cc->key);
	} else if (rc == CACHE_STORE_FULL) {
		STATS_INC(inserts_no_memory, 1);
	} else {
		STATS_INC(inserts_errors, 1);
	}
}

void
cache_proxy_end(struct conn *c, bool complete)
{
	struct cache_conn *cc = c->cache;

	if (cc == NULL)
		return;
	if (cc->storing)
		store_end(c, cc, complete);
	co_end(c, cc);			/* after the commit: waiters find it */
	cc->rww_tried = cc->rww_pub = cc->rww_no = false;
	cache_rww_close(&cc->rw);
	cc->reqlen = 0;
	c->body.tap = NULL;
	cache_reader_reset(&cc->rd);
	if (cc->fd >= 0)
		close(cc->fd);
	cc->fd = -1;
	cc->inline_body = false;
	cc->body_copy = false;
	cc->revalidating = false;
	cc->stale = false;
	cc->hit = false;
	cc->cacheable = false;
	cc->result = AL_NONE;
}

int
cache_proxy_error(struct conn *c)
{
	struct cache_conn *cc = c->cache;

	return cc == NULL ? VD_DECLINED : stale_on_error(c, cc);
}

enum accesslog_result
cache_proxy_result(const struct conn *c, enum accesslog_result dflt, bool *hit)
{
	const struct cache_conn *cc = c->cache;

	*hit = cc != NULL && cc->hit;
	if (cc == NULL || cc->result == AL_NONE)
		return dflt;
	return cc->result;
}

struct cache_store *
cache_proxy_store(struct conn_table *t)
{
	return t->cache != NULL ? &t->cache->cs : NULL;
}
