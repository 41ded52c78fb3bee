/*
 * cache_policy.h — RFC 9111 (and RFC 5861) decisions as pure functions.
 *
 * Contract: no I/O, no allocation, no clock reads.  Every time is seconds
 * since the epoch (int64_t) passed in by the caller (the loop's cached
 * clock).  Strings are counted slices owned by the caller.  Any process may
 * call these.
 *
 * How the request path is meant to use this module (next session's wiring):
 *
 *   request in:
 *     cache_cc_init(&rq); for each Cache-Control field line: cache_cc_parse(&rq, v);
 *     if none and a Pragma carries no-cache: rq.flags |= CACHE_CC_NO_CACHE (RFC 9111 §5.4)
 *     unsafe method: forward; on a non-error answer invalidate
 *       (cache_method_invalidates(), cache_key_same_origin() for Location/Content-Location)
 *   lookup hit (a struct cache_obj from cache_store_lookup()):
 *     switch (cache_serve(&obj.resp, &rq, now, conf->always_from_cache)):
 *       CACHE_SERVE_FRESH / CACHE_SERVE_STALE_OK: answer from the cache;
 *         cache_client_conditional() says 304 or full; add "Age: cache_current_age()"
 *       CACHE_SERVE_STALE_REVALIDATE: answer from the cache and start one background
 *         revalidation (stale-while-revalidate)
 *       CACHE_SERVE_REVALIDATE: conditional request upstream with
 *         cache_conditional_fields(); on failure (5xx/connect error) serve stale
 *         only if cache_stale_if_error_ok(); 304 -> cache_merge_304() and refreshed
 *         times; 200 -> replace
 *       CACHE_SERVE_GATEWAY_TIMEOUT: only-if-cached could not be met: 504
 *   response from origin:
 *     fill struct cache_resp (status, times, Date/Expires/Last-Modified via
 *     cache_http_date_parse(), Age, Cache-Control via cache_cc_parse(), Vary *),
 *     cache_storable() == CACHE_STORABLE -> store (cache_store.h), else count
 *     the reason as "inserts denied".
 */
#ifndef VD_CACHE_POLICY_H
#define VD_CACHE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "viaduct.h"

/* Absent header, and a header that is present but not a valid HTTP-date. */
#define CACHE_TIME_UNSET	INT64_MIN
#define CACHE_TIME_INVALID	(INT64_MIN + 1)

/* RFC 9111 §1.2.2: delta-seconds beyond what we represent are 2^31. */
#define CACHE_DELTA_MAX		2147483648LL

/* max-stale without an argument: any staleness is acceptable. */
#define CACHE_STALE_ANY		INT64_MAX

/* Cache-Control directives without (or with an ignored) argument. */
#define CACHE_CC_NO_STORE		0x0001
#define CACHE_CC_NO_CACHE		0x0002	/* qualified no-cache="f" treated as unqualified */
#define CACHE_CC_PRIVATE		0x0004	/* qualified private="f" treated as unqualified */
#define CACHE_CC_PUBLIC			0x0008
#define CACHE_CC_MUST_REVALIDATE	0x0010
#define CACHE_CC_PROXY_REVALIDATE	0x0020
#define CACHE_CC_NO_TRANSFORM		0x0040
#define CACHE_CC_ONLY_IF_CACHED		0x0080
#define CACHE_CC_MUST_UNDERSTAND	0x0100
#define CACHE_CC_IMMUTABLE		0x0200
#define CACHE_CC_MAX_STALE		0x0400	/* max_stale is meaningful */

/*
 * Parsed Cache-Control (request or response).  Numeric directives are -1
 * when absent.  RFC 9111 §4.2.1: with conflicting duplicates of a
 * freshness directive the response is treated as stale (value 0); a
 * malformed delta-seconds is 0 likewise (never fresher than the origin
 * meant).  Unknown extensions are ignored (§5.2.3).
 */
struct cache_cc {
	unsigned	 flags;
	int64_t		 max_age;
	int64_t		 s_maxage;
	int64_t		 max_stale;	/* CACHE_STALE_ANY when given without a value */
	int64_t		 min_fresh;
	int64_t		 stale_while_revalidate;	/* RFC 5861 */
	int64_t		 stale_if_error;		/* RFC 5861 */
};

