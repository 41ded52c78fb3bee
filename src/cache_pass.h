/*
 * cache_pass.h — keys whose last response could not be stored ("hit for
 * pass", as Varnish calls it).  Collapsed forwarding (cache_collapse.h)
 * makes the requests for a key wait while one of them fetches it; for a
 * URL that answers no-store (an API, a personalised page) that wait is pure
 * loss, and 50 clients asking for it at once would be served one wave at a
 * time.  A worker notes such a key for a while and requests for it go
 * straight to the origin; a response for it that is stored forgets it.
 *
 * One table per worker, direct-mapped on the key (a collision forgets the
 * older key: at worst one more wave waits).  No allocation, no system call.
 */
#ifndef VD_CACHE_PASS_H
#define VD_CACHE_PASS_H

#include <stdbool.h>
#include <stdint.h>

#include "cache_key.h"

#define CACHE_PASS_SLOTS	1024	/* a power of two */
#define CACHE_PASS_MS		30000	/* how long a noted key passes */

struct cache_pass {
	struct {
		struct cache_key k;
		int64_t		 until;		/* loop ms; 0: free */
	} e[CACHE_PASS_SLOTS];
};

/* The response for k was not stored: pass it until now_ms + ttl_ms. */
void	cache_pass_note(struct cache_pass *, const struct cache_key *k, int64_t now_ms,
	    int64_t ttl_ms);
/* Does k pass now? */
bool	cache_pass_has(const struct cache_pass *, const struct cache_key *k, int64_t now_ms);
/* A response for k was stored: it no longer passes. */
void	cache_pass_forget(struct cache_pass *, const struct cache_key *k);

#endif
