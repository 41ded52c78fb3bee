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

/* One caller waiting for a name; several wait on one lookup. */
struct dns_query {
	dns_cb		*cb;		/* NULL: cancelled (or answered) */
	void		*arg;
	uint16_t	 port;
	bool		 busy;
	struct dns_query *next;		/* the lookup's other waiters */
};

/* A name being asked of c-ares: one at a time per name, however many
 * connections want it (a burst of misses for one site asks once). */
struct dns_lookup {
	struct dns	*d;
	bool		 busy;
	char		 host[256];	/* for the cache, and to share it */
	struct dns_query *waiters;
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
	struct dns_lookup	*lk;
	int			 nq;		/* of each */
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

/* The memory of d, which holds no c-ares channel (or no longer). */
static void
dns_release(struct dns *d)
{
	if (d == NULL)
		return;
	free(d->cache);
	free(d->lk);
	free(d->q);
	free(d);
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
	    (d->lk = calloc((size_t)max_queries, sizeof(*d->lk))) == NULL ||
	    (d->cache = calloc(DNS_CACHE_SIZE, sizeof(*d->cache))) == NULL) {
		dns_release(d);
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
		dns_release(d);
		return NULL;
	}
	if (servers != NULL && servers[0] != '\0' &&
	    (rc = ares_set_servers_ports_csv(d->ch, servers)) != ARES_SUCCESS) {
		log_warnx("dns: dns-servers=%s: %s", servers, ares_strerror(rc));
		ares_destroy(d->ch);
		dns_release(d);
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
	dns_release(d);
}

/* r for a caller that asked for port: the same addresses, its port. */
static void
with_port(struct dns_result *r, uint16_t port)
{
	for (int i = 0; i < r->naddrs; i++) {
		struct sockaddr_storage *ss = &r->addrs[i];

		if (ss->ss_family == AF_INET)
			((struct sockaddr_in *)ss)->sin_port = htons(port);
		else if (ss->ss_family == AF_INET6)
			((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	}
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
	with_port(&e->r, port);
	return &e->r;
}

/*
 * The answer goes to every waiter still there.  The list is taken off the
 * lookup first: a callback may close connections (cancelling waiters
 * further on, which then hear nothing) or start lookups, also of this name.
 */
static void
answer_waiters(struct dns_lookup *lk, const struct dns_result *r)
{
	struct dns_query *w = lk->waiters, *next;
	struct dns_result mine;

	lk->waiters = NULL;
	lk->busy = false;
	for (; w != NULL; w = next) {
		dns_cb *cb = w->cb;

		next = w->next;
		w->cb = NULL;
		w->busy = false;
		if (cb == NULL)
			continue;
		mine = *r;
		with_port(&mine, w->port);
		cb(w->arg, &mine);
	}
}

static void
addrinfo_cb(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct dns_lookup *lk = arg;
	struct dns_result r;
	int ttl = DNS_CACHE_MAX_S;

	(void)timeouts;
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
		cache_put(lk->d, lk->host, &r, ttl);
	}
	if (ai != NULL)
		ares_freeaddrinfo(ai);
	answer_waiters(lk, &r);
}

/* The lookup of host under way, else a free one started; NULL: none free. */
static struct dns_lookup *
lookup_for(struct dns *d, const char *host, bool *started)
{
	struct dns_lookup *spare = NULL;

	*started = false;
	for (int i = 0; i < d->nq; i++) {
		struct dns_lookup *lk = &d->lk[i];

		if (lk->busy && strcmp(lk->host, host) == 0)
			return lk;
		if (!lk->busy && spare == NULL)
			spare = lk;
	}
	if (spare != NULL) {
		spare->d = d;
		spare->busy = true;
		spare->waiters = NULL;
		memcpy(spare->host, host, strlen(host) + 1);
		*started = true;
	}
	return spare;
}

int
dns_resolve(struct dns *d, const char *host, uint16_t port, dns_cb *cb,
    void *arg, struct dns_query **qp)
{
	struct ares_addrinfo_hints h;
	struct dns_query *q = NULL;
	struct dns_lookup *lk;
	const struct dns_result *hit;
	bool started;

	if ((hit = cache_get(d, host, port)) != NULL) {
		*qp = NULL;
		cb(arg, hit);
		return VD_OK;
	}
	for (int i = 0; i < d->nq && q == NULL; i++)
		if (!d->q[i].busy)
			q = &d->q[i];
	if (q == NULL || strlen(host) >= sizeof(lk->host) ||
	    (lk = lookup_for(d, host, &started)) == NULL)
		return VD_ERR;
	*q = (struct dns_query){ .cb = cb, .arg = arg, .port = port, .busy = true,
	    .next = lk->waiters };
	lk->waiters = q;
	*qp = q;
	if (!started)
		return VD_OK;		/* it hears the answer already asked for */
	memset(&h, 0, sizeof(h));
	h.ai_family = AF_UNSPEC;
	h.ai_socktype = SOCK_STREAM;
	ares_getaddrinfo(d->ch, host, NULL, &h, addrinfo_cb, lk);
	dns_rearm(d);
	return VD_OK;
}

void
dns_cancel(struct dns_query *q)
{
	if (q != NULL)
		q->cb = NULL;
}
