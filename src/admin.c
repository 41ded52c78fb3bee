/*
 * admin.c — the admin listener: /metrics and PURGE (see admin.h).
 *
 * Each connection is a read buffer for one head, a response buffer, and a
 * timer.  The cycle is read -> parse -> answer -> write -> (keep-alive)
 * read; the head must arrive within request-header-timeout and an idle
 * keep-alive connection is closed after keepalive-timeout.  The response
 * buffer is allocated per answer (the exposition grows with workers and
 * rules); this is an operator's port, not the hot path.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "viaduct.h"
#include "admin.h"
#include "cache_key.h"
#include "cache_policy.h"
#include "cache_proxy.h"
#include "cache_store.h"
#include "conf.h"
#include "event.h"
#include "http_msg.h"
#include "http_parse.h"
#include "log.h"
#include "prom.h"
#include "proxy.h"
#include "router.h"
#include "stats.h"
#include "util.h"

#define ADMIN_MAX_LISTEN	CONF_MAX_LISTEN
#define ADMIN_MAX_FIELDS	32
#define ADMIN_URL_MAX		8192	/* a normalised PURGE URL */

struct admin_conn {
	struct admin		*a;
	struct ev_io		 io;		/* fd -1: slot free */
	struct ev_timer		 timer;
	bool			 closing;	/* close once the response is out */
	char			 peer[VD_SOCKADDR_STRLEN];
	char			 in[ADMIN_HEAD_MAX];
	size_t			 inlen;
	char			*out;		/* malloc'd response, NULL: none */
	size_t			 outlen, outoff;
};

struct admin {
	struct ev_loop		*loop;
	const struct vd_conf	*conf;
	struct conn_table	*t;
	const struct stats_hdr	*stats;		/* read-only map, NULL: none */
	size_t			 statslen;
	struct stats_slot	*sum;
	struct ev_io		 lio[ADMIN_MAX_LISTEN];
	int			 nl;
	struct admin_conn	 conns[ADMIN_MAX_CONNS];
};

bool
admin_is_listener(const struct vd_conf *conf, int fd)
{
	struct conf_listen addrs[CONF_MAX_LISTEN];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int n = conf_admin_listeners(conf, addrs, (int)VD_ARRLEN(addrs));

	if (n == 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		return false;
	for (int i = 0; i < n; i++)
		if (ss.ss_family == addrs[i].addr.ss_family &&
		    memcmp(&ss, &addrs[i].addr, addrs[i].addrlen) == 0)
			return true;
	return false;
}

static bool
is_any_or_loopback(const struct sockaddr *sa, bool any)
{
	static const uint8_t zero[16], lo6[16] = { [15] = 1 };
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *a;

	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		return any ? memcmp(a, zero, 4) == 0 : a[0] == 127;
	}
	a = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (memcmp(a, mapped, sizeof(mapped)) == 0)
		return any ? memcmp(a + 12, zero, 4) == 0 : a[12] == 127;
	return memcmp(a, any ? zero : lo6, 16) == 0;
}

static uint16_t
port_of(const struct sockaddr *sa)
{
	return ntohs(sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port :
	    ((const struct sockaddr_in6 *)sa)->sin6_port);
}

/* ::ffff:a.b.c.d as the AF_INET address it is (into *v4), else sa. */
static const struct sockaddr *
unmapped(const struct sockaddr *sa, struct sockaddr_in *v4)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family != AF_INET6 || memcmp(&s6->sin6_addr, mapped, 12) != 0)
		return sa;
	memset(v4, 0, sizeof(*v4));
	v4->sin_family = AF_INET;
	v4->sin_port = s6->sin6_port;
	memcpy(&v4->sin_addr, (const uint8_t *)&s6->sin6_addr + 12, 4);
	return (const struct sockaddr *)v4;
}

