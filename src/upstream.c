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
 *
 * serialize-connections=yes (RouterOS): a request for an origin that this
 * worker already has a connection to, busy, waits in a second FIFO for that
 * connection to come back to the pool instead of opening another; the
 * first waiter for the origin takes it.  A waiter gives up after
 * SERIAL_WAIT_MS and opens its own, and so does every waiter when the
 * origin's last connection closes (it did not keep the connection alive).
 *
 * An origin closes an idle connection when its own keep-alive timeout
 * expires (often 5 s), and a request sent on it at that moment fails with
 * nothing of a response.  An idempotent request without a body is then sent
 * again on a new connection (proxy.c); any other may not be (RFC 9112
 * §9.3.1), so such a request takes a pooled connection only while it is
 * younger than any origin's timeout is likely to be, and otherwise opens a
 * new one (Squid opens one always, server_pconn_for_nonretriable).
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
#include "admin.h"
#include "conf.h"
#include "log.h"
#include "parent.h"
#include "stats.h"
#include "proxy.h"
#include "rules.h"
#include "util.h"

static void	sock_close(struct up_sock *);
static bool	peer_gone(int fd);
static void	serial_kick(struct conn_table *);
static ev_timer_cb serial_cb;

/* RouterOS: "if a client is idle for too long (max 5 seconds by default),
 * it will give up waiting and open another connection to the server" */
#define SERIAL_WAIT_MS	5000

/* Below the keep-alive timeouts origins commonly run with (Apache, lighttpd
 * and Node.js 5 s, nginx 75 s), with room for a round trip: a connection
 * idle for less is very unlikely to be closing under the request. */
#define UPSTREAM_UNSAFE_IDLE_MS	2000

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

/* Events of an origin socket: to its owner while busy.  While idle, any
 * sign of input means the origin closed it or sent bytes nobody asked
 * for, so it cannot carry a request any more; a late EPOLLOUT (an ACK
 * freeing send space) means nothing. */
static void
sock_io_cb(struct ev_loop *l, struct ev_io *io, uint32_t ev)
{
	struct up_sock *k = io->data;
	struct conn *c = k->owner;

	if (c != NULL) {
		if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
			c->up.s.rd = true;
		if (ev & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))
			c->up.s.hup = true;
		if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			c->up.s.wr = true;
		proxy_run(c);
		return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
		sock_close(k);
}

static void
idle_unlink(struct up_sock *k)
{
	struct conn_table *t = k->t;

	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		t->idle_lru = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	k->next = k->prev = NULL;
	ev_timer_stop(t->loop, &k->timer);
	t->nidle--;
}

/* Close an origin socket, busy or idle, and give its slot back. */
static void
sock_close(struct up_sock *k)
{
	struct conn_table *t = k->t;

	if (k->owner == NULL)
		idle_unlink(k);
	ev_io_del(t->loop, &k->io);
	close(k->fd);
	k->fd = k->io.fd = -1;
	k->owner = NULL;
	k->next = t->sock_free;
	t->sock_free = k;
	server_gone(t);
	serial_kick(t);		/* the origin's last connection may be gone */
}

/* A slot and an epoll registration for a new origin socket; -1 when epoll
 * refuses it (the caller closes fd).  server_slot() made room first. */
static int
sock_open(struct conn *c, int fd)
{
	struct conn_table *t = c->t;
	struct up_sock *k = t->sock_free;

	if (k == NULL)
		return -1;
	ev_io_init(&k->io, fd, sock_io_cb, k);
	if (ev_io_add(t->loop, &k->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) == -1)
		return -1;
	t->sock_free = k->next;
	k->next = k->prev = NULL;
	k->fd = fd;
	k->owner = c;
	c->up.sock = k;
	return 0;
}

static void
idle_timer_cb(struct ev_loop *l, struct ev_timer *tm)
{
	sock_close(tm->data);
}

int
upstream_pool_init(struct conn_table *t)
{
	int workers = t->conf->workers > 0 ? t->conf->workers : 1;

	t->server_max = (t->conf->max_server_connections + workers - 1) / workers;
	if (t->server_max < 1)
		t->server_max = 1;
	ev_timer_init(&t->wake, wake_cb, t);
	ev_timer_init(&t->serial, serial_cb, t);
	t->socks = calloc((size_t)t->server_max, sizeof(*t->socks));
	if (t->socks == NULL)
		return VD_ERR;
	for (int i = t->server_max; i-- > 0;) {
		struct up_sock *k = &t->socks[i];

		k->t = t;
		k->fd = -1;
		k->io.fd = -1;
		ev_timer_init(&k->timer, idle_timer_cb, k);
		k->next = t->sock_free;
		t->sock_free = k;
	}
	return VD_OK;
}

