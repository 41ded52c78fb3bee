/*
 * stats_tbl.h — every counter in a stats slot, once: struct field,
 * viaductctl name, kind (counter never goes down; gauge is a current value),
 * help text (Prometheus HELP).  Add a line here and it appears everywhere.
 */
#define STATS_FIELDS(X) \
	X(accepted,		"accepted",		COUNTER, "client connections accepted") \
	X(client_connections,	"client-connections",	GAUGE,   "open client connections") \
	X(accepting,		"accepting",		GAUGE,   "workers taking new connections (1 per worker while it listens)") \
	X(server_connections,	"server-connections",	GAUGE,   "open connections to origins and parents") \
	X(requests,		"requests",		COUNTER, "requests received from clients") \
	X(responses_4xx,	"responses-4xx",	COUNTER, "4xx responses sent to clients") \
	X(responses_5xx,	"responses-5xx",	COUNTER, "5xx responses sent to clients") \
	X(syslog_dropped,	"syslog-dropped",	COUNTER, "access log lines the syslog socket did not take (full or absent)") \
	X(received_from_servers, "received-from-servers", COUNTER, "bytes received from origins and parents") \
	X(sent_to_clients,	"sent-to-clients",	COUNTER, "bytes sent to clients") \
	X(hits,			"hits",			COUNTER, "requests served from the cache") \
	X(hits_sent_to_clients,	"hits-sent-to-clients",	COUNTER, "bytes of cache hits sent to clients") \
	X(upstream_errors,	"upstream-errors",	COUNTER, "origin connections refused, reset or timed out") \
	X(parent_fallbacks,	"parent-fallbacks",	COUNTER, "requests sent straight to the origin because no parent proxy answered") \
	X(cache_used,		"cache-used",		GAUGE,   "bytes of objects in the cache") \
	X(cache_full,		"cache-full",		COUNTER, "inserts that found the cache map or disk full (evicted, retried)") \
	X(cache_evicted,	"cache-evicted",	COUNTER, "objects evicted least recently used first (size bound or full store)") \
	/* RouterOS /ip proxy inserts and lookups (0 until the cache stores objects) */ \
	X(inserts_successes,	"inserts-successes",	COUNTER, "objects stored in the cache") \
	X(inserts_denied,	"inserts-denied",	COUNTER, "objects not stored because the cache list denied them") \
	X(inserts_too_large,	"inserts-too-large",	COUNTER, "objects not stored because they were too large") \
	X(inserts_no_memory,	"inserts-no-memory",	COUNTER, "objects not stored for lack of cache space") \
	X(inserts_errors,	"inserts-errors",	COUNTER, "objects not stored because of a disk or system error") \
	X(lookups_successes,	"lookups-successes",	COUNTER, "requests found fresh in the cache") \
	X(lookups_expired,	"lookups-expired",	COUNTER, "requests found in the cache but stale, fetched again") \
	X(lookups_no_expiration_info, "lookups-no-expiration-info", COUNTER, "conditional requests for objects without validators") \
	X(lookups_non_cacheable, "lookups-non-cacheable", COUNTER, "requests the cache list keeps out of the cache") \
	X(lookups_not_found,	"lookups-not-found",	COUNTER, "requests not found in the cache") \
	X(lookups_denied,	"lookups-denied",	COUNTER, "requests denied by the access list") \
	/* collapsed forwarding (cache_collapse.h) */ \
	X(collapsed_waits,	"collapsed-waits",	COUNTER, "cache misses that waited for another request's fetch") \
	X(collapsed_hits,	"collapsed-hits",	COUNTER, "collapsed waits answered from the cache") \
	X(collapsed_wakeups,	"collapsed-wakeups",	COUNTER, "signals sent to workers waiting for a fetch that moved") \
	/* 0 but in a build configured with --enable-alloc-count (alloc_count.h) */ \
	X(allocations,		"allocations",		GAUGE,   "malloc-family calls of the process so far (alloc-count builds only)")