bool
admin_is_target(const struct vd_conf *conf, const struct sockaddr *target)
{
	struct conf_listen addrs[CONF_MAX_LISTEN];
	int n = conf_admin_listeners(conf, addrs, (int)VD_ARRLEN(addrs));
	struct sockaddr_in v4;
	/* [::ffff:10.9.9.9] reaches an admin-address of 10.9.9.9 */
	const struct sockaddr *sa = unmapped(target, &v4);

	if (n == 0 || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    port_of(sa) != conf->admin_port)
		return false;
	if (is_any_or_loopback(sa, false) || is_any_or_loopback(sa, true))
		return true;
	for (int i = 0; i < n; i++) {
		const struct sockaddr *ad = (const struct sockaddr *)&addrs[i].addr;

		if (is_any_or_loopback(ad, true))
			return true;	/* bound everywhere: every address of ours */
		if (ad->sa_family == AF_INET && sa->sa_family == AF_INET ?
		    memcmp(&((const struct sockaddr_in *)ad)->sin_addr,
		    &((const struct sockaddr_in *)sa)->sin_addr, 4) == 0 :
		    ad->sa_family == sa->sa_family && memcmp(ad, sa, addrs[i].addrlen) == 0)
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ responses */

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* The whole response into c->out; a body of NULL is `text` (a line). */
static int
respond(struct admin_conn *c, int status, const char *extra, const char *text,
    const char *body, size_t blen, bool head_only)
{
	char head[512], date[CACHE_HTTP_DATE_LEN + 1];
	int n;

	(void)cache_http_date_fmt((int64_t)time(NULL), date);	/* RFC 9110 §6.6.1 */
	if (body == NULL) {
		body = text;
		blen = strlen(text);
	}
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nDate: %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
	    "%s%s\r\n", status, reason(status), date,
	    status == 200 && text == NULL ? "text/plain; version=0.0.4; charset=utf-8" :
	    "text/plain; charset=utf-8", blen, extra != NULL ? extra : "",
	    c->closing ? "Connection: close\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return VD_ERR;
	if (head_only)
		blen = 0;
	if ((c->out = malloc((size_t)n + blen)) == NULL)
		return VD_ERR;
	memcpy(c->out, head, (size_t)n);
	memcpy(c->out + n, body, blen);
	c->outlen = (size_t)n + blen;
	c->outoff = 0;
	return VD_OK;
}

static int
metrics(struct admin_conn *c, bool head_only)
{
	struct admin *a = c->a;
	size_t cap = 65536, need;
	char *buf = NULL, *nb;
	int rc;

	if (a->stats == NULL) {
		c->closing = true;
		return respond(c, 503, NULL, "statistics segment unavailable\n", NULL, 0,
		    head_only);
	}
	stats_sum(a->stats, a->sum);
	for (;;) {
		if ((nb = realloc(buf, cap)) == NULL) {
			free(buf);
			return VD_ERR;
		}
		buf = nb;
		if ((need = prom_write(buf, cap, a->stats, a->sum, a->conf)) < cap)
			break;
		cap = need + 1;
	}
	rc = respond(c, 200, NULL, NULL, buf, need, head_only);
	free(buf);
	return rc;
}

/* PURGE URL: every key of the normalised URL (cache_key_all()), as
 * viaductctl does. */
static int
purge(struct admin_conn *c, const struct http_req *r)
{
	struct cache_store *cs = cache_proxy_store(c->a->t);
	char nurl[ADMIN_URL_MAX];
	struct cache_key k[2];
	size_t nlen;
	const char *oh;
	uint16_t op = 0;
	int n, rc = VD_DECLINED, gone = 0;

	if (cache_key_url_norm(r->target.p, r->target.len, nurl, sizeof(nurl), &nlen) != VD_OK)
		return respond(c, 400, NULL, "PURGE wants an absolute http URL\n", NULL, 0, false);
	if (cs == NULL)
		return respond(c, 404, NULL, "no cache (max-cache-size=none)\n", NULL, 0, false);
	if (router_reverse_url(c->a->t->router, nurl, nlen, &oh, &op) != VD_OK)
		oh = NULL;
	n = cache_key_all(nurl, nlen, oh, op, k);
	for (int i = 0; i < n && (rc == VD_OK || rc == VD_DECLINED); i++)
		if ((rc = cache_store_invalidate(cs, &k[i], (int64_t)time(NULL))) == VD_OK)
			gone++;		/* every variant */
	if (rc != VD_OK && rc != VD_DECLINED) {
		log_warnx("admin: purge of %.*s failed", (int)nlen, nurl);
		c->closing = true;
		return respond(c, 503, NULL, "the cache index could not be written\n", NULL, 0,
		    false);
	}
	if (gone == 0)
		return respond(c, 404, NULL, "not in the cache\n", NULL, 0, false);
	log_info("admin: %s purged %.*s", c->peer, (int)nlen, nurl);
	return respond(c, 200, NULL, "purged\n", NULL, 0, false);
}

static bool
is_metrics_path(struct vd_str p)
{
	static const char m[] = "/metrics";

	return p.len >= sizeof(m) - 1 && memcmp(p.p, m, sizeof(m) - 1) == 0 &&
	    (p.len == sizeof(m) - 1 || p.p[sizeof(m) - 1] == '?');
}

/* Keep the connection after this request?  HTTP/1.1 unless "close";
 * HTTP/1.0 only with "keep-alive" (RFC 9112 §9.3). */
static bool
keep_alive(const struct http_req *r)
{
	/* Connection is a list: "TE, close" closes (RFC 9110 §7.6.1) */
	if (http_conn_has(r->fields, r->nfields, "close"))
		return false;
	return r->version >= 11 || http_conn_has(r->fields, r->nfields, "keep-alive");
}

/* Method names are case-sensitive (RFC 9110 §9.1). */
static bool
method_is(const struct http_req *r, const char *m)
{
	return r->method.len == strlen(m) && memcmp(r->method.p, m, r->method.len) == 0;
}

/* No bodies here: a body we did not read would be taken for the next head. */
static bool
has_body(const struct http_req *r)
{
	struct http_framing fr;
	const char *why;
	int status;

	/* framed as the proxy port frames it: conflicting lengths are a body
	 * we cannot skip (RFC 9112 §6.3) */
	return http_req_framing(r, &fr, &status, &why) != VD_OK ||
	    fr.kind != HTTP_BODY_NONE;
}

/* A complete head: decide and build the answer. */
static int
dispatch(struct admin_conn *c, const struct http_req *r)
{
	bool get = method_is(r, "GET"), head = method_is(r, "HEAD");

	/* keepalive-timeout=0s: no persistent connections, said in every
	 * response (RFC 9112 §9.6), as on the proxy port */
	c->closing = !keep_alive(r) || c->a->conf->keepalive_timeout == 0;
	if (has_body(r)) {
		c->closing = true;
		return respond(c, 400, NULL, "no request body is accepted here\n", NULL, 0,
		    head);
	}
	if (method_is(r, "PURGE")) {
		if (r->form != HTTP_FORM_ABSOLUTE)
			return respond(c, 400, NULL, "PURGE wants an absolute http URL\n",
			    NULL, 0, false);
		return purge(c, r);
	}
	/* a server takes the absolute-form too (RFC 9112 §3.2.2): its path;
	 * any other absolute URL is one the cache may hold, for PURGE only */
	if ((r->form == HTTP_FORM_ORIGIN || r->form == HTTP_FORM_ABSOLUTE) &&
	    is_metrics_path(r->path)) {
		if (get || head)
			return metrics(c, head);
		return respond(c, 405, "Allow: GET, HEAD\r\n", "method not allowed\n", NULL,
		    0, false);
	}
	if (r->form == HTTP_FORM_ABSOLUTE)
		return respond(c, 405, "Allow: PURGE\r\n", "method not allowed\n", NULL, 0,
		    head);
	return respond(c, 404, NULL, "not found\n", NULL, 0, head);
}

/* ------------------------------------------------------------ connections */

static void
conn_free_(struct admin_conn *c)
{
	ev_timer_stop(c->a->loop, &c->timer);
	ev_io_del(c->a->loop, &c->io);
	close(c->io.fd);
	c->io.fd = -1;
	free(c->out);
	c->out = NULL;
}

static void	io_cb(struct ev_loop *, struct ev_io *, uint32_t);

static void
timer_cb(struct ev_loop *l, struct ev_timer *t)
{
	conn_free_(t->data);
}

/* Write what is pending: VD_OK all out, VD_AGAIN blocked, VD_ERR gone. */
static int
flush(struct admin_conn *c)
{
	ssize_t n;

	while (c->outoff < c->outlen) {
		n = send(c->io.fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return VD_AGAIN;
		if (n <= 0)
			return VD_ERR;
		c->outoff += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	return VD_OK;
}

/* Parse what is buffered; build at most one answer.  VD_OK answered,
 * VD_AGAIN need more bytes, VD_ERR drop the connection. */
static int
parse(struct admin_conn *c)
{
	struct http_field fields[ADMIN_MAX_FIELDS];
	/* the line limit below the buffer, so that a long line is a 414 */
	const struct http_limits lim = { ADMIN_LINE_MAX, ADMIN_HEAD_MAX, ADMIN_MAX_FIELDS };
	char why[128];
	struct http_req r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.fields = fields;
	rc = http_parse_request(&r, c->in, c->inlen, &lim);
	if (rc == VD_AGAIN && c->inlen == sizeof(c->in)) {
		rc = VD_ERR;
		r.status = 431;
		r.why = "request head too large";
	}
	if (rc == VD_AGAIN)
		return VD_AGAIN;
	if (rc == VD_ERR) {
		c->closing = true;
		snprintf(why, sizeof(why), "%s\n", r.why != NULL ? r.why : "bad request");
		return respond(c, r.status != 0 ? r.status : 400, NULL, why, NULL, 0, false);
	}
	if (dispatch(c, &r) != VD_OK)
		return VD_ERR;
	/* pipelined requests stay for the next turn */
	memmove(c->in, c->in + r.head_len, c->inlen - r.head_len);
	c->inlen -= r.head_len;
	return VD_OK;
}

/* Read, answer, write until the socket blocks or the connection ends. */
static void
step(struct admin_conn *c)
{
	struct admin *a = c->a;
	ssize_t n;
	int rc;

	for (;;) {
		if (c->out != NULL) {
			if ((rc = flush(c)) == VD_AGAIN) {
				/* not EPOLLIN: unread bytes would wake us for nothing */
				ev_io_mod(a->loop, &c->io, EPOLLOUT);
				return;
			}
			if (rc == VD_ERR || c->closing) {
				if (rc == VD_OK)
					shutdown(c->io.fd, SHUT_WR);	/* the answer first, then close */
				conn_free_(c);
				return;
			}
			ev_io_mod(a->loop, &c->io, EPOLLIN | EPOLLRDHUP);
			ev_timer_start(a->loop, &c->timer, c->inlen > 0 ?
			    a->conf->request_header_timeout : a->conf->keepalive_timeout);
		}
		if ((rc = parse(c)) == VD_OK)
			continue;
		if (rc == VD_ERR) {
			conn_free_(c);
			return;
		}
		n = recv(c->io.fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_free_(c);
			return;
		}
		if (c->inlen == 0)
			ev_timer_start(a->loop, &c->timer, a->conf->request_header_timeout);
		c->inlen += (size_t)n;
	}
}

static void
io_cb(struct ev_loop *l, struct ev_io *io, uint32_t ev)
{
	step(io->data);
}

static struct admin_conn *
slot_get(struct admin *a)
{
	for (int i = 0; i < ADMIN_MAX_CONNS; i++)
		if (a->conns[i].io.fd < 0)
			return &a->conns[i];
	return NULL;
}

/* 403 to a client outside admin-allow, without reading its request (a
 * best-effort send into an empty socket buffer), then close. */
static void
refuse(int fd, const struct sockaddr *sa)
{
	static const char r403[] = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nContent-Length: 10\r\nCache-Control: no-store\r\n"
	    "Connection: close\r\n\r\nforbidden\n";
	char peer[VD_SOCKADDR_STRLEN];

	log_info("admin: %s refused (admin-allow)", vd_sockaddr_fmt(sa, peer, sizeof(peer)));
	(void)send(fd, r403, sizeof(r403) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(fd, SHUT_WR);
	close(fd);
}

static void
accept_cb(struct ev_loop *l, struct ev_io *lio, uint32_t ev)
{
	struct admin *a = lio->data;
	struct sockaddr_storage ss;
	struct admin_conn *c;
	socklen_t sl;
	int fd;

	for (int batch = 0; batch < ADMIN_MAX_CONNS; batch++) {
		sl = sizeof(ss);
		fd = accept4(lio->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("admin: accept");
			return;
		}
		/* a client admin-allow refuses holds no slot: its 403 goes at
		 * once (or not at all), so that such clients cannot fill the
		 * slots and shut out the allowed ones */
		if (!conf_prefix_match(a->conf->admin_allow, a->conf->nadmin_allow,
		    (struct sockaddr *)&ss)) {
			refuse(fd, (struct sockaddr *)&ss);
			continue;
		}
		if ((c = slot_get(a)) == NULL) {
			log_warnx("admin: more than %d connections, closing one", ADMIN_MAX_CONNS);
			close(fd);
			continue;
		}
		vd_sockaddr_fmt((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
		c->closing = false;
		c->inlen = 0;
		ev_io_init(&c->io, fd, io_cb, c);
		if (ev_io_add(a->loop, &c->io, EPOLLIN | EPOLLRDHUP) == -1) {
			log_warn("admin: epoll add");
			close(fd);
			c->io.fd = -1;
			continue;
		}
		ev_timer_start(a->loop, &c->timer, a->conf->request_header_timeout);
	}
}

/* ------------------------------------------------------------ set-up */

struct admin *
admin_create(struct ev_loop *loop, const struct vd_conf *conf, struct conn_table *t)
{
	char path[4096];
	struct admin *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if ((a->sum = malloc(sizeof(*a->sum))) == NULL) {
		free(a);
		return NULL;
	}
	a->loop = loop;
	a->conf = conf;
	a->t = t;
	for (int i = 0; i < ADMIN_MAX_CONNS; i++) {
		a->conns[i].a = a;
		a->conns[i].io.fd = -1;
		ev_timer_init(&a->conns[i].timer, timer_cb, &a->conns[i]);
	}
	/* the segment as viaductctl sees it: its header and every slot */
	snprintf(path, sizeof(path), "%s/stats", conf->run_dir);
	if ((a->stats = stats_open_ro(path, &a->statslen)) == NULL)
		log_warn("admin: cannot map %s, /metrics answers 503", path);
	return a;
}

int
admin_listen(struct admin *a, int fd)
{
	struct ev_io *io;

	if (a == NULL || a->nl == ADMIN_MAX_LISTEN)
		return -1;
	io = &a->lio[a->nl];
	ev_io_init(io, fd, accept_cb, a);
	if (ev_io_add(a->loop, io, EPOLLIN | EPOLLEXCLUSIVE) == -1)
		return -1;
	a->nl++;
	return 0;
}

void
admin_stop(struct admin *a)
{
	if (a == NULL)
		return;
	for (int i = 0; i < a->nl; i++) {
		ev_io_del(a->loop, &a->lio[i]);
		close(a->lio[i].fd);	/* our copy; the master keeps the socket */
	}
	a->nl = 0;
}

void
admin_free(struct admin *a)
{
	if (a == NULL)
		return;
	admin_stop(a);
	for (int i = 0; i < ADMIN_MAX_CONNS; i++)
		if (a->conns[i].io.fd >= 0)
			conn_free_(&a->conns[i]);
	if (a->stats != NULL)
		stats_unmap(a->stats, a->statslen);
	free(a->sum);
	free(a);
}
