/*
 * transparent.c — SO_ORIGINAL_DST (transparent.h).
 */
#include "config.h"

#include <netinet/in.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <string.h>
#include <sys/socket.h>

#include "viaduct.h"
#include "transparent.h"

static bool
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port &&
	    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

int
transparent_original_dst(int fd, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);
	int rc;

	if (getsockname(fd, (struct sockaddr *)&local, &ll) == -1)
		return VD_DECLINED;
	memset(ss, 0, sizeof(*ss));
	*len = sizeof(*ss);
	if (local.ss_family == AF_INET)
		rc = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, ss, len);
	else if (local.ss_family == AF_INET6)
		rc = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, ss, len);
	else
		return VD_DECLINED;
	if (rc == -1 || same_addr(ss, &local))
		return VD_DECLINED;
	return VD_OK;
}