void
upstream_pool_drain(struct conn_table *t)
{
	while (t->idle_lru != NULL)
		sock_close(t->idle_lru);
}

void
upstream_pool_free(struct conn_table *t)
{
	upstream_pool_drain(t);
	ev_timer_stop(t->loop, &t->wake);
	ev_timer_stop(t->loop, &t->serial);
	free(t->socks);
	t->socks = NULL;
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
idle_match(const struct up_sock *k, uint16_t port, const char *host)
{
	return k->port == port && strcmp(k->host, host) == 0;
}

/* ------------------------------------------------------------ origin versions */

static struct up_v10 *
v10_find(struct conn_table *t, const char *host, uint16_t port)
{
	for (int i = 0; i < UP_V10_MAX; i++)
		if (t->v10[i].port == port && t->v10[i].host[0] != '\0' &&
		    strcmp(t->v10[i].host, host) == 0)
			return &t->v10[i];
	return NULL;
}

/* An origin, or a parent (by pool_key(): an old proxy that answers in 1.0
 * cannot take a chunked body either, RFC 9112 §6.1). */
void
upstream_note_version(struct conn *c, int version)
{
	struct conn_table *t = c->t;
	struct up_v10 *e;
	uint16_t port;
	const char *host = pool_key(c, &port);

	e = v10_find(t, host, port);
	if (version != 10) {
		if (e != NULL)
			e->host[0] = '\0';
		return;
	}
	if (e != NULL)
		return;
	e = &t->v10[t->v10_next++ % UP_V10_MAX];
	e->port = port;
	snprintf(e->host, sizeof(e->host), "%s", host);
}

bool
upstream_origin_v10(const struct conn *c)
{
	uint16_t port;
	const char *host = pool_key(c, &port);

	return v10_find(c->t, host, port) != NULL;
}

/* ------------------------------------------------------------ serialize-connections */

static void
sq_remove(struct conn *c)
{
	struct conn_table *t = c->t;
	struct upstream *u = &c->up;

	if (!u->serial)
		return;
	if (u->sprev != NULL)
		u->sprev->up.snext = u->snext;
	else
		t->sq_head = u->snext;
	if (u->snext != NULL)
		u->snext->up.sprev = u->sprev;
	else
		t->sq_tail = u->sprev;
	u->snext = u->sprev = NULL;
	u->serial = false;
}

/* Every waiter has the same wait, so the head's bound comes first: the
 * timer is always armed no later than it. */
static void
sq_add(struct conn *c)
{
	struct conn_table *t = c->t;
	struct upstream *u = &c->up;

	u->serial = true;
	u->serial_until = t->loop->now_ms + SERIAL_WAIT_MS;
	u->snext = NULL;
	u->sprev = t->sq_tail;
	if (t->sq_tail != NULL)
		t->sq_tail->up.snext = c;
	else
		t->sq_head = c;
	t->sq_tail = c;
	if (!ev_timer_armed(&t->serial))
		ev_timer_start(t->loop, &t->serial, SERIAL_WAIT_MS);
	/* the connect timeout starts when the wait ends */
	conn_timer(c, t->conf->connect_timeout + SERIAL_WAIT_MS);
}

/* A connection to the origin is open: busy (idle_only false) or idle. */
static bool
origin_open(const struct conn_table *t, uint16_t port, const char *host, bool idle_only)
{
	for (int i = 0; i < t->server_max; i++) {
		const struct up_sock *k = &t->socks[i];

		if (k->fd >= 0 && (k->owner == NULL || !idle_only) && idle_match(k, port, host))
			return true;
	}
	return false;
}

/* Someone queued before c waits for the same origin: an idle connection
 * to it is theirs (FIFO), not c's. */
static bool
serial_ahead(const struct conn *c, uint16_t port, const char *host)
{
	for (const struct conn *w = c->t->sq_head; w != NULL; w = w->up.snext) {
		uint16_t wport;
		const char *whost = pool_key(w, &wport);

		if (wport == port && strcmp(whost, host) == 0)
			return w != c;
	}
	return false;
}

/* Should c wait for a connection another request holds?  Called once the
 * pool had nothing for it; queues c on the first yes. */
static bool
serial_wait(struct conn *c)
{
	struct upstream *u = &c->up;
	uint16_t port;
	const char *host;

	if (!c->t->conf->serialize_connections || c->connect || u->fresh_only ||
	    u->serial_gaveup || u->cur != 0 || u->s.fd >= 0)
		return false;
	host = pool_key(c, &port);
	if (!origin_open(c->t, port, host, false)) {
		sq_remove(c);		/* it closed: nothing to wait for */
		return false;
	}
	if (!u->serial) {
		log_debug("%s: serialize-connections: waiting for the connection to %s",
		    c->peer, host);
		sq_add(c);
	}
	return true;
}

/* Can the waiter go on: the origin's connection is idle and c is first
 * in line for it, or no connection to the origin is left. */
static bool
serial_ready(const struct conn *c)
{
	uint16_t port;
	const char *host = pool_key(c, &port);

	if (!origin_open(c->t, port, host, false))
		return true;
	return origin_open(c->t, port, host, true) && !serial_ahead(c, port, host);
}

/* From its own timer, like wake_cb: a connection came back or closed, or
 * a waiter's time is up. */
static void
serial_cb(struct ev_loop *l, struct ev_timer *tm)
{
	struct conn_table *t = tm->data;
	struct conn *c, *next;

	for (c = t->sq_head; c != NULL; c = next) {
		next = c->up.snext;
		if (l->now_ms >= c->up.serial_until) {
			log_debug("%s: serialize-connections: gave up waiting for %s",
			    c->peer, c->up.host);
			sq_remove(c);
			c->up.serial_gaveup = true;
			conn_timer(c, t->conf->connect_timeout);
			proxy_run(c);
		} else if (serial_ready(c)) {
			proxy_run(c);	/* takes it, or opens its own */
		}
	}
	if (t->sq_head != NULL && !ev_timer_armed(tm))
		ev_timer_start(l, tm, t->sq_head->up.serial_until - l->now_ms);
}

static void
serial_kick(struct conn_table *t)
{
	if (t->sq_head != NULL)
		ev_timer_start(t->loop, &t->serial, 0);
}

/* The pool key on a connection being opened, so that serialize-connections
 * sees it busy; a CONNECT tunnel never comes back, and has none. */
static void
sock_set_key(struct up_sock *k, const struct conn *c)
{
	uint16_t port;
	const char *host = pool_key(c, &port);
	size_t hl = strlen(host);

	if (c->connect || hl >= sizeof(k->host))
		hl = 0;
	memcpy(k->host, host, hl);
	k->host[hl] = '\0';
	k->port = port;
}

/* Could the request be sent again on a new connection if the pooled one
 * fails under it (proxy.h)? */
bool
upstream_retryable(const struct conn *c)
{
	static const char *const idem[] = { "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE" };
	struct vd_str m = c->req.method;

	if (c->req_fr.kind != HTTP_BODY_NONE)
		return false;
	for (size_t i = 0; i < VD_ARRLEN(idem); i++)
		if (m.len == strlen(idem[i]) && memcmp(m.p, idem[i], m.len) == 0)
			return true;
	return false;
}

int
upstream_pool_get(struct conn *c)
{
	struct upstream *u = &c->up;
	struct up_sock *k;
	uint16_t port;
	const char *host = pool_key(c, &port);

	if (u->fresh_only)
		return VD_DECLINED;
	for (k = c->t->idle_lru; k != NULL; k = k->next)
		if (idle_match(k, port, host))
			break;
	if (k == NULL || (c->t->sq_head != NULL && serial_ahead(c, port, host)))
		return VD_DECLINED;
	/*
	 * A request that cannot be sent twice (RFC 9110 §9.2.2) takes only a
	 * connection the origin cannot be closing unseen: not one idle too
	 * long (the LRU's first match is the youngest: if it is too old, all
	 * are), not one released in this very turn of the loop (a FIN right
	 * behind the last response has had no epoll_wait to show), not one
	 * whose end has arrived (one peek, for these requests only).
	 */
	if (!upstream_retryable(c) && (c->t->loop->now_ms - k->idle_since >= UPSTREAM_UNSAFE_IDLE_MS ||
	    k->idle_turn == c->t->loop->turn || peer_gone(k->fd))) {
		log_debug("%s: pooled connection to %s idle for %lld ms: a new one for %.*s",
		    c->peer, host, (long long)(c->t->loop->now_ms - k->idle_since),
		    (int)c->req.method.len, c->req.method.p);
		/* serialize-connections would wait for a connection it declines */
		sq_remove(c);
		u->serial_gaveup = true;
		return VD_DECLINED;
	}
	sq_remove(c);
	idle_unlink(k);
	k->owner = c;
	u->sock = k;
	/* not readable: it had nothing to read while idle, or the pool would
	 * have closed it; epoll says when the response starts */
	u->s = (struct side){ .fd = k->fd, .rd = false, .wr = true };
	u->s.io.fd = -1;
	u->reused = true;
	return VD_OK;
}

/* Park the connection; VD_DECLINED when the pool has no room for it. */
static int
pool_put(struct conn *c)
{
	struct conn_table *t = c->t;
	struct upstream *u = &c->up;
	struct up_sock *k = u->sock;
	uint16_t port;
	const char *host = pool_key(c, &port);
	size_t hl = strlen(host);
	int same = 0;

	if (hl >= sizeof(k->host))
		return VD_DECLINED;
	for (struct up_sock *i = t->idle_lru; i != NULL; i = i->next)
		if (idle_match(i, port, host))
			same++;
	if (same >= t->conf->max_idle_per_server)
		return VD_DECLINED;
	memcpy(k->host, host, hl + 1);
	k->port = port;
	k->owner = NULL;
	ev_timer_start(t->loop, &k->timer, t->conf->server_idle_timeout);
	k->idle_since = t->loop->now_ms;
	k->idle_turn = t->loop->turn;
	k->prev = NULL;
	k->next = t->idle_lru;
	if (t->idle_lru != NULL)
		t->idle_lru->prev = k;
	t->idle_lru = k;
	t->nidle++;
	u->sock = NULL;
	u->s.fd = -1;
	if (t->wq_head != NULL)		/* a waiter takes it, or its slot */
		ev_timer_start(t->loop, &t->wake, 0);
	serial_kick(t);
	return VD_OK;
}

/*
 * Bytes after the response's end still in the socket?  A read that filled
 * the buffer left the side marked readable (side_short_read): what came
 * beyond it raised its edge already and will raise none while the
 * connection idles, so the pool would hand it to the next request as its
 * response (RFC 9112 §6.3: never).  One peek, only then.
 */
static bool
peer_gone(int fd)
{
	char b;

	return !(recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == -1 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK));
}

