/*
 * rules.h — the /ip proxy access, cache and direct lists (RouterOS
 * semantics), compiled once at load and matched per request.
 *
 * Lists are read top to bottom and the first matching enabled rule decides
 * with its action; no match gives the list's default: access allows, cache
 * caches, direct denies ("through the parent", when one is configured).
 * Classifiers are ANDed; a rule without any matches every request.  `!`
 * before a value negates that classifier.
 *
 * Patterns (dst-host, path): a wildcard pattern (`*` any run, `?` one
 * character) matches the whole string, dst-host case-insensitively; a
 * pattern that starts with `:` is a PCRE2 regular expression searched
 * anywhere in the string (dst-host caseless too).  Wildcards that are a
 * plain string, `*string` or `string*` are compared directly; every other
 * pattern becomes an anchored PCRE2 code, JIT-compiled at load.
 *
 * Cost: each list is indexed at load (rules_index.c), so a request pays
 * for the rules that could match it (same host, domain, client prefix, a
 * trigram of a regex's or wildcard's literal text that the subject
 * contains, ...) plus the rules that cannot be indexed (negations,
 * patterns without 3 literal bytes, ranges), not for the whole list; the
 * decision is exactly the top-to-bottom walk's.
 *
 * Files: rules_compile.c (rules_compile, rules_destroy), rules_index.c,
 * rules.c (matching), all pure, sharing rules_types.h; rules_proxy.c (the
 * request path, below).
 *
 * Ownership and processes: rules_compile() runs in whichever process loads
 * the configuration (the master, viaduct -t, viaductctl) and the result is
 * part of the immutable struct vd_conf; workers inherit it over fork().  The
 * one mutable piece is the PCRE2 match block: scratch space that is only
 * used inside rules_match(), so each single-threaded process uses its own
 * copy-on-write copy of it, with no allocation per request.  Nothing here
 * blocks, logs or exits.
 *
 * Hits: rules_match() counts the deciding rule in this process's stats
 * slot (rule_hits[list][index], when stats.h defines STATS_RULE_HITS);
 * readers sum the slots like every other counter and the master folds a
 * dead worker's into `retired`.
 */
#ifndef VD_RULES_H
#define VD_RULES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "viaduct.h"

struct vd_conf;
struct rules;

enum rules_list {
	RULES_ACCESS,
	RULES_CACHE,
	RULES_DIRECT,
	RULES_NLISTS
};

/* At most this many rules per list: the hit counters are a fixed array per
 * stats slot, so that slots stay fixed-size.  16384 lets one list hold a
 * 10,000-line block list; it costs 3 x 16384 x 8 = 384 KiB of address space
 * per slot in a sparse file, of which only the pages of rules that were hit
 * (or that a reaped slot's fold touches) are ever backed. */
#define RULES_MAX		16384

enum rules_verdict {
	RULES_ALLOW,
	RULES_DENY,
	RULES_NEED_ADDR,	/* a rule needs dst-address: ask again with req->dst */
};

/* What a request looks like to the rules; every slice borrowed. */
struct rules_req {
	struct vd_str		 method;
	struct vd_str		 host;		/* no brackets around IPv6 literals */
	struct vd_str		 path;		/* path and query as requested, "/" if empty */
	uint16_t		 dst_port;
	uint16_t		 local_port;	/* the listener's port; 0 unknown */
	const struct sockaddr	*src;		/* the client; NULL unknown */
	const struct sockaddr	*dst;		/* what we connect to; NULL not yet known */
	bool			 no_dst;	/* dst NULL for good: the name has no
						 * address (dst-address matches none) */
};

struct rules_result {
	enum rules_verdict	 verdict;
	int			 index;		/* deciding rule (0-based), -1: the default */
	int			 line;		/* its config line, 0 for the default */
	const char		*redirect;	/* access deny: redirect-to, or NULL */
};

/*
 * Compile the three lists of a loaded conf.  On a problem, diag is called
 * once per error with the config line and column of the offending value and
 * a message such as "missing ) at offset 4" (PCRE2's own text for a regex);
 * every error is reported, then NULL is returned.  NULL with no diag call
 * means out of memory (reported as such through diag with line 0).
 */
