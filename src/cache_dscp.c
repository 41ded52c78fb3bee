/*
 * cache_dscp.c — the cache-hit-dscp mark on the client socket (see
 * cache_dscp.h for when it is set and taken off).
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <string.h>
#include <sys/socket.h>

#include "viaduct.h"
#include "cache_dscp.h"
#include "conf.h"
#include "log.h"
#include "proxy.h"

/* The traffic class for the peer's family.  c->peer is what accept gave:
 * an IPv6 text address has a ':' (a v4-mapped one is IPv4 on the wire,
 * and takes IP_TOS on its IPv6 socket). */
static int
set_class(const struct conn *c, int tclass)
{
	bool v6 = strchr(c->peer, ':') != NULL && strncmp(c->peer, "::ffff:", 7) != 0;
	int rc;

	if (v6)
		rc = setsockopt(c->cl.fd, IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof(tclass));
	else
		rc = setsockopt(c->cl.fd, IPPROTO_IP, IP_TOS, &tclass, sizeof(tclass));
	if (rc == -1) {
		log_debug("%s: cache-hit-dscp: %s: %s", c->peer,
		    v6 ? "IPV6_TCLASS" : "IP_TOS", strerror(errno));
		return VD_ERR;
	}
	return VD_OK;
}

void
cache_dscp_hit(struct conn *c, struct cache_dscp *d)
{
	int dscp = c->t->conf->cache_hit_dscp;

	/* a background revalidation's socket is a socketpair: no network */
	if (d->on || dscp == 0 || c->internal)
		return;
	if (set_class(c, dscp << 2) == VD_OK)
		d->on = true;
}

void
cache_dscp_other(struct conn *c, struct cache_dscp *d)
{
	if (d->on && set_class(c, 0) == VD_OK)
		d->on = false;
}

void
cache_dscp_reset(struct cache_dscp *d)
{
	d->on = false;
}
