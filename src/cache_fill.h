/*
 * cache_fill.h — a response from the origin on its way into the cache (the
 * cache on the request path, cache_conn.h): a successful unsafe request
 * invalidates (RFC 9111 §4.4); a storable response (cache_policy.h, the
 * cache list, max-cache-object-size) is captured through relay's tap as
 * its body streams to the client, in the slot's buffer up to the store's
 * inline_max and then in a body file; complete, it is committed, else
 * dropped.  Workers only.
 */
#ifndef VD_CACHE_FILL_H
#define VD_CACHE_FILL_H

#include <stdbool.h>
#include <stdint.h>

#include "viaduct.h"

struct conn;
struct cache_cc;
struct cache_conn;
struct cache_obj;
struct http_field;

/* The origin's final response head (not a hit, not a 304 or stale answer
 * of cache_reval.h): invalidate, and start storing it when it may be
 * stored (cc->storing, c->body.tap set). */
void	cache_fill_response(struct conn *, struct cache_conn *);

/* Others wait for this fetch (collapse_wanted), whose body is kept in
 * memory to be stored inline: write it to a body file as well, so that
 * they stream it as it comes (read-while-writer); the object is still
 * stored inline and the file dropped at the end. */
void	cache_fill_share(struct conn *, struct cache_conn *);

/* The body being stored is complete (commit it) or not (drop it). */
void	cache_fill_end(struct conn *, struct cache_conn *, bool complete);

/* The metadata of a response as its fields are read (cache_reval.c reads
 * a merged head with them): o zeroed with its times unset
 * (cache_fill_obj_init); one field's times and directives, *val where an
 * ETag or Last-Modified value goes, else NULL, and with cc the Vary lines
 * (cache_fill_note_field); Age from its first line (RFC 9111 §5.1,
 * cache_fill_note_age); on a reverse port, Surrogate-Control into *sc
 * (cache_fill_note_surrogate, *has set when there is one). */
void	cache_fill_obj_init(struct cache_obj *o, int status, int64_t req_time, int64_t now);
void	cache_fill_note_field(struct cache_conn *cc, struct cache_obj *o, struct vd_str name,
	    struct vd_str v, int64_t now, struct vd_str **val);
void	cache_fill_note_age(struct cache_obj *o, const struct http_field *f, int n);
void	cache_fill_note_surrogate(const struct conn *, struct cache_cc *sc, bool *has,
	    struct vd_str name, struct vd_str v);

#endif
