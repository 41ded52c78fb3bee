/*
 * cache_wait.c — collapsed forwarding and read-while-writer from the
 * request path (see cache_wait.h): who fetches, how a waiter looks again,
 * and how it streams a body that is still being written.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "viaduct.h"
#include "cache_conn.h"
#include "cache_dscp.h"
#include "cache_fill.h"
#include "cache_hit.h"
#include "cache_wait.h"
#include "conf.h"
#include "log.h"

#define CP_CO_DEFER_MS	1	/* an undecided claim looks again (no wake-up comes) ... */
#define CP_CO_DEFER_MAX	50	/* ... backing off to this */
/* A waiter sleeps until the fetch it waits for moves (SIGWINCH,
 * cache_wait_wake); this bounds the sleep, for a fetcher that died without
 * a word (the master clears its entries when it reaps it). */
#define CP_CO_FALLBACK_MS 100

static struct collapse *
co_of(const struct conn *c)
{
	return &cp_of(c)->co;
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

/* Sleep until a wake-up or ms from now.  0, -1 (no timer). */
static int
co_sleep(struct conn *c, struct cache_conn *cc, int64_t ms)
{
	struct cache_proxy *cp = cp_of(c);

	if (!cc->co_asleep) {
		cc->co_prev = NULL;
		cc->co_next = cp->sleepers;
		if (cp->sleepers != NULL)
			cp->sleepers->co_prev = cc;
		cp->sleepers = cc;
		cc->co_asleep = true;
	}
	return ev_timer_start(c->t->loop, &cc->co_timer, ms);
}

static void
co_awake(struct cache_proxy *cp, struct cache_conn *cc)
{
	if (!cc->co_asleep)
		return;
	if (cc->co_prev != NULL)
		cc->co_prev->co_next = cc->co_next;
	else
		cp->sleepers = cc->co_next;
	if (cc->co_next != NULL)
		cc->co_next->co_prev = cc->co_prev;
	cc->co_prev = cc->co_next = NULL;
	cc->co_asleep = false;
}

/* Park the request in PX_CACHE until co_poll() decides: at once for a
 * waiter (it asks for its wake-up there, then looks), shortly for an
 * undecided claim.  VD_OK, VD_ERR. */
static int
co_park(struct conn *c, struct cache_conn *cc, enum cp_co how)
{
	struct ev_loop *l = c->t->loop;

	cc->co_delay = CP_CO_DEFER_MS;
	if (ev_timer_start(l, &cc->co_timer, how == CP_CO_DEFER ? cc->co_delay : 0) == -1)
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

int
cache_wait_start(struct conn *c, struct cache_conn *cc)
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
	if (cc->co_h >= 0)
		cp_of(c)->fetch[cc->co_h] = c;
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
	int64_t now = cp_now(c);
	bool ok = false;

	if (cache_hit_lookup(c, cc, &o) == VD_OK && cache_hit_usable(c, cc, &o.resp, now))
		ok = cache_hit_start(c, cc, &o, now) == VD_OK;
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

/* An undecided claim's next look: doubled, up to CP_CO_DEFER_MAX. */
static int64_t
co_backoff(struct cache_conn *cc)
{
	cc->co_delay = cc->co_delay * 2 > CP_CO_DEFER_MAX ? CP_CO_DEFER_MAX : cc->co_delay * 2;
	return cc->co_delay;
}

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
		cache_key_variant(&cc->key, cc->url, cc->ulen, o->vary.p, o->vary.len,
		    c->req.fields, c->req.nfields, &k);
	if (memcmp(k.b, h->key.b, sizeof(k.b)) != 0)
		return false;
	return cache_hit_usable(c, cc, &o->resp, now);
}

/* The head of a streamed response into c->out, as a hit's: framed by the
 * origin's Content-Length (the client's conditionals and Range answered
 * as on a hit: the bytes to send are [r->off, r->stop)), else chunked
 * (1.1) or by closing (1.0), with no Range (rww_start).  Its status. */
static int
rww_head(struct conn *c, struct cache_obj *o, int64_t now, uint64_t length, struct cache_rww *r)
{
	struct http_out *out = &c->out;
	uint64_t first, count;
	int status = o->resp.status;

	r->length = length;
	r->chunked = false;
	if (length != CACHE_RWW_UNKNOWN) {
		o->body_size = length;
		status = cache_hit_status(c, o, now, &first, &count);
		VD_ASSERT(cache_hit_head(c, o, status, now, first, count) == VD_OK);
		r->off = r->avail = first;
		r->stop = first + count;
		return status;
	}
	if (status == 200 && cache_hit_not_modified(c, o, now))
		status = 304;
	cache_hit_fields(c, o, status, now);
	if (status != 304 && !c->head_method) {
		if (c->req.version == 11) {
			http_out_str(out, "Transfer-Encoding: chunked\r\n");
			r->chunked = true;
		} else {
			c->keep_alive = false;
		}
	}
	VD_ASSERT(cache_hit_head_end(c) == VD_OK);
	return status;
}

/* Open what the fetch in *w writes and set the response up (the head in
 * c->out).  VD_OK streaming; VD_AGAIN its files are gone (it ended: the
 * next look tells how); VD_DECLINED not for this request. */
static int
rww_start(struct conn *c, struct cache_conn *cc, const struct collapse_watch *w)
{
	struct cache_store *cs = cp_store(c);
	bool range = http_field_find(c->req.fields, c->req.nfields, "range", 0) >= 0;
	struct cache_rww *r = &cc->rw;
	struct cache_rww_head h;
	int64_t now = cp_now(c);
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
	    !rww_fits(c, cc, &h, now) || (range && h.length == CACHE_RWW_UNKNOWN)) {
		/* (a range of a body of unknown length: from the stored object) */
		cache_rww_close(r);
		cc->rww_no = true;
		return VD_DECLINED;
	}
	/* c->out holds the request for the origin: kept for a fetch that
	 * fails before a byte of ours goes */
	cc->reqlen = c->out.len <= cp_of(c)->head_cap ? c->out.len : 0;
	memcpy(cc->upd, c->out.p, cc->reqlen);
	cc->req_ka = c->keep_alive;
	status = rww_head(c, &h.obj, now, h.length, r);
	r->on = true;
	r->end = status == 304 || status == 416 || c->head_method;
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

	if (cc->rww_no || collapse_find(co_of(c), &cc->key, &w) != VD_OK ||
	    rww_start(c, cc, &w) != VD_OK)
		return false;
	log_debug("cache: streaming %.*s while it is written", (int)cc->ulen, cc->url);
	cache_dscp_other(c);		/* a miss, not a hit (cache-hit-dscp) */
	cc->co_wait = CP_CO_NONE;
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

/* Caught up with the writer (or a range waits for bytes it has not
 * reached): sleep until it writes more (its wake-up), or look again at
 * once if it did meanwhile.  VD_AGAIN, VD_ERR. */
static int
rww_sleep(struct conn *c, struct cache_conn *cc)
{
	uint64_t w;
	int st = collapse_watch_subscribe(co_of(c), &cc->rw.w, &w, &cc->co_ask);

	if (st != VD_AGAIN || w > cc->rw.avail)
		return ev_timer_start(c->t->loop, &cc->co_timer, 0) == 0 ? VD_AGAIN : VD_ERR;
	return co_sleep(c, cc, CP_CO_FALLBACK_MS) == 0 ? VD_AGAIN : VD_ERR;
}

int
cache_wait_timeout(struct conn *c, struct cache_conn *cc)
{
	if (!cc->co_asleep || cc->co_grace)
		return VD_DECLINED;
	cc->co_grace = true;
	conn_timer(c, c->t->conf->idle_timeout);
	return VD_AGAIN;
}

int
cache_wait_send(struct conn *c, struct cache_conn *cc)
{
	uint64_t out = 0;
	int rc = cache_rww_send(c, &cc->rw, co_of(c), &out);

	CLIENT_STATS_INC(c, sent_to_clients, out);
	c->sent += out;
	if (out > 0) {
		c->resp_started = true;
		cc->co_grace = false;
		conn_timer(c, c->t->conf->idle_timeout);
	}
	if (rc == VD_AGAIN && c->cl.wr)
		return rww_sleep(c, cc);
	if (rc == VD_DECLINED && !c->resp_started && cc->reqlen > 0)
		return rww_to_origin(c, cc);
	if (rc == VD_DECLINED) {
		log_info("%s: the fetch of %.*s ended early: response cut", c->peer,
		    (int)(cc->ulen > 200 ? 200 : cc->ulen), cc->url);
		/* RFC 9112 §8: a body read until the close (a 1.0 client) ends
		 * in a reset, since a FIN would complete it (as proxy.c does) */
		if (!cc->rw.chunked && cc->rw.length == CACHE_RWW_UNKNOWN) {
			conn_abort(c);
			return VD_ERR;
		}
	}
	return rc;
}

/* The head file first, then the entry says so.  Nothing when the head
 * does not fit. */
void
cache_wait_publish(struct conn *c, struct cache_conn *cc)
{
	struct cache_store *cs = cp_store(c);
	struct cache_obj o = cc->obj;
	uint64_t len = c->body.fr.kind == HTTP_BODY_LENGTH ? c->body.fr.length :
	    CACHE_RWW_UNKNOWN;
	size_t n, at;
	uint8_t *p;

	cc->rww_tried = true;
	o.flags |= CACHE_OBJ_BODY_FILE;
	o.body_file = cc->body.id;
	o.body_size = len == CACHE_RWW_UNKNOWN ? 0 : len;
	o.body = (struct vd_str){ NULL, 0 };
	n = cache_rww_head_size(&o);
	/* cc->buf is free (what it held is in the file) but for the body a
	 * shadow keeps for the inline store */
	at = cc->shadow ? cc->blen : 0;
	if (cc->co_h < 0 || n >= cs->inline_max - at || cache_body_head_create(&cc->body) != VD_OK)
		return;
	p = (uint8_t *)cc->buf + at;
	cache_rww_head_encode(&o, cc->varies ? &cc->vkey : &cc->key, len, p);
	if (cache_rww_write_head(cc->body.hfd, p, n) != VD_OK)
		return;
	collapse_stream(co_of(c), cc->co_h, cc->body.id, cc->got);
	cc->rww_pub = true;
}

void
cache_wait_progress(struct conn *c, struct cache_conn *cc)
{
	if (cc->rww_pub)
		collapse_progress(co_of(c), cc->co_h, cc->got);
	else if (!cc->rww_tried && cc->co_h >= 0)
		cache_wait_publish(c, cc);
}

/* The head file says so before the entry does, and both before the commit
 * renames the file and releases the key. */
void
cache_wait_complete(struct conn *c, struct cache_conn *cc)
{
	if (cc->rww_pub && (cc->to_file || cc->shadow) &&
	    cache_rww_write_end(cc->body.hfd, cc->got) == VD_OK)
		collapse_complete(co_of(c), cc->co_h, cc->got);
}

void
cache_wait_unpublish(struct conn *c, struct cache_conn *cc)
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

	co_awake(cp_of(c), cc);
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
		STATS_INC(collapsed_waits, 1);
	}
	/* before the lookup: an owner commits, then withdraws its key (and
	 * wakes us, having seen our bit, or we see it gone) */
	busy = collapse_subscribe(co_of(c), &cc->key, &cc->co_ask);
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
	if (co_sleep(c, cc, CP_CO_FALLBACK_MS) == -1)
		co_resume(c, cc, false);
}

