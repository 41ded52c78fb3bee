/* listen.c — bind, match across reloads, close what is gone. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "viaduct.h"
#include "listen.h"
#include "util.h"

bool
listen_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4, *b4;
	const struct sockaddr_in6 *a6, *b6;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		a6 = (const struct sockaddr_in6 *)a;
		b6 = (const struct sockaddr_in6 *)b;
		return a6->sin6_port == b6->sin6_port &&
		    a6->sin6_scope_id == b6->sin6_scope_id &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr)) == 0;
	}
	return false;
}

static int
port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return -1;
}

static int
bind_one(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd, on = 1, saved;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	if (ss->ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)ss, len) == -1)
		goto fail;
	if (listen(fd, LISTEN_BACKLOG) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int
find(const struct listen_set *set, const struct sockaddr_storage *ss)
{
	if (set == NULL)
		return -1;
	for (int i = 0; i < set->n; i++)
		if (listen_addr_equal(&set->socks[i].ls_addr, ss))
			return i;
	return -1;
}

/* Close only what this call bound: descriptors taken from `old` stay. */
static void
undo(struct listen_set *set, const struct listen_set *old)
{
	for (int i = 0; i < set->n; i++)
		if (find(old, &set->socks[i].ls_addr) == -1)
			close(set->socks[i].ls_fd);
	set->n = 0;
}

int
listen_open(struct listen_set *set, const struct vd_conf *conf,
    const struct listen_set *old, char *err, size_t errlen)
{
	struct conf_listen addrs[LISTEN_MAX];
	char a[VD_SOCKADDR_STRLEN];
	struct listen_sock *ls;
	int n, j, nproxy;

	set->n = 0;
	n = conf_listeners(conf, addrs, (int)VD_ARRLEN(addrs));
	if (n <= 0) {
		snprintf(err, errlen, "the configuration has no listener");
		return -1;
	}
	nproxy = n;
	/* then the admin listener's (admin.h tells them apart by address) */
	n += conf_admin_listeners(conf, addrs + n, (int)VD_ARRLEN(addrs) - n);
	for (int i = 0; i < n; i++) {
		if (find(set, &addrs[i].addr) != -1 && i >= nproxy) {
			/* one socket for both would serve the admin URLs on the proxy */
			snprintf(err, errlen, "admin listener %s is also a proxy listener",
			    vd_sockaddr_fmt((struct sockaddr *)&addrs[i].addr, a, sizeof(a)));
			undo(set, old);
			return -1;
		}
		if (find(set, &addrs[i].addr) != -1)
			continue;	/* the same address twice: one socket */
		ls = &set->socks[set->n];
		ls->ls_addr = addrs[i].addr;
		ls->ls_addrlen = addrs[i].addrlen;
		if ((j = find(old, &addrs[i].addr)) != -1) {
			ls->ls_fd = old->socks[j].ls_fd;
		} else if ((ls->ls_fd = bind_one(&addrs[i].addr, addrs[i].addrlen)) == -1) {
			snprintf(err, errlen, "cannot listen on %s: %s",
			    vd_sockaddr_fmt((struct sockaddr *)&addrs[i].addr, a, sizeof(a)),
			    strerror(errno));
			undo(set, old);
			return -1;
		}
		set->n++;
	}
	return 0;
}

void
listen_close_unused(const struct listen_set *old, const struct listen_set *cur)
{
	for (int i = 0; i < old->n; i++)
		if (find(cur, &old->socks[i].ls_addr) == -1)
			close(old->socks[i].ls_fd);
}

void
listen_close_all(struct listen_set *set)
{
	for (int i = 0; i < set->n; i++)
		close(set->socks[i].ls_fd);
	set->n = 0;
}

bool
listen_needs_privileged(const struct vd_conf *conf)
{
	struct conf_listen addrs[LISTEN_MAX];
	int n, p;

	n = conf_listeners(conf, addrs, (int)VD_ARRLEN(addrs));
	n += conf_admin_listeners(conf, addrs + n, (int)VD_ARRLEN(addrs) - n);
	for (int i = 0; i < n; i++) {
		p = port_of(&addrs[i].addr);
		if (p >= 0 && p < 1024)
			return true;
	}
	return false;
}
