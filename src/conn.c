/*
 * conn.c — the worker's connection table: preallocated slots on a free
 * list, each with its fixed buffers; accept, per-connection timer, close.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "viaduct.h"
#include "accesslog.h"
#include "cache_policy.h"
#include "cache_proxy.h"
#include "conf.h"
#include "conn.h"
#include "log.h"
#include "stats.h"
#include "proxy.h"
#include "transparent.h"
#include "util.h"

#define BODY_ROOM	16384	/* buffer room beyond the largest head */
#define INTERIM_ROOM	8192	/* a relayed 1xx head; larger ones are dropped */

static void
conn_timer_cb(struct ev_loop *l, struct ev_timer *t)
{
	proxy_timeout(t->data);
}

static void
cl_io_cb(struct ev_loop *l, struct ev_io *io, uint32_t ev)
{
	struct conn *c = io->data;

	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
		c->cl.rd = true;
	if (ev & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))
		c->cl.hup = true;
	if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->cl.wr = true;
	proxy_run(c);
}

static void
via_pseudonym(struct conn_table *t, const struct vd_conf *conf)
{
	if (conf->via_pseudonym != NULL && conf->via_pseudonym[0] != '\0')
		vd_strlcpy(t->via, conf->via_pseudonym, sizeof(t->via));
	else if (gethostname(t->via, sizeof(t->via) - 1) == -1 || t->via[0] == '\0')
		vd_strlcpy(t->via, VD_NAME, sizeof(t->via));
}

/* Off the posted list, or off the batch post_cb is running. */
static void
post_unlink(struct conn *c)
{
	struct conn_table *t = c->t;

	if (c->post_prev != NULL)
		c->post_prev->post_next = c->post_next;
	else if (t->posted == c)
		t->posted = c->post_next;
	else
		t->post_batch = c->post_next;
	if (c->post_next != NULL)
		c->post_next->post_prev = c->post_prev;
	c->post_next = c->post_prev = NULL;
	c->posted = false;
}

void
conn_post(struct conn *c)
{
	struct conn_table *t = c->t;

	if (c->posted)
		return;
	c->posted = true;
	c->post_prev = NULL;
	c->post_next = t->posted;
	if (t->posted != NULL)
		t->posted->post_prev = c;
	t->posted = c;
	if (!ev_timer_armed(&t->post_timer))
		ev_timer_start(t->loop, &t->post_timer, 0);
}

/* The connections posted before this turn run again; one that posts
 * itself anew waits for the turn after.  The batch is a list of its own
 * (t->post_batch), so that one closed meanwhile is simply unlinked. */
static void
post_cb(struct ev_loop *l, struct ev_timer *tm)
{
	struct conn_table *t = tm->data;
	struct conn *c;

	(void)l;
	t->post_batch = t->posted;
	t->posted = NULL;
	while ((c = t->post_batch) != NULL) {
		post_unlink(c);
		if (c->state != PX_FREE && !c->running)
			proxy_run(c);
	}
}

