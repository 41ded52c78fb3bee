/* dns.c — c-ares driven by the worker's epoll loop and timer heap, with a
 * small TTL cache of positive answers in front of it. */
#include "config.h"

#include <ares.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct.h"
#include "event.h"
#include "log.h"
#include "dns.h"
#include "util.h"

#define DNS_MAX_SOCKS	16
#define DNS_CACHE_SIZE	256		/* direct-mapped by a hash of the name */
#define DNS_CACHE_MAX_S	3600		/* an answer is kept at most this long */

/* A positive answer, kept for its TTL (c-ares 1.18 keeps none). */
struct dns_cache_ent {
	char			 host[256];
	int64_t			 expires;	/* loop ms; 0 = empty */
	struct dns_result	 r;		/* ports as asked; re-set on use */
};

struct dns_query {
	struct dns	*d;
	dns_cb		*cb;		/* NULL: cancelled */
	void		*arg;
	uint16_t	 port;
	bool		 busy;
	char		 host[256];	/* for the cache */
};

struct dns_sock {
	struct ev_io	 io;
	struct dns	*d;
};

struct dns {
	struct ev_loop		*loop;
	ares_channel		 ch;
	struct ev_timer		 timer;
	struct dns_sock		 socks[DNS_MAX_SOCKS];
	struct dns_query	*q;
	int			 nq;
	struct dns_cache_ent	*cache;
};

static void	dns_rearm(struct dns *);

static void
sock_cb(struct ev_loop *l, struct ev_io *io, uint32_t ev)
{
	struct dns_sock *s = io->data;
	ares_socket_t fd = io->fd;

	ares_process_fd(s->d->ch, (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD,
	    (ev & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
	dns_rearm(s->d);
}

/* c-ares tells us which of its sockets want which events. */
static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	struct dns_sock *s = NULL, *spare = NULL;
	uint32_t ev = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);

	for (int i = 0; i < DNS_MAX_SOCKS; i++) {
		if (d->socks[i].io.fd == fd) {
			s = &d->socks[i];
			break;
		}
		if (spare == NULL && d->socks[i].io.fd < 0)
			spare = &d->socks[i];
	}
	if (s == NULL) {
		if (ev == 0)
			return;
		if ((s = spare) == NULL) {
			log_warnx("dns: more than %d resolver sockets", DNS_MAX_SOCKS);
			return;
		}
		ev_io_init(&s->io, fd, sock_cb, s);
		if (ev_io_add(d->loop, &s->io, ev) == -1)
			log_warn("dns: epoll add");
		return;
	}
	if (ev == 0) {
		ev_io_del(d->loop, &s->io);
		s->io.fd = -1;
	} else if (ev_io_mod(d->loop, &s->io, ev) == -1) {
		log_warn("dns: epoll mod");
	}
}

static void
timer_cb(struct ev_loop *l, struct ev_timer *t)
{
	struct dns *d = t->data;

	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_rearm(d);
}

static void
dns_rearm(struct dns *d)
{
	struct timeval tv, *tvp;

	tvp = ares_timeout(d->ch, NULL, &tv);
	if (tvp == NULL)
		ev_timer_stop(d->loop, &d->timer);
	else
		ev_timer_start(d->loop, &d->timer,
		    (int64_t)tvp->tv_sec * 1000 + tvp->tv_usec / 1000 + 1);
}

struct dns *
dns_create(struct ev_loop *loop, int max_queries, const char *servers)
{
	struct ares_options o;
	struct dns *d;
	int rc;

	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		log_warnx("dns: %s", ares_strerror(rc));
		return NULL;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->q = calloc((size_t)max_queries, sizeof(*d->q))) == NULL ||
	    (d->cache = calloc(DNS_CACHE_SIZE, sizeof(*d->cache))) == NULL) {
		if (d != NULL)
			free(d->q);
		free(d);
		return NULL;
	}
	d->loop = loop;
	d->nq = max_queries;
	for (int i = 0; i < DNS_MAX_SOCKS; i++) {
		d->socks[i].io.fd = -1;
		d->socks[i].d = d;
	}
	ev_timer_init(&d->timer, timer_cb, d);
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state_cb;
	o.sock_state_cb_data = d;
	/* a silent server is given up after 1 + 2 s, not c-ares's ~75 s: an
	 * abandoned query keeps its slot until then, and a server that drops
	 * AAAA questions would hold up the A answer past connect-timeout */
	o.timeout = DNS_TIMEOUT_MS;
	o.tries = DNS_TRIES;
	if ((rc = ares_init_options(&d->ch, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
	    ARES_OPT_TRIES)) != ARES_SUCCESS) {
		log_warnx("dns: %s", ares_strerror(rc));
		free(d->cache);
		free(d->q);
		free(d);
		return NULL;
	}
	if (servers != NULL && servers[0] != '\0' &&
	    (rc = ares_set_servers_ports_csv(d->ch, servers)) != ARES_SUCCESS) {
		log_warnx("dns: dns-servers=%s: %s", servers, ares_strerror(rc));
		ares_destroy(d->ch);
		free(d->cache);
		free(d->q);
		free(d);
		return NULL;
	}
	return d;
}