typedef void rules_diag_cb(void *arg, int line, int col, const char *msg);
struct rules	*rules_compile(const struct vd_conf *, rules_diag_cb *, void *arg);
void		 rules_destroy(struct rules *);

/* Rules in a list, disabled ones included (hit indexes run over these). */
int		 rules_count(const struct rules *, enum rules_list);
/* Does any enabled rule of the list look at the local port / client address?
 * (lets the caller skip a getsockname() per request). */
bool		 rules_uses_local_port(const struct rules *, enum rules_list);

/*
 * Evaluate a list.  Returns the verdict (also in *res when res is not NULL).
 * RULES_NEED_ADDR when the first rule that could still match has dst-address
 * and req->dst is NULL: no later rule was looked at, so a request that an
 * earlier rule decided is never resolved for nothing.  Counts a hit for the
 * deciding rule (not for the default, not for RULES_NEED_ADDR).
 * A NULL rules (no conf) gives the defaults.
 */
enum rules_verdict rules_match(const struct rules *, enum rules_list,
		    const struct rules_req *, struct rules_result *res);

/* The same without counting a hit (a decision already counted, viaductctl). */
enum rules_verdict rules_peek(const struct rules *, enum rules_list,
		    const struct rules_req *, struct rules_result *res);

/* rules_peek() without the index: every enabled rule in turn.  The
 * reference the index is tested against (unit tests, the fuzzer). */
enum rules_verdict rules_peek_linear(const struct rules *, enum rules_list,
		    const struct rules_req *, struct rules_result *res);

/* The cache and direct decisions, as booleans.  RULES_NEED_ADDR counts as
 * "no" for both (not cached; through the parent): pass req->dst when a list
 * uses dst-address and the address is known. */
bool		 rules_cache_allowed(const struct rules *, const struct rules_req *);
bool		 rules_direct_allowed(const struct rules *, const struct rules_req *);

/* "access", "cache", "direct" */
const char	*rules_list_name(enum rules_list);

/*
 * The request path (rules_proxy.c), for proxy.c.  rules_access() runs the
 * access list on a parsed request before any upstream work: VD_OK go on;
 * VD_DECLINED an answer (403 page or 302 to redirect-to) is already queued
 * and the caller must return.  A rule that needs dst-address is evaluated
 * at once for a literal address; for a name c->up.acl_addr is set and
 * proxy.c resolves it and calls rules_access_addrs() with its addresses
 * (none: the name does not resolve) before the request goes on to the
 * cache, a parent or the origin: a deny of any address denies, and the
 * deciding rule counts once.  rules_access_resolved() checks each address
 * a connection is then opened to (the answer may have changed), without
 * counting again.
 */
struct conn;
struct sockaddr_storage;
int		 rules_access(struct conn *);
int		 rules_access_addrs(struct conn *, const struct sockaddr_storage *addrs, int n);
int		 rules_access_resolved(struct conn *, const struct sockaddr *dst);
bool		 rules_conn_cache_allowed(struct conn *);

/*
 * The direct list for a request that could go through a parent.  "No rule
 * matched" and "a deny rule matched" both mean "through the parents", but
 * only the first lets the request fall back to the origin when no parent
 * answers (Squid's prefer-parent vs never_direct; viaduct.conf(5)).  One
 * rules_match(): the deciding rule's hit is counted once, none for the
 * default or NEED_ADDR (ask again with the address, as rules_match says).
 */
enum rules_direct {
	RULES_DIRECT_UNASKED = 0,	/* not evaluated yet: the caller's zero state */
	RULES_DIRECT_NONE,		/* the default: parents, then the origin */
	RULES_DIRECT_DENY,		/* action=deny: the parents only */
	RULES_DIRECT_ALLOW,		/* action=allow: the origin */
	RULES_DIRECT_NEED_ADDR,		/* a dst-address rule and dst was NULL */
};
enum rules_direct rules_conn_direct(struct conn *, const struct sockaddr *dst);

#endif
