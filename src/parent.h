/*
 * parent.h — parent proxies: the configured array, weighted rendezvous
 * (highest random weight) hashing of URLs over the live parents, failover
 * order, and down-marking with a hold time.
 *
 * Configuration (viaduct.conf(5)):
 *   /ip proxy set parent-proxy=ADDR parent-proxy-port=PORT   RouterOS: one parent
 *   /viaduct set parents=ADDR:PORT[/WEIGHT],...              several, weighted
 *   /viaduct set parent-hold-time=30s                        down-marking time
 * The RouterOS parent, when set (address and a port other than 0), is the
 * first member, with weight 1; `parents` adds the others (IPv6 in brackets,
 * [2001:db8::1]:3128/2; WEIGHT 1..1000, default 1).  A member is known by
 * its ADDR:PORT text, so adding or removing one leaves every other
 * member's hashes, and so its URLs, where they were.
 *
 * Choice.  For a URL every member gets a score w / -ln(h), h in (0,1) from
 * XXH3 of the URL seeded with the member's id; members are tried by
 * decreasing score.  The first is "the" parent of the URL: the same URL
 * always goes to the same parent while it lives, a member's share of URLs
 * is its weight over the sum of weights, and removing (or marking down) a
 * member moves only the URLs whose first choice it was, each to its own
 * next member by score.
 *
 * Health.  struct parent_health is per worker and mutable (the caller owns
 * it, e.g. in the worker's context; the set itself is immutable, part of
 * the conf, shared by every process over fork()).  A member that refuses or
 * times out is marked down until now + parent-hold-time; once that time has
 * passed it is live again, so the next request whose order puts it first
 * probes it: a success keeps it up (parent_mark_up), a failure marks it down
 * for another hold time.  Every function is pure but for the health it is
 * given, takes the clock as an argument (milliseconds, any monotonic
 * origin), never blocks, logs or allocates after parent_set_new().
 *
 * How upstream.c uses it (upstream_parent_plan and upstream_parent_failed):
 *
 *	int order[PARENT_MAX], n, i;
 *
 *	if (set == NULL || set->n == 0 || rules_conn_direct(c, dst) == ALLOW)
 *		-> straight to the origin;
 *	n = parent_order(set, &w->parent_health, url, now_ms, order, PARENT_MAX);
 *	for (i = 0; i < n; i++) {			(asynchronously, in turn)
 *		connect to set->p[order[i]].addr (its port is in the sockaddr);
 *		refused, reset before a response, or connect-timeout /
 *		response-timeout:  parent_mark_down(set, &health, order[i], now_ms);
 *		    and try order[i + 1] (the request is replayed only if it
 *		    is idempotent or nothing of it was sent);
 *		a response header arrived: parent_mark_up(&health, order[i]); done.
 *	}
 *	n == 0 or all failed: to the origin unless a direct deny rule
 *	matched (RULES_DIRECT_DENY: never_direct), else 504 (timeouts) / 502.
 *	(upstream_parent_next re-plans after each failure: the failed member
 *	is down, so the order's next live member comes first.)
 *
 *   url: the absolute URL as the cache key sees it ("http://host[:port]/path?q",
 *   scheme and host lower case) so that the array caches each object once; for
 *   CONNECT the authority "host:port".  Requests to a parent are sent in
 *   absolute-form (RFC 9112 §3.2.2), CONNECT as a CONNECT to the parent; the
 *   access log's hierarchy code is CARP when set->n > 1, FIRSTUP_PARENT
 *   otherwise (accesslog.h).
 */
#ifndef VD_PARENT_H
#define VD_PARENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "viaduct.h"

struct vd_conf;

#define PARENT_MAX		64	/* members of an array */
#define PARENT_WEIGHT_MAX	1000
#define PARENT_NAME_MAX		(INET6_ADDRSTRLEN + 9)	/* "[addr]:port" */

struct parent {
	struct sockaddr_storage	 addr;		/* with the port */
	socklen_t		 addrlen;
	uint32_t		 weight;	/* 1..PARENT_WEIGHT_MAX */
	uint64_t		 id;		/* XXH3 of name: the URL hash seed */
	char			 name[PARENT_NAME_MAX];	/* "10.0.0.1:3128", for logs */
};

struct parent_set {
	struct parent		 p[PARENT_MAX];
	int			 n;
	int64_t			 hold_ms;	/* parent-hold-time */
};

/* Per worker: when each member of the set comes back (0: up). */
struct parent_health {
	int64_t			 down_until[PARENT_MAX];
};

/*
 * Build a set from a `parents` value (NULL or "" for none), plus the
 * RouterOS single parent first when single is not NULL and single_port is
 * not 0.  Returns a new set (free with parent_set_free) or NULL with a
 * one-line reason in err, e.g. `parents: "10.0.0.1" needs :PORT` or
 * `parents: out of memory`.
 */
struct parent_set	*parent_set_new(const char *parents, const struct sockaddr *single,
			    socklen_t single_len, uint16_t single_port, int64_t hold_ms,
			    char *err, size_t errlen);
void			 parent_set_free(struct parent_set *);

/*
 * The same from a loaded conf: parent-proxy/parent-proxy-port, parents and
 * parent-hold-time.  A conf without any parent gives a set with n == 0.
 */
struct parent_set	*parent_set_from_conf(const struct vd_conf *, char *err, size_t errlen);

/* The URL's score for member i (higher first); exposed for the tests. */
double			 parent_score(const struct parent_set *, int i, struct vd_str url);

/*
 * The live members in the order to try them for url: by decreasing score,
 * members down at `now` left out.  Writes at most max indexes into order and
 * returns how many; 0 when none is live (the caller goes to the origin when
 * the direct list allows it).  health may be NULL (all live).
 */
int			 parent_order(const struct parent_set *, const struct parent_health *,
			    struct vd_str url, int64_t now, int *order, int max);

/* The first of parent_order(), or -1. */
int			 parent_select(const struct parent_set *, const struct parent_health *,
			    struct vd_str url, int64_t now);

/* Member i refused or timed out at now: down until now + hold. */
void			 parent_mark_down(const struct parent_set *, struct parent_health *,
			    int i, int64_t now);
/* Member i answered: up. */
void			 parent_mark_up(struct parent_health *, int i);
bool			 parent_is_up(const struct parent_health *, int i, int64_t now);

/* The worker's health of its conf's set: kept in the worker's router,
 * which is per worker too (router.c). */
struct router;
struct parent_health	*router_parent_health(struct router *);

#endif
