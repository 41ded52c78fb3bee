/*
 * upstream.c — the origin side of a connection: connect to each resolved
 * address in turn (bound to src-address), the keep-alive pool of idle
 * origin connections, and the max-server-connections queue.
 *
 * Every open origin connection of a worker, busy or idle, counts against
 * the worker's share of max-server-connections.  When the share is used up
 * the least recently used idle connection is closed to make room; when none
 * is idle the request waits in a FIFO queue until a connection is released
 * (its connect timer still runs, so the wait is bounded).
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "viaduct.h"
#include "conf.h"
#include "log.h"
#include "stats.h"
#include "proxy.h"
#include "util.h"

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

/* ------------------------------------------------------------ wait queue */

static void
wq_remove(struct conn *c)
{
	struct conn_table *t = c->t;
	struct upstream *u = &c->up;

	if (!u->waiting)
		return;
	if (u->wprev != NULL)
		u->wprev->up.wnext = u->wnext;
	else
		t->wq_head = u->wnext;
	if (u->wnext != NULL)
		u->wnext->up.wprev = u->wprev;
	else
		t->wq_tail = u->wprev;
	u->wnext = u->wprev = NULL;
	u->waiting = false;
}

static void
wq_add(struct conn *c)
{
	struct conn_table *t = c->t;

	c->up.waiting = true;
	c->up.wnext = NULL;
	c->up.wprev = t->wq_tail;
	if (t->wq_tail != NULL)
		t->wq_tail->up.wnext = c;
	else
		t->wq_head = c;
	t->wq_tail = c;
}

/* Runs from its own timer so that a release never re-enters another
 * connection's state machine from inside the releasing one. */
static void
wake_cb(struct ev_loop *l, struct ev_timer *tm)
{
	struct conn_table *t = tm->data;
	struct conn *c;

	while ((c = t->wq_head) != NULL &&
	    (t->nserver < t->server_max || t->nidle > 0)) {
		wq_remove(c);
		proxy_run(c);
	}
}

static void
server_gone(struct conn_table *t)
{
	t->nserver--;
	STATS_DEC(server_connections, 1);
	if (t->wq_head != NULL)
		ev_timer_start(t->loop, &t->wake, 0);
}

/* ------------------------------------------------------------ the pool */

static void
idle_unlink(struct up_idle *e)
{
	struct conn_table *t = e->t;

	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		t->idle_lru = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	ev_io_del(t->loop, &e->io);
	ev_timer_stop(t->loop, &e->timer);
	e->next = t->idle_free;
	e->prev = NULL;
	t->idle_free = e;
	t->nidle--;
}

static void
idle_close(struct up_idle *e)
{
	int fd = e->fd;

	idle_unlink(e);
	close(fd);
	e->fd = -1;
	server_gone(e->t);
}

/* An idle connection became readable: the origin closed it or sent bytes
 * nobody asked for.  Either way it cannot carry a request any more. */
static void
idle_io_cb(struct ev_loop *l, struct ev_io *io, uint32_t ev)
{
	idle_close(io->data);
}

static void
idle_timer_cb(struct ev_loop *l, struct ev_timer *tm)
{
	idle_close(tm->data);
}

int
upstream_pool_init(struct conn_table *t)
{
	int workers = t->conf->workers > 0 ? t->conf->workers : 1;

	t->server_max = (t->conf->max_server_connections + workers - 1) / workers;
	if (t->server_max < 1)
		t->server_max = 1;
	ev_timer_init(&t->wake, wake_cb, t);
	t->idle_slots = calloc((size_t)t->server_max, sizeof(*t->idle_slots));
	if (t->idle_slots == NULL)
		return VD_ERR;
	for (int i = t->server_max; i-- > 0;) {
		struct up_idle *e = &t->idle_slots[i];

		e->t = t;
		e->fd = -1;
		e->io.fd = -1;
		ev_timer_init(&e->timer, idle_timer_cb, e);
		e->next = t->idle_free;
		t->idle_free = e;
	}
	return VD_OK;
}

void
upstream_pool_drain(struct conn_table *t)
{
	while (t->idle_lru != NULL)
		idle_close(t->idle_lru);
}

void
upstream_pool_free(struct conn_table *t)
{
	upstream_pool_drain(t);
	ev_timer_stop(t->loop, &t->wake);
	free(t->idle_slots);
	t->idle_slots = NULL;
}

static bool
idle_match(const struct up_idle *e, const struct upstream *u)
{
	return e->port == u->port && strcmp(e->host, u->host) == 0;
}

