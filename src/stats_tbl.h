/*
 * stats_tbl.h — every counter in a stats slot, once: struct field,
 * viaductctl name, kind (counter never goes down; gauge is a current value),
 * help text (Prometheus HELP).  Add a line here and it appears everywhere.
 */
#define STATS_FIELDS(X) \
	X(accepted,		"accepted",		COUNTER, "client connections accepted") \
	X(client_connections,	"client-connections",	GAUGE,   "open client connections") \
	X(server_connections,	"server-connections",	GAUGE,   "open connections to origins and parents") \
	X(requests,		"requests",		COUNTER, "requests received from clients") \
	X(responses_4xx,	"responses-4xx",	COUNTER, "4xx responses sent to clients") \
	X(responses_5xx,	"responses-5xx",	COUNTER, "5xx responses sent to clients") \
	X(received_from_servers, "received-from-servers", COUNTER, "bytes received from origins and parents") \
	X(sent_to_clients,	"sent-to-clients",	COUNTER, "bytes sent to clients") \
	X(hits,			"hits",			COUNTER, "requests served from the cache") \
	X(hits_sent_to_clients,	"hits-sent-to-clients",	COUNTER, "bytes of cache hits sent to clients") \
	X(upstream_errors,	"upstream-errors",	COUNTER, "origin connections refused, reset or timed out")
