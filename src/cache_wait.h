/*
 * cache_wait.h — a miss that others may wait for, from the request path
 * (the cache on the request path, cache_conn.h; the shared table is
 * cache_collapse.h, the streaming cache_rww.h).  Collapsed forwarding: a
 * cacheable miss claims its key and fetches, or parks in PX_CACHE and
 * sleeps, woken whenever the fetch moves (SIGWINCH from the fetching
 * worker, cache_wait_wake), until the fetch is stored (served as a hit),
 * is being written to a body file (read-while-writer: streamed as it
 * grows), ends without an object, or takes too long (then it fetches
 * itself).  Keys whose last response was not stored are not waited
 * for (cache_pass.h).  Workers only; no allocation.
 */
#ifndef VD_CACHE_WAIT_H
#define VD_CACHE_WAIT_H

#include <stdbool.h>

struct conn;
struct cache_conn;

/* A slot's waiting state at worker start (its timer is the connection's). */
void	cache_wait_init(struct conn *, struct cache_conn *);

/* A miss (the read txn reset): VD_OK parked (PX_CACHE), VD_DECLINED go
 * upstream, as the fetcher others wait for when cc->co_h >= 0. */
int	cache_wait_start(struct conn *, struct cache_conn *);

/* PX_CACHE while streaming another request's fetch: as cache_proxy_send(). */
int	cache_wait_send(struct conn *, struct cache_conn *);

/* The connection's idle-timeout ran out in PX_CACHE.  A waiter asleep on
 * the writer waits for it, not for its own client: its clock started with
 * the writer's last bytes, and the writer's own timeouts end or move the
 * fetch (its stalled client is left behind: proxy.c), so it gets once
 * more as long.  VD_AGAIN keep waiting, VD_DECLINED close. */
int	cache_wait_timeout(struct conn *, struct cache_conn *);

/* The fetcher's response is not stored after all (not storable, or the
 * store failed): waiters go to the origin now; a response that says
 * something of the object keeps waiters away from the key for a while. */
void	cache_wait_unstored(struct conn *, struct cache_conn *);

/* The fetcher's body as it is stored: a body file now holds it (waiters
 * may stream it: cache_wait_publish), more of it was written
 * (cache_wait_progress), it is complete and about to be committed
 * (cache_wait_complete), or it will not be stored (cache_wait_unpublish). */
void	cache_wait_publish(struct conn *, struct cache_conn *);
void	cache_wait_progress(struct conn *, struct cache_conn *);
void	cache_wait_complete(struct conn *, struct cache_conn *);
void	cache_wait_unpublish(struct conn *, struct cache_conn *);

/* SIGWINCH (cache_collapse.h's wake-ups): a fetch this worker's waiters
 * wait for moved, or a sibling waits for a fetch of ours that keeps its
 * body in memory (it goes to a file too: cache_fill_share).  Every
 * sleeping waiter looks again, from the loop. */
struct cache_proxy;
struct ev_loop;
void	cache_wait_wake(struct cache_proxy *, struct ev_loop *);

/* The request ended (after its commit, so that waiters find the object):
 * nothing stays published, parked or streaming. */
void	cache_wait_end(struct conn *, struct cache_conn *);

#endif
