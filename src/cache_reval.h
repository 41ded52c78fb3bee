/*
 * cache_reval.h — a stale object on the request path (the cache on the
 * request path, cache_conn.h): kept while the request goes upstream, asked
 * for conditionally (RFC 9111 §4.3.1), refreshed by a 304 (§4.3.3, §4.3.4:
 * the merged head is stored again and the client gets the stored
 * response), or answering in place of an origin that failed (RFC 5861 §4,
 * stale-if-error).  The kept copy lives in the slot's buffers (cc->old,
 * cc->buf) or an open body file (cc->fd, closed by cache_proxy_end()).
 * Workers only.
 */
#ifndef VD_CACHE_REVAL_H
#define VD_CACHE_REVAL_H

struct conn;
struct cache_conn;
struct cache_obj;

/* A stale object o (the read txn active) goes upstream: kept, and its
 * validators added to the request head in c->out when it has them and the
 * client sent none.  VD_OK a conditional request, VD_DECLINED a plain
 * refetch (kept or not). */
int	cache_reval_prepare(struct conn *, struct cache_conn *, const struct cache_obj *o);

/* The origin's final response head: VD_DONE it was answered from the kept
 * object (a 304 merged and stored again, or stale-if-error: PX_CACHE);
 * VD_DECLINED the response goes on (the kept object is dropped). */
int	cache_reval_response(struct conn *, struct cache_conn *);

/* The origin could not be used: as cache_proxy_error(). */
int	cache_reval_error(struct conn *, struct cache_conn *);

#endif