void
cache_wait_wake(struct cache_proxy *cp, struct ev_loop *l)
{
	for (int h = 0; h < STATS_COLLAPSE_MAX; h++) {
		struct conn *f = cp->fetch[h];

		if (f != NULL && f->cache->co_h == h && collapse_wanted(&cp->co, h))
			cache_fill_share(f, f->cache);
	}
	/* each whose entry moved looks again from the loop (co_poll takes it
	 * off the list); the wake-up was for the others */
	for (struct cache_conn *cc = cp->sleepers; cc != NULL; cc = cc->co_next)
		if (!collapse_unmoved(&cp->co, &cc->co_ask))
			(void)ev_timer_start(l, &cc->co_timer, 0);
}

void
cache_wait_init(struct conn *c, struct cache_conn *cc)
{
	cache_rww_init(&cc->rw);
	cc->co_h = -1;
	cc->co_ask.idx = -1;
	ev_timer_init(&cc->co_timer, co_poll, c);
}

void
cache_wait_unstored(struct conn *c, struct cache_conn *cc)
{
	if (co_may_wait(cc) && co_may_fetch(c) && !cc->revalidating &&
	    c->status >= 200 && c->status < 500 && c->status != 304)
		cache_pass_note(&cp_of(c)->pass, &cc->key, c->t->loop->now_ms, CACHE_PASS_MS);
	if (cc->co_h >= 0) {
		collapse_release(co_of(c), cc->co_h);
		cc->co_h = -1;
	}
}

void
cache_wait_end(struct conn *c, struct cache_conn *cc)
{
	ev_timer_stop(c->t->loop, &cc->co_timer);
	co_awake(cp_of(c), cc);
	cc->co_wait = CP_CO_NONE;
	if (cc->co_h >= 0)
		collapse_release(co_of(c), cc->co_h);
	cc->co_h = -1;
	cc->rww_tried = cc->rww_pub = cc->rww_no = false;
	cache_rww_close(&cc->rw);
	cc->reqlen = 0;
}
