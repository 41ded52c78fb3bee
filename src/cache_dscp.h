/*
 * cache_dscp.h — RouterOS's cache-hit-dscp: the DSCP mark on the client
 * socket while cache hits are sent (cache_proxy.c calls it, in a worker).
 *
 * The mark is set when a hit starts and taken off (TOS / traffic class 0)
 * when a later request on the same connection is not a hit, so that a run
 * of hits on a keep-alive connection costs one setsockopt at its first hit
 * and one at the switch back, never two per request.  IPv4 peers get
 * IP_TOS, IPv6 peers IPV6_TCLASS; the value is dscp << 2 (the ECN bits
 * are the kernel's).  cache-hit-dscp=0 marks nothing.  A failed
 * setsockopt is logged at debug level and leaves the state as it was:
 * the mark is a hint to the network, never a reason to fail a response.
 */
#ifndef VD_CACHE_DSCP_H
#define VD_CACHE_DSCP_H

#include <stdbool.h>

struct conn;

/* Per connection: what the client socket carries now. */
struct cache_dscp {
	bool	 on;		/* marked with the hit DSCP */
};

/* A hit starts on c: mark the socket unless it is marked. */
void	cache_dscp_hit(struct conn *, struct cache_dscp *);
/* A response that is not a hit starts on c: take the mark off if set. */
void	cache_dscp_other(struct conn *, struct cache_dscp *);
/* A new client connection in the slot: its socket carries no mark. */
void	cache_dscp_reset(struct cache_dscp *);

#endif
