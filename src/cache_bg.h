/*
 * cache_bg.h — background revalidation for stale-while-revalidate (RFC
 * 5861 §3): the client gets the stale object at once, and the cache asks
 * the origin behind its back through the ordinary request path.
 *
 * How: an internal client.  A socketpair; one end becomes a connection of
 * the worker's table (conn_internal(): same peer address and listener mode
 * as the client that triggered it, marked internal so that it does not
 * count as a client request), the other end stays here: the client's
 * request (its end-to-end fields, so that the same variant and the same
 * rules apply, without conditionals, Range or Cache-Control) is written
 * into it with "Connection: close", and whatever comes back is read and
 * dropped until the connection closes.  cache_hit.c sees the internal
 * request, revalidates the stale object (a conditional request; 304
 * refreshes it, 200 replaces it) instead of answering it from the cache.
 *
 * At most one background revalidation per key per worker, and at most
 * CACHE_BG_MAX at once per worker (more: the stale object is served and
 * nothing is started).  Workers only; never blocks.
 */
#ifndef VD_CACHE_BG_H
#define VD_CACHE_BG_H

#include "cache_key.h"

#define CACHE_BG_MAX	64

struct cache_bg;
struct conn;
struct conn_table;

/* NULL on failure (no background revalidation then: stale is served). */
struct cache_bg	*cache_bg_create(struct conn_table *);
void		 cache_bg_free(struct cache_bg *);

/*
 * Start revalidating the object at key for the request on c, unless one
 * already runs for that key.  VD_OK started, VD_DECLINED already running
 * (or shutting down, or no room), VD_ERR failed (logged).
 */
int		 cache_bg_start(struct cache_bg *, struct conn *c, const struct cache_key *key);

/* Background revalidations running now (for tests and debugging). */
int		 cache_bg_running(const struct cache_bg *);

#endif
