/*
 * dns.h — name resolution inside a worker's event loop (c-ares).
 *
 * One resolver per worker; its sockets and its retransmission timer are
 * registered in the worker's loop, so a lookup never blocks.  /etc/hosts is
 * honoured ("localhost" works).  Positive answers are cached for their TTL
 * (at most an hour; hosts-file answers, TTL 0, are not cached), so a
 * cached name answers at once.  Callers asking for a name that is being
 * looked up wait for that lookup's answer (one question however many ask).
 * Queries and lookups live in pools sized at creation: no allocation per
 * lookup in our code.  A caller whose connection goes
 * away cancels its query; the answer is then dropped when it arrives, at
 * the latest after DNS_TIMEOUT_MS + 2 x DNS_TIMEOUT_MS per server.
 */
#ifndef VD_DNS_H
#define VD_DNS_H

#include <stdint.h>
#include <sys/socket.h>

#define DNS_MAX_ADDRS	8
/* A server that does not answer: its first try waits this long, the second
 * twice as long, then the lookup fails (c-ares's defaults add up to ~75 s) */
#define DNS_TIMEOUT_MS	1000
#define DNS_TRIES	2

struct ev_loop;
struct dns;
struct dns_query;

struct dns_result {
	int			 naddrs;
	struct sockaddr_storage	 addrs[DNS_MAX_ADDRS];
	socklen_t		 lens[DNS_MAX_ADDRS];
	const char		*error;		/* naddrs == 0: why */
};

typedef void	dns_cb(void *arg, const struct dns_result *);

/* servers: "ADDR[:PORT],..." to ask instead of resolv.conf's; NULL or "" none. */
struct dns	*dns_create(struct ev_loop *, int max_queries, const char *servers);
void		 dns_free(struct dns *);

/*
 * Resolve host (NUL-terminated, no brackets) for `port`.  *qp is set before
 * the lookup starts; the callback may run before dns_resolve returns (hosts
 * file, numeric address, cache: *qp is then NULL).  Returns VD_OK or VD_ERR
 * (no query slot free).
 */
int		 dns_resolve(struct dns *, const char *host, uint16_t port,
		    dns_cb *, void *arg, struct dns_query **qp);
void		 dns_cancel(struct dns_query *);

#endif
