/*
 * upstream.c — the origin side of a connection: connect to each resolved
 * address in turn.  One upstream per client connection for now; the
 * keep-alive pool per origin will sit behind upstream_connect/close.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "viaduct.h"
#include "log.h"
#include "stats.h"
#include "proxy.h"

static void
up_io_cb(struct ev_loop *l, struct ev_io *io, uint32_t ev)
{
	struct conn *c = io->data;

	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
		c->up.s.rd = true;
	if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->up.s.wr = true;
	proxy_run(c);
}

void
upstream_close(struct conn *c)
{
	struct upstream *u = &c->up;

	if (u->dnsq != NULL) {
		dns_cancel(u->dnsq);
		u->dnsq = NULL;
	}
	if (u->s.fd >= 0) {
		ev_io_del(c->t->loop, &u->s.io);
		close(u->s.fd);
		u->s.fd = -1;
		u->s.io.fd = -1;
		STATS_DEC(server_connections, 1);
	}
}

/* Start connecting to addrs[cur], then the next ones.  */
int
upstream_connect(struct conn *c)
{
	struct upstream *u = &c->up;
	int fd;

	while (u->cur < u->naddrs) {
		struct sockaddr *sa = (struct sockaddr *)&u->addrs[u->cur];

		fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			u->error = strerror(errno);
			log_warn("socket");
			return VD_ERR;
		}
		STATS_INC(server_connections, 1);
		u->s.fd = fd;
		u->s.rd = u->s.wr = u->s.eof = false;
		ev_io_init(&u->s.io, fd, up_io_cb, c);
		if (ev_io_add(c->t->loop, &u->s.io,
		    EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) == -1) {
			u->error = strerror(errno);
			upstream_close(c);
			return VD_ERR;
		}
		if (connect(fd, sa, u->lens[u->cur]) == 0) {
			u->s.wr = true;
			return VD_OK;
		}
		if (errno == EINPROGRESS)
			return VD_AGAIN;
		u->error = strerror(errno);
		upstream_close(c);
		u->cur++;
	}
	return VD_ERR;
}

int
upstream_connected(struct conn *c)
{
	struct upstream *u = &c->up;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(u->s.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == 0)
		return VD_OK;
	if (err == EINPROGRESS || err == EALREADY) {
		u->s.wr = false;
		return VD_AGAIN;
	}
	u->error = strerror(err);
	upstream_close(c);
	u->cur++;
	return upstream_connect(c);
}
