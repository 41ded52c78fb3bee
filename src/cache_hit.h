/*
 * cache_hit.h — a hit (the cache on the request path, cache_conn.h): the
 * request's URL, key and directives, the lookup and its freshness
 * decision, the head the cache writes (stored fields, Age, Via, framing;
 * a 304 to the client's conditionals, 206 or 416 to its Range) and the
 * body, inline from the map (writev) or from its file (sendfile).  No allocation; the read txn is never held across
 * a callback (STYLE pitfall 5).  Workers only.
 */
#ifndef VD_CACHE_HIT_H
#define VD_CACHE_HIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct cache_conn;
struct cache_obj;
struct cache_resp;
struct cache_key;

/* A routed request (c->cache set): as cache_proxy_request().  Its URL,
 * key and directives are read into c->cache; a fresh object answers (the
 * read txn stays active only for an inline hit); a stale one is kept and
 * asked for conditionally (cache_reval.h); a miss may wait for another
 * request's fetch (cache_wait.h). */
int	cache_hit_request(struct conn *);

/* The key of normalised URL nurl as this connection fetches it: the
 * URL's own, or on a transparent port its destination's
 * (cache_key_primary_at()), on a reverse port its configured origin's
 * (cache_key_reverse()).  route() has set c->up. */
void	cache_hit_key(const struct conn *, const char *nurl, size_t len, struct cache_key *);

/* Look cc->key up, following a Vary marker into cc->hkey.  As
 * cache_store_lookup(); VD_AGAIN no read txn.  o points into the map
 * until cache_reader_reset(&cc->rd). */
int	cache_hit_lookup(struct conn *, struct cache_conn *, struct cache_obj *o);

/* Would the lookup serve an object with these times and directives
 * (fresh, or stale and allowed)? */
bool	cache_hit_usable(const struct conn *, const struct cache_conn *,
	    const struct cache_resp *, int64_t now);

/* Answer with object o (from cache_hit_lookup(), the txn active): the head
 * into c->out, state PX_CACHE.  VD_OK, or VD_DECLINED (go upstream; c->out,
 * which holds the request for the origin, is intact). */
int	cache_hit_start(struct conn *, struct cache_conn *, const struct cache_obj *o,
	    int64_t now);

/* Answer with the kept copy of o (cc->buf or cc->fd, cache_reval.h): the
 * client's conditionals and Range apply as on any hit.  VD_OK (PX_CACHE),
 * VD_ERR the head does not fit. */
int	cache_hit_copy(struct conn *, struct cache_conn *, const struct cache_obj *o,
	    int64_t now);

/* PX_CACHE, a hit: as cache_proxy_send(). */
int	cache_hit_send(struct conn *, struct cache_conn *);

/* A head from the cache into c->out: the status line, o's stored fields
 * (for a 206 or a 304 not those of the whole body: cache_field_of_body()),
 * Age and Via (cache_hit_fields), then the framing is the caller's, then
 * our connection fields and the blank line (cache_hit_head_end: VD_OK,
 * VD_ERR it overflowed). */
void	cache_hit_fields(struct conn *, const struct cache_obj *o, int status, int64_t now);
/* RFC 9110 §13.1.2, §13.1.3, §13.2.2: does the request's If-None-Match
 * (or, without one, its If-Modified-Since) make o, a stored 2xx, a 304? */
bool	cache_hit_not_modified(const struct conn *, const struct cache_obj *o, int64_t now);
/* What the request gets of o, a 200 of o->body_size bytes: 304 to its
 * conditionals, else 206 for bytes [*first, *first + *count), 416, or 200
 * (RFC 9110 §13.1, §14.2). */
int	cache_hit_status(const struct conn *, const struct cache_obj *o, int64_t now,
	    uint64_t *first, uint64_t *count);
/* The whole head of such an answer, framed by Content-Length (VD_OK,
 * VD_ERR it overflowed). */
int	cache_hit_head(struct conn *, const struct cache_obj *o, int status, int64_t now,
	    uint64_t first, uint64_t count);
int	cache_hit_head_end(struct conn *);

#endif