struct conn_table *
conn_table_create(struct ev_loop *loop, const struct vd_conf *conf)
{
	struct conn_table *t;
	int workers = conf->workers > 0 ? conf->workers : 1;
	size_t n, inlen, outlen, per, nf;
	char *m, err[256];

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->loop = loop;
	t->conf = conf;
	n = (size_t)((conf->max_client_connections + workers - 1) / workers);
	t->n = n > 0 ? n : 1;
	t->req_lim.max_line = (size_t)conf->max_request_line;
	t->req_lim.max_head = (size_t)conf->max_header_size;
	t->req_lim.max_fields = conf->max_headers;
	t->resp_lim = t->req_lim;
	t->resp_lim.max_line = t->req_lim.max_head;
	via_pseudonym(t, conf);
	t->admin = conf->cache_administrator ? conf->cache_administrator : "webmaster";

	inlen = (size_t)conf->max_header_size + BODY_ROOM;
	outlen = (size_t)conf->max_header_size + 8192;
	nf = (size_t)conf->max_headers;
	per = 2 * inlen + outlen + INTERIM_ROOM + 2 * nf * sizeof(struct http_field);
	t->conns = calloc(t->n, sizeof(*t->conns));
	/* untouched pages of this block cost nothing until a connection uses them */
	t->mem = calloc(t->n, per);
	t->dns = dns_create(loop, (int)t->n * 2, conf->dns_servers);
	if ((t->router = router_create(conf, err, sizeof(err))) == NULL)
		log_warnx("%s", err);
	if (t->router == NULL || t->conns == NULL || t->mem == NULL || t->dns == NULL ||
	    upstream_pool_init(t) != VD_OK) {
		conn_table_free(t);
		return NULL;
	}
	ev_timer_init(&t->post_timer, post_cb, t);
	m = t->mem;
	for (size_t i = t->n; i-- > 0;) {
		struct conn *c = &t->conns[i];
		char *b = m + i * per;

		c->t = t;
		c->cl.fd = c->up.s.fd = -1;
		c->cl.io.fd = c->up.s.io.fd = -1;
		c->req.fields = (struct http_field *)(void *)b;
		c->resp.fields = c->req.fields + nf;
		b += 2 * nf * sizeof(struct http_field);
		c->in = (struct buf){ b, inlen, 0, 0, 0 };
		c->up.in = (struct buf){ b + inlen, inlen, 0, 0, 0 };
		c->out = (struct http_out){ b + 2 * inlen, 0, outlen, false };
		c->iout = (struct http_out){ b + 2 * inlen + outlen, 0, INTERIM_ROOM, false };
		ev_timer_init(&c->timer, conn_timer_cb, c);
		for (int k = 0; k < 2; k++)
			c->tun.d[k].pipe[0] = c->tun.d[k].pipe[1] = -1;
		c->next_free = t->free;
		t->free = c;
	}
	return t;
}

void
conn_table_free(struct conn_table *t)
{
	if (t == NULL)
		return;
	if (t->conns != NULL)
		conn_close_all(t);
	ev_timer_stop(t->loop, &t->post_timer);
	cache_proxy_free(t);
	if (t->socks != NULL)
		upstream_pool_free(t);
	dns_free(t->dns);
	router_free(t->router);
	free(t->conns);
	free(t->mem);
	free(t);
}

void
conn_timer(struct conn *c, int64_t ms)
{
	ev_timer_start(c->t->loop, &c->timer, ms);
}

void
conn_abort(struct conn *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (c->cl.fd >= 0)
		(void)setsockopt(c->cl.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	conn_close(c);
}

const char *
conn_date(struct conn_table *t)
{
	if (t->date[0] == '\0' || t->date_sec != t->loop->now_sec) {
		(void)cache_http_date_fmt((int64_t)t->loop->now_sec, t->date);
		t->date_sec = t->loop->now_sec;
	}
	return t->date;
}

/* The table is full: tell the client so, in one non-blocking write. */
static void
refuse(struct conn_table *t, int fd)
{
	char buf[2048];
	struct http_out o = { buf, 0, sizeof(buf), false };

	http_error_page(&o, 503, VD_STR(""), "too many client connections",
	    t->admin, t->via, conn_date(t), false);
	if (!o.overflow)
		(void)send(fd, o.p, o.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	STATS_INC(responses_5xx, 1);
	shutdown(fd, SHUT_WR);
	close(fd);
}

/* Which way origin-form requests on this connection go (router.h). */
static void
listener_mode(struct conn_table *t, struct conn *c)
{
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local), ol;

	c->mode = ROUTER_PROXY;
	c->has_odst = false;
	if (!router_has_modes(t->router) ||
	    getsockname(c->cl.fd, (struct sockaddr *)&local, &ll) == -1)
		return;
	c->mode = router_mode(t->router, ntohs(local.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&local)->sin6_port :
	    ((struct sockaddr_in *)&local)->sin_port));
	if (c->mode == ROUTER_TRANSPARENT)
		c->has_odst = transparent_original_dst(c->cl.fd, &c->odst, &ol) == VD_OK;
}