static bool
unread(const struct side *s)
{
	return s->rd && peer_gone(s->fd);
}

void
upstream_release(struct conn *c)
{
	struct upstream *u = &c->up;

	/* hup: the origin's close came with the response's last bytes; its
	 * edge is spent, so a parked connection would never hear of it */
	if (u->s.fd >= 0 && u->reusable && !u->s.eof && !u->s.hup &&
	    c->up.in.start == c->up.in.end && !unread(&u->s) &&
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
	sq_remove(c);
	u->serial_gaveup = false;
	u->reused = u->reusable = false;
	if (u->dnsq != NULL) {
		dns_cancel(u->dnsq);
		u->dnsq = NULL;
	}
	if (u->s.fd >= 0) {
		sock_close(u->sock);
		u->sock = NULL;
		u->s.fd = -1;
	}
}

/* Room for one more origin connection: now, after closing an idle one, or not. */
static bool
server_slot(struct conn *c)
{
	struct conn_table *t = c->t;
	struct up_sock *lru;

	if (t->nserver < t->server_max)
		return true;
	if (t->idle_lru != NULL) {
		for (lru = t->idle_lru; lru->next != NULL; lru = lru->next)
			;
		sock_close(lru);
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

/* The fallback, once it is sure: logged and counted. */
static void
fallback_note(struct conn *c)
{
	log_info("%s: no parent proxy answers, straight to the origin %s:%u",
	    c->peer, c->up.host, (unsigned)c->up.port);
	STATS_INC(parent_fallbacks, 1);
}

/* A fallback whose direct list waited for the origin's address (a
 * dst-address rule before any decision): asked now that it is resolved;
 * a deny keeps the request off the origin (never_direct). */
static bool
direct_recheck(struct conn *c)
{
	struct upstream *u = &c->up;

	enum rules_direct d;

	if (!u->fallback || !u->direct_addr || u->cur >= u->naddrs)
		return true;
	/* asked again for each address tried: a deny of the second must
	 * hold as well as one of the first */
	d = rules_conn_direct(c, (const struct sockaddr *)&u->addrs[u->cur]);
	if (d != RULES_DIRECT_DENY) {
		if (u->direct == RULES_DIRECT_NEED_ADDR)
			fallback_note(c);
		u->direct = d;
		return true;
	}
	u->direct = d;
	u->error = "no parent proxy is reachable and the direct list denies the origin";
	return false;
}

/* Start connecting to addrs[cur], then the next ones.  */
int
upstream_connect(struct conn *c)
{
	struct upstream *u = &c->up;
	int fd;

	if (u->waiting)
		return VD_AGAIN;
	if (u->s.fd < 0 && u->cur == 0 && !u->acl_addr && upstream_pool_get(c) == VD_OK)
		return VD_OK;		/* released while we waited */
	if (serial_wait(c))
		return VD_AGAIN;
	if (!server_slot(c)) {
		wq_add(c);
		return VD_AGAIN;
	}
	while (u->cur < u->naddrs) {
		struct sockaddr *sa = (struct sockaddr *)&u->addrs[u->cur];

		if (admin_is_target(c->t->conf, sa)) {
			/* never the admin listener: it trusts loopback (admin.h);
			 * a parent there is a parent that fails (else the plan
			 * would pick it again, for ever) */
			u->error = "the admin listener is not an origin";
			upstream_parent_failed(c);
			u->cur++;
			continue;
		}
		/* dst-address access rules on a named host: every address the
		 * origin may be reached at is checked (a 403 is queued) */
		if (!u->via_parent && u->acl_addr && rules_access_resolved(c, sa) != VD_OK)
			return VD_DONE;
		if (!direct_recheck(c))
			return VD_ERR;
		fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			u->error = strerror(errno);
			u->local = true;	/* out of descriptors or memory */
			log_warn("socket");
			return VD_ERR;
		}
		STATS_INC(server_connections, 1);
		c->t->nserver++;
		u->reused = false;
		bind_source(c, fd, sa->sa_family);
		if (sock_open(c, fd) == -1) {
			u->error = strerror(errno);
			u->local = true;
			close(fd);
			server_gone(c->t);
			return VD_ERR;
		}
		sock_set_key(u->sock, c);
		u->s = (struct side){ .fd = fd };
		u->s.io.fd = -1;
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

/*
 * "http://" and the authority that the head's Host names (RFC 9112 §3.2:
 * target and Host identical): the absolute-form target's, else the Host
 * field the client sent (a transparent request: the site it asked for),
 * else the origin's (fwd_init() in proxy.c sent that as Host).  0: it does
 * not fit.
 */
static size_t
target_authority(const struct conn *c, char *buf, size_t len)
{
	const struct http_req *r = &c->req;
	struct vd_str a = r->form == HTTP_FORM_ABSOLUTE ? r->authority :
	    r->host_field >= 0 ? r->fields[r->host_field].value : (struct vd_str){ NULL, 0 };

	if (a.len == 0)
		return origin_authority(c, buf, len);
	if (a.len + 7 >= len)
		return 0;
	memcpy(buf, "http://", 7);
	memcpy(buf + 7, a.p, a.len);
	return a.len + 7;
}

/* The head in c->out to absolute-form (RFC 9112 §3.2.2): the authority
 * goes in front of the origin-form target; "*" (OPTIONS with an empty
 * path) becomes the authority alone (§3.2.4).  Done once per request: a
 * retry finds it done. */
static int
head_absolute(struct conn *c)
{
	struct http_out *o = &c->out;
	char auth[512];
	size_t alen = target_authority(c, auth, sizeof(auth)), at, cut = 0;
	char *sp = memchr(o->p, ' ', o->len);

	if (sp == NULL || alen == 0)
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

/* The direct list, asked once per request.  Its dst-address rules see a
 * literal address; for a name they answer NEED_ADDR (rules.h), so the
 * request takes the parent, which resolves it, and a fallback to the
 * origin asks again once the address is known (direct_recheck). */
static enum rules_direct
direct_decision(struct conn *c)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	const struct sockaddr *dst = NULL;

	if (c->up.direct != RULES_DIRECT_UNASKED)
		return c->up.direct;
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
	c->up.direct = rules_conn_direct(c, dst);
	c->up.direct_addr = c->up.direct == RULES_DIRECT_NEED_ADDR;
	return c->up.direct;
}

/* The head in c->out back to origin-form (RFC 9112 §3.2.1) for the origin
 * itself: what head_absolute() put in front of the path goes, and an
 * authority with no path was "*" (§3.2.4). */
static void
head_origin(struct conn *c)
{
	struct http_out *o = &c->out;
	char *sp = memchr(o->p, ' ', o->len), *t, *end, *path;

	if (sp == NULL)
		return;
	t = sp + 1;
	end = memchr(t, ' ', o->len - (size_t)(t - o->p));
	if (end == NULL || end - t < 7 || memcmp(t, "http://", 7) != 0)
		return;			/* origin-form already */
	path = memchr(t + 7, '/', (size_t)(end - t - 7));
	if (path == NULL) {
		*t = '*';
		path = end;
		t++;
	}
	memmove(t, path, o->len - (size_t)(path - o->p));
	o->len -= (size_t)(path - t);
}

/* No parent is left for this request: straight to the origin, unless a
 * direct deny rule keeps it on the parents (never_direct: 502).  VD_DECLINED
 * to the origin, VD_ERR with the error page set. */
static int
parent_fallback(struct conn *c)
{
	struct upstream *u = &c->up;

	if (u->direct == RULES_DIRECT_DENY) {
		/* RouterOS: the direct list denies the origin, no parent answers */
		STATS_INC(upstream_errors, 1);
		proxy_error(c, 502, "no parent proxy is reachable");
		return VD_ERR;
	}
	if (!c->connect)
		head_origin(c);
	if (u->fallback)
		return VD_DECLINED;	/* a retry of the fallback */
	u->fallback = true;
	if (u->direct == RULES_DIRECT_NEED_ADDR)
		u->fresh_only = true;	/* the pool would skip direct_recheck() */
	else
		fallback_note(c);
	return VD_DECLINED;
}

/* The live parents in order for this request; 0 when none is. */
static int
plan_order(struct conn *c, int *order)
{
	char buf[4096];

	return parent_order(c->t->conf->parent_set, router_parent_health(c->t->router),
	    parent_url(c, buf, sizeof(buf)), c->t->loop->now_ms, order, DNS_MAX_ADDRS);
}

int
upstream_parent_plan(struct conn *c)
{
	const struct parent_set *ps = c->t->conf->parent_set;
	struct upstream *u = &c->up;
	int order[DNS_MAX_ADDRS], n;

	u->via_parent = false;
	/* reverse mode has its configured origins; no parent, no change */
	if (ps == NULL || ps->n == 0 || c->mode == ROUTER_REVERSE ||
	    direct_decision(c) == RULES_DIRECT_ALLOW)
		return VD_DECLINED;
	if (u->fallback || (n = plan_order(c, order)) == 0)
		return parent_fallback(c);
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

bool
upstream_parent_next(struct conn *c, bool replay)
{
	struct upstream *u = &c->up;
	int order[DNS_MAX_ADDRS];

	if (!u->via_parent || !replay)
		return false;
	/* never_direct with no parent left: the caller's 502 or 504 says why */
	if (u->direct == RULES_DIRECT_DENY && plan_order(c, order) == 0)
		return false;
	upstream_close(c);
	c->out_off = 0;
	proxy_upstream(c);	/* planned again: the failed parent is down */
	return true;
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
	/* the client's Via and ours (RFC 9110 §7.6.3), so that every node of
	 * a chain, not only the one before us, sees a loop */
	for (int i = 0; (i = http_field_find(c->req.fields, c->req.nfields, "via", i)) >= 0; i++) {
		http_out_str(&c->out, "\r\nVia: ");
		http_out_add(&c->out, c->req.fields[i].value.p, c->req.fields[i].value.len);
	}
	http_out_str(&c->out, "\r\nVia: 1.1 ");
	http_out_str(&c->out, c->t->via);
	http_out_str(&c->out, "\r\n\r\n");
	c->out_off = 0;
	return c->out.overflow ? VD_ERR : VD_OK;
}