void
dns_free(struct dns *d)
{
	if (d == NULL)
		return;
	for (int i = 0; i < d->nq; i++)
		d->q[i].cb = NULL;
	ares_destroy(d->ch);	/* runs the callbacks with ARES_EDESTRUCTION */
	ev_timer_stop(d->loop, &d->timer);
	free(d->cache);
	free(d->q);
	free(d);
}

static struct dns_cache_ent *
cache_slot(struct dns *d, const char *host)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)host; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &d->cache[h % DNS_CACHE_SIZE];
}

static void
cache_put(struct dns *d, const char *host, const struct dns_result *r, int ttl)
{
	struct dns_cache_ent *e;

	if (ttl <= 0 || r->naddrs == 0 || strlen(host) >= sizeof(e->host))
		return;
	if (ttl > DNS_CACHE_MAX_S)
		ttl = DNS_CACHE_MAX_S;
	e = cache_slot(d, host);
	memcpy(e->host, host, strlen(host) + 1);
	e->r = *r;
	e->expires = d->loop->now_ms + (int64_t)ttl * 1000;
}

/* A fresh cached answer with `port` set, or NULL. */
static const struct dns_result *
cache_get(struct dns *d, const char *host, uint16_t port)
{
	struct dns_cache_ent *e = cache_slot(d, host);

	if (e->expires <= d->loop->now_ms || strcmp(e->host, host) != 0)
		return NULL;
	for (int i = 0; i < e->r.naddrs; i++) {
		struct sockaddr_storage *ss = &e->r.addrs[i];

		if (ss->ss_family == AF_INET)
			((struct sockaddr_in *)ss)->sin_port = htons(port);
		else if (ss->ss_family == AF_INET6)
			((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	}
	return &e->r;
}

static void
addrinfo_cb(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct dns_query *q = arg;
	struct dns_result r;
	dns_cb *cb = q->cb;

	int ttl = DNS_CACHE_MAX_S;

	r.naddrs = 0;
	r.error = status == ARES_SUCCESS ? "no address" : ares_strerror(status);
	if (status == ARES_SUCCESS && ai != NULL) {
		for (struct ares_addrinfo_node *n = ai->nodes; n != NULL &&
		    r.naddrs < DNS_MAX_ADDRS; n = n->ai_next) {
			if ((size_t)n->ai_addrlen > sizeof(r.addrs[0]))
				continue;
			memcpy(&r.addrs[r.naddrs], n->ai_addr, (size_t)n->ai_addrlen);
			r.lens[r.naddrs++] = (socklen_t)n->ai_addrlen;
			if (n->ai_ttl < ttl)
				ttl = n->ai_ttl;	/* the shortest one rules */
		}
		if (status == ARES_SUCCESS && q->d != NULL)
			cache_put(q->d, q->host, &r, ttl);
	}
	if (ai != NULL)
		ares_freeaddrinfo(ai);
	q->busy = false;
	q->cb = NULL;
	if (cb != NULL)
		cb(q->arg, &r);
}

int
dns_resolve(struct dns *d, const char *host, uint16_t port, dns_cb *cb,
    void *arg, struct dns_query **qp)
{
	struct ares_addrinfo_hints h;
	struct dns_query *q = NULL;
	const struct dns_result *hit;
	char svc[8];

	if ((hit = cache_get(d, host, port)) != NULL) {
		*qp = NULL;
		cb(arg, hit);
		return VD_OK;
	}
	for (int i = 0; i < d->nq; i++)
		if (!d->q[i].busy) {
			q = &d->q[i];
			break;
		}
	if (q == NULL)
		return VD_ERR;
	q->d = d;
	q->cb = cb;
	q->arg = arg;
	q->port = port;
	q->busy = true;
	vd_strlcpy(q->host, host, sizeof(q->host));
	*qp = q;
	memset(&h, 0, sizeof(h));
	h.ai_family = AF_UNSPEC;
	h.ai_socktype = SOCK_STREAM;
	h.ai_flags = ARES_AI_NUMERICSERV;
	snprintf(svc, sizeof(svc), "%u", port);
	ares_getaddrinfo(d->ch, host, svc, &h, addrinfo_cb, q);
	dns_rearm(d);
	return VD_OK;
}

void
dns_cancel(struct dns_query *q)
{
	if (q != NULL)
		q->cb = NULL;
}