static void
start(struct conn_table *t, int fd, const struct sockaddr_storage *ss)
{
	struct conn *c = t->free;

	t->free = c->next_free;
	t->active++;
	CLIENT_STATS_INC(c, client_connections, 1);
	c->serial = ++t->serials;
	c->cl = (struct side){ .fd = fd, .rd = true, .wr = true };
	ev_io_init(&c->cl.io, fd, cl_io_cb, c);
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    c->peer, sizeof(c->peer));
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr,
		    c->peer, sizeof(c->peer));
	else
		vd_strlcpy(c->peer, "unknown", sizeof(c->peer));
	c->in.base = c->in.start = c->in.end = 0;
	c->nreq = 0;
	listener_mode(t, c);
	c->state = PX_HEAD;
	if (ev_io_add(t->loop, &c->cl.io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) == -1) {
		log_warn("epoll add client");
		conn_close(c);
		return;
	}
	proxy_start(c);
}

int
conn_internal(struct conn_table *t, int fd, const struct conn *from)
{
	struct sockaddr_storage none = { .ss_family = AF_UNSPEC };
	struct conn *c = t->free;

	if (c == NULL || t->shutdown) {
		close(fd);
		return VD_DECLINED;
	}
	c->internal = true;
	start(t, fd, &none);	/* nothing to read yet: it waits in PX_HEAD */
	if (c->state == PX_FREE)
		return VD_ERR;	/* closed already (logged) */
	/* routed and checked as the client's own request would be */
	memcpy(c->peer, from->peer, sizeof(c->peer));
	c->mode = from->mode;
	c->has_odst = from->has_odst;
	c->odst = from->odst;
	return VD_OK;
}

int
conn_accept(struct conn_table *t, int lfd, int max)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	for (int i = 0; i < max; i++) {
		sl = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			    errno == ECONNABORTED)
				return VD_DONE;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* tried again every 50 ms (worker.c), said once a
				 * minute while it lasts */
				if (t->accept_warned == 0 ||
				    t->loop->now_ms - t->accept_warned >= 60000) {
					log_warn("accept (said once a minute while it lasts)");
					t->accept_warned = t->loop->now_ms;
				}
				return VD_AGAIN;
			}
			log_warn("accept");
			return VD_ERR;
		}
		STATS_INC(accepted, 1);
		t->accepted++;
		if (t->free == NULL || t->shutdown) {
			refuse(t, fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		start(t, fd, &ss);
	}
	return VD_OK;
}

void
conn_close(struct conn *c)
{
	struct conn_table *t = c->t;

	if (c->state == PX_FREE)
		return;
	accesslog_req_end(c);	/* a request cut short is logged too */
	cache_proxy_end(c, false);	/* an object being stored is dropped */
	upstream_close(c);
	tunnel_close(c);
	ev_timer_stop(t->loop, &c->timer);
	if (c->posted)
		post_unlink(c);	/* posted, or in the batch being run */
	if (c->cl.fd >= 0) {
		ev_io_forget(&c->cl.io);	/* accept4's own descriptor: close() unregisters it */
		close(c->cl.fd);
		c->cl.fd = -1;
		c->cl.io.fd = -1;
	}
	if (!c->internal)
		STATS_DEC(client_connections, 1);
	c->state = PX_FREE;
	c->internal = false;
	c->next_free = t->free;
	t->free = c;
	t->active--;
}

/* Bytes waiting in a socket that we have not read. */
static bool
pending(int fd)
{
	int n = 0;

	return fd >= 0 && ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

void
conn_shutdown(struct conn_table *t)
{
	t->shutdown = true;
	upstream_pool_drain(t);
	for (size_t i = 0; i < t->n; i++) {
		struct conn *c = &t->conns[i];
		/*
		 * Idle between requests: nothing is lost by closing now, unless
		 * the next request is already in the socket (its event not seen
		 * yet): that one is served, with Connection: close.  A
		 * connection that has not sent its first request yet is kept:
		 * its client is about to send one and could not tell our close
		 * from a failure (it is served, then closed, or times out).
		 */
		if (c->state == PX_HEAD && c->in.end == c->in.start && c->nreq > 0 &&
		    !pending(c->cl.fd))
			conn_close(c);
	}
}

unsigned long
conn_accepted(const struct conn_table *t)
{
	return t->accepted;
}

size_t
conn_capacity(const struct conn_table *t)
{
	return t->n;
}

size_t
conn_active(const struct conn_table *t)
{
	return t->active;
}

void
conn_close_all(struct conn_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		conn_close(&t->conns[i]);
}
