/*
 * cache_proxy.c — the shared cache on the request path: the entry points
 * proxy.c calls (see cache_proxy.h for the flow).  The RFC 9111 decisions
 * are cache_policy.c's, the keys cache_key.c's and the storage
 * cache_store.c's; here a connection meets them: the worker's cache and
 * its per-slot state (cache_conn.h) are made, and each hook hands on to
 * the module of its concern: cache_hit.c (the request, the lookup,
 * serving a hit), cache_fill.c (storing a response while it streams),
 * cache_reval.c (a stale object: 304, stale-if-error) and cache_wait.c
 * (collapsed forwarding, read-while-writer).
 */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "viaduct.h"
#include "cache_bg.h"
#include "cache_conn.h"
#include "cache_fill.h"
#include "cache_hit.h"
#include "cache_proxy.h"
#include "cache_reval.h"
#include "cache_wait.h"
#include "conf.h"
#include "log.h"

/* ------------------------------------------------------------ set-up */

/* Each slot's state; its buffers are per bytes of cp->mem each. */
static void
slots_init(struct conn_table *t, struct cache_proxy *cp, size_t per)
{
	for (size_t i = 0; i < t->n; i++) {
		struct cache_conn *cc = &cp->cc[i];

		cc->fd = -1;
		cc->body.fd = -1;
		cc->body.hfd = -1;
		cc->buf = cp->mem + i * per;
		cc->head = cc->buf + cp->cs.inline_max;
		cc->old = cc->head + cp->head_cap;
		cc->upd = cc->old + cp->head_cap;
		cc->result = AL_NONE;
		cache_wait_init(&t->conns[i], cc);
		t->conns[i].cache = cc;
	}
}

static void
atime_cb(struct ev_loop *l, struct ev_timer *tm)
{
	struct cache_proxy *cp = tm->data;

	cache_atime_send(&cp->atx);
	ev_timer_start(l, tm, CACHE_ATIME_MS);
}

int
cache_proxy_init(struct conn_table *t, int atime_fd)
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
	slots_init(t, cp, per);
	t->cache = cp;
	cache_atime_tx_init(&cp->atx, atime_fd);
	ev_timer_init(&cp->atimer, atime_cb, cp);
	if (atime_fd >= 0)
		ev_timer_start(t->loop, &cp->atimer, CACHE_ATIME_MS);
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
	ev_timer_stop(t->loop, &cp->atimer);
	cache_bg_free(cp->bg);
	cache_store_close(&cp->cs);
	free(cp->cc);
	free(cp->mem);
	free(cp);
	t->cache = NULL;
}

/* ------------------------------------------------------------ the hooks */

int
cache_proxy_request(struct conn *c)
{
	return c->cache == NULL ? VD_DECLINED : cache_hit_request(c);
}

int
cache_proxy_send(struct conn *c)
{
	struct cache_conn *cc = c->cache;

	if (cc->co_wait != CP_CO_NONE)
		return VD_AGAIN;	/* parked: cache_wait.c resumes it */
	if (cc->rw.on)
		return cache_wait_send(c, cc);
	return cache_hit_send(c, cc);
}

void
cache_proxy_response(struct conn *c)
{
	struct cache_conn *cc = c->cache;

	if (cc == NULL)
		return;
	if (!cc->hit && cache_reval_response(c, cc) != VD_DONE)
		cache_fill_response(c, cc);
	if (!cc->storing)
		cache_wait_unstored(c, cc);
}

void
cache_proxy_end(struct conn *c, bool complete)
{
	struct cache_conn *cc = c->cache;

	if (cc == NULL)
		return;
	if (cc->storing)
		cache_fill_end(c, cc, complete);
	cache_wait_end(c, cc);		/* after the commit: waiters find it */
	c->body.tap = NULL;
	cache_reader_reset(&cc->rd);
	if (cc->fd >= 0)
		close(cc->fd);
	cc->fd = -1;
	cc->inline_body = false;
	cc->body_copy = false;
	cc->co_grace = false;
	cc->revalidating = false;
	cc->stale = false;
	cc->hit = false;
	cc->cacheable = false;
	cc->result = AL_NONE;
}

bool
cache_proxy_finish_alone(const struct conn *c)
{
	const struct cache_conn *cc = c->cache;

	return cc != NULL && cc->storing && cc->rww_pub;
}

bool
cache_proxy_waiting(const struct conn *c)
{
	const struct cache_conn *cc = c->cache;

	return cc != NULL && cc->co_wait != CP_CO_NONE;
}

int
cache_proxy_timeout(struct conn *c)
{
	struct cache_conn *cc = c->cache;

	return cc == NULL ? VD_DECLINED : cache_wait_timeout(c, cc);
}

int
cache_proxy_error(struct conn *c)
{
	struct cache_conn *cc = c->cache;

	return cc == NULL ? VD_DECLINED : cache_reval_error(c, cc);
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

void
cache_proxy_wake(struct conn_table *t)
{
	if (t->cache != NULL)
		cache_wait_wake(t->cache, t->loop);
}

struct cache_store *
cache_proxy_store(struct conn_table *t)
{
	return t->cache != NULL ? &t->cache->cs : NULL;
}
