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

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "viaduct.h"
#include "conf.h"
#include "log.h"
#include "parent.h"
#include "stats.h"
#include "proxy.h"
#include "rules.h"
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

/* What a pooled connection is known by: the origin's name and port, or for
 * a parent its "addr:port" with port 0 (no origin has port 0), so that
 * requests for any origin share the connections to one parent. */
static const char *
pool_key(const struct conn *c, uint16_t *port)
{
	const struct upstream *u = &c->up;

	if (u->via_parent) {
		*port = 0;
		return c->t->conf->parent_set->p[u->pidx[u->cur]].name;
	}
	*port = u->port;
	return u->host;
}

static bool
idle_match(const struct up_idle *e, const struct conn *c)
{
	uint16_t port;
	const char *host = pool_key(c, &port);

	return e->port == port && strcmp(e->host, host) == 0;
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
		if (idle_match(e, c))
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
		if (idle_match(i, c))
			same++;
	if (same >= t->conf->max_idle_per_server)
		return VD_DECLINED;
	t->idle_free = e->next;
	ev_io_del(t->loop, &u->s.io);
	e->fd = u->s.fd;
	snprintf(e->host, sizeof(e->host), "%s", pool_key(c, &e->port));
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

/* A parent accepted the connection: up again if it was on probation. */
static void
parent_up(struct conn *c)
{
	if (c->up.via_parent)
		parent_mark_up(router_parent_health(c->t->router), c->up.pidx[c->up.cur]);
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
			parent_up(c);
			return VD_OK;
		}
		if (errno == EINPROGRESS)
			return VD_AGAIN;
		u->error = strerror(errno);
		upstream_parent_failed(c);
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
	if (err == 0) {
		parent_up(c);
		return VD_OK;
	}
	if (err == EINPROGRESS || err == EALREADY) {
		u->s.wr = false;
		return VD_AGAIN;
	}
	u->error = strerror(err);
	upstream_parent_failed(c);
	log_info("%s: connect to %s: %s%s", c->peer,
	    vd_sockaddr_fmt((struct sockaddr *)&u->addrs[u->cur], a, sizeof(a)),
	    u->error, u->cur + 1 < u->naddrs ? ", trying the next address" : "");
	upstream_close(c);
	u->cur++;
	return upstream_connect(c);
}

/* ------------------------------------------------------------ parents */

void
upstream_parent_failed(struct conn *c)
{
	struct upstream *u = &c->up;
	const struct parent_set *ps = c->t->conf->parent_set;

	if (!u->via_parent || u->cur >= u->naddrs)
		return;
	log_info("%s: parent %s failed: marked down for %lld ms", c->peer,
	    ps->p[u->pidx[u->cur]].name, (long long)ps->hold_ms);
	parent_mark_down(ps, router_parent_health(c->t->router), u->pidx[u->cur],
	    c->t->loop->now_ms);
}

/* "http://host[:port]" of the origin (IPv6 in brackets, host lower case:
 * the URL as the cache key sees it), or "host:port" for CONNECT. */
static size_t
origin_authority(const struct conn *c, char *buf, size_t len)
{
	const struct upstream *u = &c->up;
	bool v6 = strchr(u->host, ':') != NULL;
	int n;

	if (c->connect)
		n = snprintf(buf, len, "%s%s%s:%u", v6 ? "[" : "", u->host, v6 ? "]" : "",
		    (unsigned)u->port);
	else if (u->port == 80)
		n = snprintf(buf, len, "http://%s%s%s", v6 ? "[" : "", u->host, v6 ? "]" : "");
	else
		n = snprintf(buf, len, "http://%s%s%s:%u", v6 ? "[" : "", u->host,
		    v6 ? "]" : "", (unsigned)u->port);
	if (n < 0)
		n = 0;
	if ((size_t)n >= len)
		n = (int)len - 1;
	for (int i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)buf[i]);
	return (size_t)n;
}

/* The hash key: the absolute URL (a long one cut short, the same for
 * every request of that URL), for CONNECT the authority. */
