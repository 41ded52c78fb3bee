/*
 * cache_conn.h — private to the cache on the request path: cache_proxy.c
 * (the entry points proxy.c calls), cache_hit.c, cache_fill.c,
 * cache_reval.c and cache_wait.c share the per-connection state and the
 * worker's cache through it.  Nothing else includes it: proxy.c sees
 * struct cache_conn only as c->cache.
 *
 * One struct cache_conn per connection slot, made by cache_proxy_init()
 * with the table and freed with it; its buffers (buf, head, old, upd)
 * are slices of one allocation per slot (cache_proxy.c), so the modules
 * never allocate.  Workers only.
 */
#ifndef VD_CACHE_CONN_H
#define VD_CACHE_CONN_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "accesslog.h"
#include "cache_atime.h"
#include "cache_collapse.h"
#include "cache_key.h"
#include "cache_pass.h"
#include "cache_policy.h"
#include "cache_rww.h"
#include "cache_store.h"
#include "proxy.h"
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
	bool		 hit_counted;	/* ... counted in hits: its bytes in hits-sent */
	bool		 feed_only;	/* too large to store: its file goes on for
					 * the waiters only (cache_fill.c) */
	bool		 looked_up;	/* its lookup is counted (RouterOS lookups) */
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
	bool		 shadow;	/* kept in buf, and in a body file for waiters only */
	bool		 varies;
	struct cache_key vkey;		/* variant key when varies */
	int64_t		 vary_void;	/* the marker's CACHE_OBJ_VARY_VOID second,
					 * carried to the marker we write; INT64_MIN */
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
	bool		 co_asleep;	/* on cp->sleepers: a wake-up looks again ... */
	struct collapse_ask co_ask;	/* ... unless this entry has not moved */
	bool		 co_grace;	/* asleep on the writer, its idle-timeout ran out
					 * once (cache_wait_timeout) */
	struct cache_conn *co_prev, *co_next;
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
	struct conn	*fetch[STATS_COLLAPSE_MAX];	/* who claimed entry h (if its co_h is h still) */
	struct cache_conn *sleepers;	/* waiters that sleep until a wake-up (SIGWINCH) */
	struct cache_pass pass;		/* keys that were not stored: no collapsing */
	struct cache_atime_tx atx;	/* hits' access times to the manager */
	struct ev_timer	 atimer;	/* ... sent once a second */
};

static inline struct cache_proxy *
cp_of(const struct conn *c)
{
	return c->t->cache;
}

static inline struct cache_store *
cp_store(const struct conn *c)
{
	return &cp_of(c)->cs;
}

static inline int64_t
cp_now(const struct conn *c)
{
	return (int64_t)c->t->loop->now_sec;
}

/*
 * A list field's lines as one value (RFC 9110 §5.3: joined by ", "): the
 * line itself when there is one, else joined into buf (cap bytes); an
 * empty value when they do not fit.
 */
static inline struct vd_str
cp_req_list(const struct http_req *r, const char *name, char *buf, size_t cap)
{
	int i = http_field_find(r->fields, r->nfields, name, 0), j;
	size_t n = 0;

	if (i < 0 || (j = http_field_find(r->fields, r->nfields, name, i + 1)) < 0)
		return i >= 0 ? r->fields[i].value : (struct vd_str){ NULL, 0 };
	for (j = i; j >= 0; j = http_field_find(r->fields, r->nfields, name, j + 1)) {
		struct vd_str v = r->fields[j].value;

		if (n + 2 + v.len > cap)
			return (struct vd_str){ NULL, 0 };
		if (n > 0) {
			memcpy(buf + n, ", ", 2);
			n += 2;
		}
		memcpy(buf + n, v.p, v.len);
		n += v.len;
	}
	return (struct vd_str){ buf, n };
}

/* "name: value\r\n" appended to the header block b (*len of cap bytes
 * used).  false: it does not fit, and nothing was written. */
static inline bool
cp_put_line(char *b, size_t *len, size_t cap, struct vd_str name, struct vd_str value)
{
	size_t need = name.len + 2 + value.len + 2;

	if (*len + need > cap)
		return false;
	memcpy(b + *len, name.p, name.len);
	memcpy(b + *len + name.len, ": ", 2);
	memcpy(b + *len + name.len + 2, value.p, value.len);
	memcpy(b + *len + need - 2, "\r\n", 2);
	*len += need;
	return true;
}

#endif
