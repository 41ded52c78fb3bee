/*
 * transparent.h — the original destination of a connection that the
 * firewall redirected to viaduct (nftables `redirect`, iptables REDIRECT or
 * DNAT): SO_ORIGINAL_DST from conntrack.  Worker only; one getsockopt.
 */
#ifndef VD_TRANSPARENT_H
#define VD_TRANSPARENT_H

#include <sys/socket.h>

/* VD_OK with the original destination when the connection was redirected
 * (it differs from the local address), VD_DECLINED when it was not (or
 * conntrack does not know it). */
int	transparent_original_dst(int fd, struct sockaddr_storage *, socklen_t *);

#endif