static struct vd_str
parent_url(const struct conn *c, char *buf, size_t len)
{
	const struct http_req *r = &c->req;
	struct vd_str path = r->form == HTTP_FORM_ABSOLUTE ? r->path : r->target;
	size_t n = origin_authority(c, buf, len);

	if (!c->connect) {
		if (path.len == 0 || path.p[0] != '/')
			n += (size_t)snprintf(buf + n, len - n, "/");
		if (path.len > len - n - 1)
			path.len = len - n - 1;
		memcpy(buf + n, path.p, path.len);
		n += path.len;
	}
	return (struct vd_str){ buf, n };
}

/* The head in c->out to absolute-form (RFC 9112 §3.2.2): the authority
 * goes in front of the origin-form target; "*" (OPTIONS with an empty
 * path) becomes the authority alone (§3.2.4).  Done once per request: a
 * retry finds it done. */
static int
head_absolute(struct conn *c)
{
	struct http_out *o = &c->out;
	char auth[300];
	size_t alen = origin_authority(c, auth, sizeof(auth)), at, cut = 0;
	char *sp = memchr(o->p, ' ', o->len);

	if (sp == NULL)
		return VD_ERR;
	at = (size_t)(sp + 1 - o->p);
	if (at < o->len && o->p[at] != '/' && o->p[at] != '*')
		return VD_OK;		/* already absolute */
	if (at < o->len && o->p[at] == '*')
		cut = 1;
	if (o->len - cut + alen > o->cap)
		return VD_ERR;
	memmove(o->p + at + alen, o->p + at + cut, o->len - at - cut);
	memcpy(o->p + at, auth, alen);
	o->len = o->len - cut + alen;
	return VD_OK;
}

/* The direct list: VD_DECLINED goes straight to the origin.  Its
 * dst-address rules see a literal address; for a name they count as "no"
 * (rules.h), so the request takes the parent, which resolves it. */
static bool
direct_allowed(struct conn *c)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	const struct sockaddr *dst = NULL;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, c->up.host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(c->up.port);
		dst = (const struct sockaddr *)&ss;
	} else if (inet_pton(AF_INET6, c->up.host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(c->up.port);
		dst = (const struct sockaddr *)&ss;
	}
	return rules_conn_direct_allowed(c, dst);
}

int
upstream_parent_plan(struct conn *c)
{
	const struct parent_set *ps = c->t->conf->parent_set;
	struct upstream *u = &c->up;
	int order[DNS_MAX_ADDRS], n;
	char buf[4096];

	u->via_parent = false;
	/* reverse mode has its configured origins; no parent, no change */
	if (ps == NULL || ps->n == 0 || c->mode == ROUTER_REVERSE || direct_allowed(c))
		return VD_DECLINED;
	n = parent_order(ps, router_parent_health(c->t->router), parent_url(c, buf,
	    sizeof(buf)), c->t->loop->now_ms, order, DNS_MAX_ADDRS);
	if (n == 0) {
		/* RouterOS: the direct list denies the origin, no parent answers */
		STATS_INC(upstream_errors, 1);
		proxy_error(c, 502, "no parent proxy is reachable");
		return VD_ERR;
	}
	for (int i = 0; i < n; i++) {
		memcpy(&u->addrs[i], &ps->p[order[i]].addr, sizeof(u->addrs[i]));
		u->lens[i] = ps->p[order[i]].addrlen;
		u->pidx[i] = (int8_t)order[i];
	}
	u->naddrs = n;
	u->cur = 0;
	u->via_parent = true;
	if (!c->connect && head_absolute(c) != VD_OK) {
		u->via_parent = false;
		proxy_error(c, 431, "request header too large to forward");
		return VD_ERR;
	}
	return VD_OK;
}

int
upstream_parent_connect_head(struct conn *c)
{
	char auth[300];

	origin_authority(c, auth, sizeof(auth));
	c->out.len = 0;
	c->out.overflow = false;
	http_out_str(&c->out, "CONNECT ");
	http_out_str(&c->out, auth);
	http_out_str(&c->out, " HTTP/1.1\r\nHost: ");
	http_out_str(&c->out, auth);
	/* our Via, so that a chain of viaduct nodes still sees a loop */
	http_out_str(&c->out, "\r\nVia: 1.1 ");
	http_out_str(&c->out, c->t->via);
	http_out_str(&c->out, "\r\n\r\n");
	c->out_off = 0;
	return c->out.overflow ? VD_ERR : VD_OK;
}