void	cache_cc_init(struct cache_cc *);
/* One field line (or a combined list); may be called once per line. Never fails. */
void	cache_cc_parse(struct cache_cc *, const char *p, size_t len);

/* What the cache remembers about a stored response (also the record's metadata). */
struct cache_resp {
	int		 status;
	int64_t		 request_time;	/* local clock when the request was sent */
	int64_t		 response_time;	/* local clock when the response head arrived */
	int64_t		 date;		/* Date; CACHE_TIME_UNSET / _INVALID */
	int64_t		 expires;	/* Expires; CACHE_TIME_INVALID means already expired */
	int64_t		 last_modified;
	int64_t		 age_value;	/* Age header, 0 when absent or invalid */
	struct cache_cc	 cc;
	bool		 vary_star;	/* Vary: * (never reused) */
};

enum cache_storable {
	CACHE_STORABLE = 0,
	CACHE_NOSTORE_METHOD,		/* §3: only GET is stored (HEAD served from it) */
	CACHE_NOSTORE_STATUS,		/* not final, not understood, 206, 304 */
	CACHE_NOSTORE_NO_STORE,		/* request or response no-store */
	CACHE_NOSTORE_PRIVATE,		/* §5.2.2.7: never in a shared cache */
	CACHE_NOSTORE_AUTHORIZATION,	/* §3.5 without public/s-maxage/must-revalidate */
	CACHE_NOSTORE_VARY_STAR,	/* §4.1: would never match */
	CACHE_NOSTORE_NO_FRESHNESS,	/* §3: no explicit lifetime, not heuristically cacheable */
};

/* §3 (shared cache).  method is the request method; authorization: the request had one. */
enum cache_storable cache_storable(const char *method, size_t mlen,
	    const struct cache_cc *req_cc, bool authorization, const struct cache_resp *);
const char	*cache_storable_str(enum cache_storable);

/* RFC 9110 §15.1: statuses cacheable by default (heuristic freshness allowed). */
bool	cache_status_heuristic(int status);
/* Statuses this cache understands well enough to store (§3). */
bool	cache_status_understood(int status);

enum cache_fresh_src {
	CACHE_FRESH_NONE,		/* no expiration info: lifetime 0 */
	CACHE_FRESH_S_MAXAGE,
	CACHE_FRESH_MAX_AGE,
	CACHE_FRESH_EXPIRES,
	CACHE_FRESH_HEURISTIC,
};

/*
 * §4.2.1: s-maxage > max-age > Expires - Date > 10% of Date - Last-Modified
 * (only for heuristically cacheable statuses or public).  max_fresh_time
 * (RouterOS, seconds, <= 0 means no cap) caps every lifetime.  src may be NULL.
 */
int64_t	cache_freshness_lifetime(const struct cache_resp *, int64_t max_fresh_time,
	    enum cache_fresh_src *src);

/*
 * §5.1: the Age of a response from its first Age field line.  A list takes
 * its first member (the others are discarded); a first member that is not
 * delta-seconds makes the field ignored: 0.  Values beyond 2^31 are 2^31.
 */
int64_t	cache_age_parse(const char *p, size_t len);

/*
 * Surrogate-Control (W3C Edge Architecture 1.0 §3), for a surrogate, parsed
 * with cache_cc_parse(): its no-store is final, and its max-age is the
 * lifetime in place of s-maxage, max-age and Expires (a stale object stays
 * unservable without revalidation if s-maxage said so).  Cache-Control's
 * other directives still hold.  A directive targeted at a device
 * ("max-age=60;name") is malformed to cache_cc_parse and so ignored: we
 * advertise no Surrogate-Capability.
 */
void	cache_surrogate_apply(struct cache_resp *, const struct cache_cc *sc);

/* §4.2.3, exactly: corrected_initial_age, and that plus resident_time. */
int64_t	cache_initial_age(const struct cache_resp *);
int64_t	cache_current_age(const struct cache_resp *, int64_t now);

enum cache_serve {
	CACHE_SERVE_FRESH,
	CACHE_SERVE_STALE_OK,		/* stale but the client's max-stale allows it */
	CACHE_SERVE_STALE_REVALIDATE,	/* stale-while-revalidate: serve, revalidate behind */
	CACHE_SERVE_REVALIDATE,		/* send a conditional request first */
	CACHE_SERVE_GATEWAY_TIMEOUT,	/* only-if-cached and we would have to ask: 504 */
};