int
upstream_pool_get(struct conn *c)
{
	struct upstream *u = &c->up;
	struct up_idle *e;
	int fd;

	if (u->fresh_only)
		return VD_DECLINED;
	for (e = c->t->idle_lru; e != NULL; e = e->next)
		if (idle_match(e, u))
			break;
	if (e == NULL)
		return VD_DECLINED;
	fd = e->fd;
	e->fd = -1;
	idle_unlink(e);
	u->s = (struct side){ .fd = fd, .rd = true, .wr = true };
	ev_io_init(&u->s.io, fd, up_io_cb, c);
	if (ev_io_add(c->t->loop, &u->s.io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) == -1) {
		upstream_close(c);
		return VD_DECLINED;
	}
	u->reused = true;
	return VD_OK;
}

/* Park the connection; VD_DECLINED when the pool has no room for it. */
static int
pool_put(struct conn *c)
{
	struct conn_table *t = c->t;
	struct upstream *u = &c->up;
	struct up_idle *e;
	int same = 0;

	if ((e = t->idle_free) == NULL)
		return VD_DECLINED;
	for (struct up_idle *i = t->idle_lru; i != NULL; i = i->next)
		if (idle_match(i, u))
			same++;
	if (same >= t->conf->max_idle_per_server)
		return VD_DECLINED;
	t->idle_free = e->next;
	ev_io_del(t->loop, &u->s.io);
	e->fd = u->s.fd;
	e->port = u->port;
	memcpy(e->host, u->host, sizeof(e->host));
	ev_io_init(&e->io, e->fd, idle_io_cb, e);
	if (ev_io_add(t->loop, &e->io, EPOLLIN | EPOLLRDHUP | EPOLLET) == -1) {
		e->next = t->idle_free;
		t->idle_free = e;
		return VD_DECLINED;
	}
	ev_timer_start(t->loop, &e->timer, t->conf->server_idle_timeout);
	e->prev = NULL;
	e->next = t->idle_lru;
	if (t->idle_lru != NULL)
		t->idle_lru->prev = e;
	t->idle_lru = e;
	t->nidle++;
	u->s.fd = -1;
	u->s.io.fd = -1;
	if (t->wq_head != NULL)		/* a waiter takes it, or its slot */
		ev_timer_start(t->loop, &t->wake, 0);
	return VD_OK;
}

void
upstream_release(struct conn *c)
{
	struct upstream *u = &c->up;

	if (u->s.fd >= 0 && u->reusable && !u->s.eof && c->up.in.start == c->up.in.end &&
	    c->t->conf->max_idle_per_server > 0 && pool_put(c) == VD_OK)
		u->reusable = false;
	upstream_close(c);
}

/* ------------------------------------------------------------ connecting */

void
upstream_close(struct conn *c)
{
	struct upstream *u = &c->up;

	wq_remove(c);
	u->reused = u->reusable = false;
	if (u->dnsq != NULL) {
		dns_cancel(u->dnsq);
		u->dnsq = NULL;
	}
	if (u->s.fd >= 0) {
		ev_io_del(c->t->loop, &u->s.io);
		close(u->s.fd);
		u->s.fd = -1;
		u->s.io.fd = -1;
		server_gone(c->t);
	}
}

/* Room for one more origin connection: now, after closing an idle one, or not. */
static bool
server_slot(struct conn *c)
{
	struct conn_table *t = c->t;
	struct up_idle *lru;

	if (t->nserver < t->server_max)
		return true;
	if (t->idle_lru != NULL) {
		for (lru = t->idle_lru; lru->next != NULL; lru = lru->next)
			;
		idle_close(lru);
		return true;
	}
	return false;
}

static void
bind_source(struct conn *c, int fd, int family)
{
	const struct vd_conf *cf = c->t->conf;
	int one = 1;

	if (cf->src_address_len == 0 || cf->src_address.ss_family != family)
		return;
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&cf->src_address, cf->src_address_len) == -1)
		log_warn("bind to src-address");
}

/* Start connecting to addrs[cur], then the next ones.  */
int
upstream_connect(struct conn *c)
{
	struct upstream *u = &c->up;
	int fd;

	if (u->waiting)
		return VD_AGAIN;
	if (u->s.fd < 0 && u->cur == 0 && upstream_pool_get(c) == VD_OK)
		return VD_OK;		/* released while we waited */
	if (!server_slot(c)) {
		wq_add(c);
		return VD_AGAIN;
	}
	while (u->cur < u->naddrs) {
		struct sockaddr *sa = (struct sockaddr *)&u->addrs[u->cur];

		fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			u->error = strerror(errno);
			log_warn("socket");
			return VD_ERR;
		}
		STATS_INC(server_connections, 1);
		c->t->nserver++;
		u->s = (struct side){ .fd = fd };
		u->reused = false;
		bind_source(c, fd, sa->sa_family);
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
	char a[VD_SOCKADDR_STRLEN];
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
	log_info("%s: connect to %s: %s%s", c->peer,
	    vd_sockaddr_fmt((struct sockaddr *)&u->addrs[u->cur], a, sizeof(a)),
	    u->error, u->cur + 1 < u->naddrs ? ", trying the next address" : "");
	upstream_close(c);
	u->cur++;
	return upstream_connect(c);
}
