/*
 * cache_dscp.h — RouterOS's cache-hit-dscp: the DSCP mark on the client
 * socket while cache hits are sent (in a worker: cache_hit.c says when a
 * hit starts, proxy.c when a response that is not a hit does).
 *
 * The mark is set when a hit starts and taken off when a later response on
 * the same connection is not a hit (a miss, a pass-through, an error page,
 * viaduct's own reply, a tunnel), so that a run of hits on a keep-alive
 * connection costs one setsockopt at its first hit and one at the switch
 * back, never two per request, and a response that is not a hit never
 * carries the mark.  Taking it off puts back what the socket carried
 * before the first mark (read once per connection, at that first mark):
 * DSCP 0 normally, or what the listener or net.ipv4.tcp_reflect_tos gave
 * the accepted socket.  IPv4 peers get IP_TOS, IPv6 peers IPV6_TCLASS; the
 * value is dscp << 2 with the socket's own ECN bits.  cache-hit-dscp=0
 * marks nothing.  A failed getsockopt or setsockopt is logged at debug
 * level and leaves the state as it was: the mark is a hint to the network,
 * never a reason to fail a response.
 */
#ifndef VD_CACHE_DSCP_H
#define VD_CACHE_DSCP_H

#include <stdbool.h>

struct conn;

/* Per client connection (struct conn): what its socket carries now. */
struct cache_dscp {
	bool	 on;		/* marked with the hit DSCP */
	bool	 known;		/* orig was read */
	int	 orig;		/* TOS / traffic class before the first mark */
};

/* A hit starts on c: mark the socket unless it is marked. */
void	cache_dscp_hit(struct conn *);
/* A response that is not a hit starts on c: the socket's own class back, if marked. */
void	cache_dscp_other(struct conn *);
/* A new connection in the slot: its socket carries its own class. */
void	cache_dscp_reset(struct conn *);

#endif
