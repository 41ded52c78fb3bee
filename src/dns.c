/* dns.c — c-ares driven by the worker's epoll loop and timer heap. */
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

#define DNS_MAX_SOCKS	16

struct dns_query {
	struct dns	*d;
	dns_cb		*cb;		/* NULL: cancelled */
	void		*arg;
	uint16_t	 port;
	bool		 busy;
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
	    (d->q = calloc((size_t)max_queries, sizeof(*d->q))) == NULL) {
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
	if ((rc = ares_init_options(&d->ch, &o, ARES_OPT_SOCK_STATE_CB)) != ARES_SUCCESS) {
		log_warnx("dns: %s", ares_strerror(rc));
		free(d->q);
		free(d);
		return NULL;
	}
	if (servers != NULL && servers[0] != '\0' &&
	    (rc = ares_set_servers_ports_csv(d->ch, servers)) != ARES_SUCCESS) {
		log_warnx("dns: dns-servers=%s: %s", servers, ares_strerror(rc));
		ares_destroy(d->ch);
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
	free(d->q);
	free(d);
}

static void
addrinfo_cb(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct dns_query *q = arg;
	struct dns_result r;
	dns_cb *cb = q->cb;

	r.naddrs = 0;
	r.error = status == ARES_SUCCESS ? "no address" : ares_strerror(status);
	if (status == ARES_SUCCESS && ai != NULL) {
		for (struct ares_addrinfo_node *n = ai->nodes; n != NULL &&
		    r.naddrs < DNS_MAX_ADDRS; n = n->ai_next) {
			if ((size_t)n->ai_addrlen > sizeof(r.addrs[0]))
				continue;
			memcpy(&r.addrs[r.naddrs], n->ai_addr, (size_t)n->ai_addrlen);
			r.lens[r.naddrs++] = (socklen_t)n->ai_addrlen;
		}
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
	char svc[8];

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
