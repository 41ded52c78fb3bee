/*
 * cache_proxy.h — the shared cache on the request path (issue 6): every
 * decision and every byte the cache adds to a request lives in
 * cache_proxy.c and the modules it hands on to (cache_hit.c, cache_fill.c,
 * cache_reval.c, cache_wait.c; their shared state is cache_conn.h);
 * proxy.c, relay.c, conn.c and worker.c only call these hooks.  With max-cache-size=none the table has no cache (t->cache is
 * NULL, c->cache is NULL) and every hook returns at once, so a proxy
 * without a cache behaves exactly as before.
 *
 * Flow of one GET/HEAD (first cut):
 *   on_request -> cache_proxy_request(): cache list, request directives,
 *     lookup (primary key, then the Vary variant).  A fresh object: the
 *     connection goes to PX_CACHE and cache_proxy_send() writes the stored
 *     head + Age + Via and the body (inline: writev straight from the map;
 *     file: sendfile).  The read txn is never held across a callback: on
 *     EAGAIN it is reset, and the next callback looks the key up again and
 *     checks that it still holds the same object (response_time and size),
 *     else the connection is closed (the Content-Length tells the client
 *     it was cut).  A miss, a stale object (plain refetch for now) or a
 *     request the cache may not answer goes upstream.
 *   on_response -> cache_proxy_response(): unsafe methods invalidate;
 *     storable responses (cache_policy.h + the cache list + the size
 *     limit) are captured through relay's tap as the body streams to the
 *     client; inline up to the store's inline_max, then a body file.
 *   finish_response -> cache_proxy_end(c, true): commit (only a complete
 *     body); conn_close -> cache_proxy_end(c, false): abort.
 *
 * Only workers call these (after fork: cache_proxy_init opens the worker's
 * own LMDB environment).
 */
#ifndef VD_CACHE_PROXY_H
#define VD_CACHE_PROXY_H

#include <stdbool.h>

#include "accesslog.h"

struct conn;
struct conn_table;

/* Open the worker's store when max-cache-size is not none and give every
 * connection slot its cache state; hits' access times go to atime_fd (-1:
 * nowhere; cache_atime.h).  VD_OK, VD_DECLINED (no cache), VD_ERR (logged;
 * the worker serves without a cache). */
int	cache_proxy_init(struct conn_table *, int atime_fd);
void	cache_proxy_free(struct conn_table *);

/* A routed request, before connecting: VD_DECLINED go upstream; VD_OK the
 * cache answers (state PX_CACHE) or an error page is set (504). */
int	cache_proxy_request(struct conn *);

/* PX_CACHE: VD_DONE the hit is out, VD_AGAIN blocked, VD_ERR close,
 * VD_DECLINED the body was cut short (a shared fetch ended early): end the
 * connection without a reset, which would destroy the responses before it
 * still in the client's buffers. */
int	cache_proxy_send(struct conn *);

/* The final response head from the origin was accepted (PX_RESP_BODY). */
void	cache_proxy_response(struct conn *);

/* The client went away during the response body: true when the fetch
 * should go on for the cache alone -- the object is being stored and other
 * connections may be reading it as it is written (read-while-writer), so
 * cutting the fetch would cut them too. */
bool	cache_proxy_finish_alone(const struct conn *);

/* PX_CACHE parked for another request's fetch (collapsed forwarding),
 * not yet sending: RouterOS's connection state "waiting". */
bool	cache_proxy_waiting(const struct conn *);

/* PX_CACHE's idle-timeout ran out: VD_AGAIN the request waits on
 * (cache_wait_timeout), VD_DECLINED close it. */
int	cache_proxy_timeout(struct conn *);

/* The response ended: complete (the body relay finished) or not. */
void	cache_proxy_end(struct conn *, bool complete);

/* The origin could not be used (proxy_error with a 5xx, before any byte of
 * the response went out): VD_OK a kept stale object answers instead (RFC
 * 5861 stale-if-error; state PX_CACHE), VD_DECLINED send the error. */
int	cache_proxy_error(struct conn *);

/* The access log's result code for this request (dflt when the cache had
 * no part in it); *hit set when the cache answered. */
enum accesslog_result cache_proxy_result(const struct conn *, enum accesslog_result dflt,
	    bool *hit);

/* SIGWINCH: a fetch that requests of this worker wait for moved, or a
 * sibling waits for one of ours (cache_wait.h). */
void	cache_proxy_wake(struct conn_table *);

/* The worker's own cache store (admin.c's PURGE), NULL without a cache. */
struct cache_store;
struct cache_store *cache_proxy_store(struct conn_table *);

#endif