/*
 * §4 / §4.2.4 / §5.2: may the stored response answer this request?
 * always_from_cache (RouterOS): a fresh object wins over the client's
 * refresh directives (no-cache, max-age, Pragma: no-cache).
 */
enum cache_serve cache_serve(const struct cache_resp *, const struct cache_cc *req_cc,
	    int64_t now, int64_t max_fresh_time, bool always_from_cache);
const char	*cache_serve_str(enum cache_serve);

/* RFC 5861 §4: the origin failed; may the stale response be served instead? */
bool	cache_stale_if_error_ok(const struct cache_resp *, const struct cache_cc *req_cc,
	    int64_t now, int64_t max_fresh_time);

/*
 * §4.3.1: the validator fields for a conditional request, written as
 * "If-None-Match: <etag>\r\nIf-Modified-Since: <lm>\r\n" into buf.  Either
 * input may be empty.  Returns the length, or -1 if buf is too small.
 */
ssize_t	cache_conditional_fields(const struct vd_str *etag, const struct vd_str *last_modified,
	    char *buf, size_t size);

/*
 * RFC 9110 §13.1.1/§13.2.2 and RFC 9111 §4.3.2: evaluate a client's
 * If-None-Match (weak comparison) / If-Modified-Since against a stored
 * response that may be served.  inm/ims may be NULL or empty.  Returns 304
 * or 200.  If-Match, If-Unmodified-Since and If-Range are not evaluated by
 * the cache (the caller forwards such requests).
 */
int	cache_client_conditional(const struct vd_str *inm, const struct vd_str *ims,
	    const struct vd_str *etag, const struct cache_resp *, int64_t now);

/* RFC 9110 §8.8.3.2 weak comparison of two entity-tags. */
bool	cache_etag_weak_eq(const char *a, size_t alen, const char *b, size_t blen);

/*
 * §3.1: may this field be stored at all (not hop-by-hop, not proxy-specific)?
 * §3.2 / §4.3.4: does a 304 (or HEAD) update replace the stored field?
 */
bool	cache_field_storable(const char *name, size_t len);
bool	cache_field_updatable(const char *name, size_t len);

/*
 * Does this stored field describe the stored content octets themselves
 * (Content-Range, Content-MD5, Content-Digest: RFC 9110 §14.4, RFC 9530
 * §2)?  Such a field is not true of a part (206) or of no content (304).
 */
bool	cache_field_of_body(const char *name, size_t len);

/*
 * The next "Name: value\r\n" line of a header block b (blen bytes) from
 * *pos: the line at [*l0, *l0 + *llen), its name *nlen bytes long.  false at
 * the end.
 */
bool	cache_head_next(const char *b, size_t blen, size_t *pos, size_t *l0, size_t *llen,
	    size_t *nlen);

/*
 * §3.2 / §4.3.4: merge the fields of a 304 (block "Name: v\r\n..." as
 * received, hop-by-hop already removed) into a stored header block of the
 * same format.  Stored fields that the 304 carries and that are updatable
 * are replaced (every line of that name); the others stay.  Writes the
 * result into out; returns its length, or -1 if out is too small.
 */
ssize_t	cache_merge_304(const char *stored, size_t slen, const char *upd, size_t ulen,
	    char *out, size_t size);

/* §4.4: does a response to this method invalidate stored responses? */
bool	cache_method_invalidates(const char *method, size_t mlen, int status);

/*
 * RFC 9110 §5.6.7: IMF-fixdate, RFC 850 (2-digit year: the most recent year
 * with those digits not more than 50 years ahead of now; now <= 0 means
 * years 70-99 are 19xx) and asctime.  Returns seconds or CACHE_TIME_INVALID.
 */
int64_t	cache_http_date_parse(const char *p, size_t len, int64_t now);
/* IMF-fixdate, 29 bytes + NUL; returns 29. */
#define CACHE_HTTP_DATE_LEN	29
size_t	cache_http_date_fmt(int64_t t, char buf[CACHE_HTTP_DATE_LEN + 1]);

#endif
