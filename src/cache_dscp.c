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

#define ECN_MASK	3	/* the low two bits of the TOS octet (RFC 3168) */

/* c->peer is what accept gave: an IPv6 text address has a ':' (a
 * v4-mapped one is IPv4 on the wire, and takes IP_TOS on its IPv6 socket). */
static bool
peer_v6(const struct conn *c)
{
	return strchr(c->peer, ':') != NULL && strncmp(c->peer, "::ffff:", 7) != 0;
}

static int
class_get(const struct conn *c, int *tclass)
{
	bool v6 = peer_v6(c);
	socklen_t len = sizeof(*tclass);
	int rc;

	if (v6)
		rc = getsockopt(c->cl.fd, IPPROTO_IPV6, IPV6_TCLASS, tclass, &len);
	else
		rc = getsockopt(c->cl.fd, IPPROTO_IP, IP_TOS, tclass, &len);
	if (rc == -1) {
		log_debug("%s: cache-hit-dscp: get %s: %s", c->peer,
		    v6 ? "IPV6_TCLASS" : "IP_TOS", strerror(errno));
		return VD_ERR;
	}
	return VD_OK;
}

static int
class_set(const struct conn *c, int tclass)
{
	bool v6 = peer_v6(c);
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
cache_dscp_hit(struct conn *c)
{
	struct cache_dscp *d = &c->dscp;
	int dscp = c->t->conf->cache_hit_dscp;

	/* a background revalidation's socket is a socketpair: no network */
	if (d->on || dscp == 0 || c->internal)
		return;
	/* once per connection: what to put back when the hits end */
	if (!d->known && class_get(c, &d->orig) == VD_OK)
		d->known = true;
	if (!d->known)
		return;
	/* the ECN bits stay the socket's (some kernels take IPV6_TCLASS whole) */
	if (class_set(c, dscp << 2 | (d->orig & ECN_MASK)) == VD_OK)
		d->on = true;
}

void
cache_dscp_other(struct conn *c)
{
	struct cache_dscp *d = &c->dscp;

	if (!d->on || c->cl.fd < 0)	/* unmarked, or closed already */
		return;
	if (class_set(c, d->orig) == VD_OK)
		d->on = false;
}

void
cache_dscp_reset(struct conn *c)
{
	c->dscp = (struct cache_dscp){ .on = false };
}
