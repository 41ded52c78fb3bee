/*
 * listen.h — the listening sockets, owned by the master (STYLE.md pitfalls
 * 15 and 16): one shared socket per address, bound as root before the
 * privilege drop, inherited by every worker, carried over unchanged across
 * reloads so that no queued connection is ever lost.
 *
 * Each socket: SO_REUSEADDR, IPV6_V6ONLY on v6 (so that 0.0.0.0 and :: on
 * one port can coexist), non-blocking, close-on-exec, backlog 511.
 * Master only; nothing here logs.
 */
#ifndef VD_LISTEN_H
#define VD_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "conf.h"

#define LISTEN_MAX	(CONF_MAX_PORTS * CONF_MAX_LISTEN + 2 * CONF_MAX_LISTEN)	/* + admin */
#define LISTEN_BACKLOG	511

struct listen_sock {
	struct sockaddr_storage	 ls_addr;
	socklen_t		 ls_addrlen;
	int			 ls_fd;
};

struct listen_set {
	struct listen_sock	 socks[LISTEN_MAX];
	int			 n;
};

/*
 * Fill `set` with sockets for every listener `conf` asks for (the proxy's,
 * then the admin listener's, which may not share an address with them:
 * admin.h), reusing the descriptor of any address already in `old` (NULL
 * at start-up) and binding the rest.  On failure closes what it bound (never what it took from old),
 * puts one line in err ("cannot listen on ADDR: strerror") and returns -1.
 */
int	listen_open(struct listen_set *set, const struct vd_conf *conf,
	    const struct listen_set *old, char *err, size_t errlen);

/* Close the sockets of `old` that `cur` no longer uses (after a reload). */
void	listen_close_unused(const struct listen_set *old, const struct listen_set *cur);
void	listen_close_all(struct listen_set *);

/* Does the conf ask for a port below 1024 (so binding needs a capability)? */
bool	listen_needs_privileged(const struct vd_conf *);

/* Same address and port. */
bool	listen_addr_equal(const struct sockaddr_storage *, const struct sockaddr_storage *);

#endif
