/*
 * cache_key.h — the cache key: normalised URL, Vary selection, 128-bit hash.
 *
 * Contract: pure functions, no allocation; output goes to caller buffers.
 *
 * Normalisation (RFC 9110 §4.2.3, RFC 3986 §6.2.2), deliberately conservative:
 *   - scheme and host lowercased; userinfo refused (VD_ERR); a fragment dropped;
 *   - the port: leading zeros dropped, the scheme's default (80/443) and an
 *     empty port removed;
 *   - empty path -> "/";
 *   - percent-encoding: the two hex digits are uppercased ("%2f" -> "%2F",
 *     RFC 3986 §6.2.2.1), nothing is decoded or encoded otherwise: "%41" and
 *     "A" stay different keys (a miss costs a fetch, a false match serves the
 *     wrong object), and dot-segments are left alone for the same reason.
 *
 * How the request path uses it:
 *   1. build the absolute URL (absolute-form as received; origin-form:
 *      "http://" + Host + target) and cache_key_url_norm() it into the
 *      connection's workspace;
 *   2. cache_key_primary() -> look it up (cache_store_lookup);
 *   3. if the record found is a Vary marker (CACHE_OBJ_VARY, its vary names
 *      in obj.vary), cache_key_variant() with the request's fields and look
 *      that key up; a store of a response with Vary writes the marker at the
 *      primary key and the response at the variant key.
 */
#ifndef VD_CACHE_KEY_H
#define VD_CACHE_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "viaduct.h"
#include "http_parse.h"

struct cache_key {
	uint8_t		 b[16];		/* XXH3-128, big-endian: byte order = LMDB order */
};

#define CACHE_KEY_HEXLEN	32
/* 32 hex digits + NUL; returns buf. */
char	*cache_key_hex(const struct cache_key *, char buf[CACHE_KEY_HEXLEN + 1]);

/* Normalise an absolute http(s) URL.  VD_OK with *outlen, VD_ERR malformed or too long. */
int	cache_key_url_norm(const char *url, size_t len, char *out, size_t size,
	    size_t *outlen);

/* The key of a normalised URL alone. */
void	cache_key_primary(const char *nurl, size_t len, struct cache_key *);

/*
 * The key of a URL as fetched from the address `dst` ("addr:port") rather
 * than from the host the URL names: a transparent proxy connects to the
 * firewall's original destination whatever Host says, so what one
 * destination answered must never become the object of another (cache
 * poisoning by Host, as Squid's CVE-2009-0801).  Never equal to the URL's
 * own key.
 */
void	cache_key_primary_at(const char *nurl, size_t len, const char *dst,
	    struct cache_key *);

/*
 * The key of a URL as a reverse port fetches it: from the origin that
 * reverse-origins configures for its Host (origin:port), not from the
 * host the URL names.  An explicit proxy client asking for the same URL
 * gets the URL's own object and a reverse client the configured origin's,
 * and neither is ever the other's (nor is a Surrogate-Control lifetime,
 * honoured on reverse ports only).  Never equal to the URL's own key nor
 * to a cache_key_primary_at() key.
 */
void	cache_key_reverse(const char *nurl, size_t len, const char *origin, uint16_t port,
	    struct cache_key *);

/*
 * Every key a normalised URL's objects may be stored under that can be
 * known from the URL: its own, and when a reverse port serves its host
 * (origin, port: router_reverse_url(); origin NULL: none) the
 * cache_key_reverse() key.  For a purge by URL.  Returns how many keys were
 * written (1 or 2).  Transparent objects keyed by a destination other than
 * their Host (cache_key_primary_at()) cannot be named this way.
 */
int	cache_key_all(const char *nurl, size_t len, const char *origin, uint16_t port,
	    struct cache_key k[2]);

/*
 * Normalise a Vary field value into the canonical name list stored with
 * the marker: names lowercased, duplicates dropped, sorted, joined by ",".
 * VD_OK, VD_DECLINED for "*" (never reusable), VD_ERR too long / too many
 * (more than CACHE_VARY_MAX names).
 */
#define CACHE_VARY_MAX	16
int	cache_key_vary_names(const char *vary, size_t len, char *out, size_t size,
	    size_t *outlen);

/*
 * The variant key: the primary key it hangs off (its Vary marker's: so a
 * variant is in the marker's namespace, cache_key_primary_at() and
 * cache_key_reverse() included), the URL, then for each name of a canonical list
 * (cache_key_vary_names) the request's value of that field normalised —
 * every field line of that name combined in order, each list member
 * OWS-trimmed, joined with "," (and lowercased for Accept-Language,
 * Accept-Encoding and Accept-Charset, whose values are case-insensitive) —
 * or an "absent" marker distinct from an empty value (RFC 9111 §4.1).
 * fields/n: the request's parsed fields.
 */
void	cache_key_variant(const struct cache_key *primary, const char *nurl, size_t len,
	    const char *names, size_t nlen, const struct http_field *fields, int n,
	    struct cache_key *);

/*
 * RFC 9111 §4.4: resolve a Location / Content-Location value against the
 * normalised target URL; VD_OK with the normalised absolute URL in out if
 * it has the same origin, VD_DECLINED if not (never invalidate another
 * origin), VD_ERR if malformed or too long.
 */
int	cache_key_same_origin(const char *nurl, size_t nlen, const char *ref, size_t rlen,
	    char *out, size_t size, size_t *outlen);

#endif
