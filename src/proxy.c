/*
 * proxy.c — the request flow of one client connection, as a state machine
 * driven by readiness (see proxy.h).  One request at a time; bodies move
 * through fixed buffers with back-pressure both ways (relay.c).  Here: the
 * checks and routing of a request (explicit, transparent, reverse, CONNECT),
 * viaduct's own TRACE/OPTIONS answers, Expect and 1xx, the safe retry on a
 * fresh origin connection, and the switch to a tunnel.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "viaduct.h"
#include "accesslog.h"
#include "cache_dscp.h"
#include "cache_proxy.h"
#include "conf.h"
#include "log.h"
#include "stats.h"
#include "proxy.h"
#include "rules.h"

#define LINGER_MS	2000

static int	read_resp(struct conn *);

/* ------------------------------------------------------------ helpers */

/* Write o from *off.  VD_OK done, VD_AGAIN, VD_ERR. */
static int
write_buf(struct http_out *o, size_t *off, struct side *s, uint64_t *count)
{
	ssize_t n;

	while (*off < o->len) {
		if (!s->wr)
			return VD_AGAIN;
		n = send(s->fd, o->p + *off, o->len - *off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				s->wr = false;
				return VD_AGAIN;
			}
			return VD_ERR;
		}
		*off += (size_t)n;
		*count += (uint64_t)n;
	}
	return VD_OK;
}

static int
write_out(struct conn *c, struct side *s, uint64_t *count)
{
	return write_buf(&c->out, &c->out_off, s, count);
}

/* A queued interim response goes to the client before anything else. */
static int
flush_interim(struct conn *c)
{
	uint64_t out = 0;
	int rc = write_buf(&c->iout, &c->iout_off, &c->cl, &out);

	CLIENT_STATS_INC(c, sent_to_clients, out);
	c->sent += out;
	if (rc == VD_OK)
		c->iout.len = c->iout_off = 0;
	return rc;
}

static void
count_status(const struct conn *c, int status)
{
	if (status >= 500)
		CLIENT_STATS_INC(c, responses_5xx, 1);
	else if (status >= 400)
		CLIENT_STATS_INC(c, responses_4xx, 1);
}

static void
linger(struct conn *c)
{
	accesslog_req_end(c);		/* the error page or response is out */
	upstream_close(c);
	shutdown(c->cl.fd, SHUT_WR);
	c->state = PX_LINGER;
	c->linger_q = UINT32_MAX;
	conn_timer(c, LINGER_MS);
}

/*
 * A response cut short (its origin, or the fetch it shared, ended early):
 * it looks truncated to the client (short of its length or of its last
 * chunk), and the connection ends with a FIN and a lingering read, never a
 * reset: pipelined requests may be unread in the socket, and a reset would
 * destroy the complete responses before this one in the client's buffers
 * (RFC 9112 §9.6).
 */
static void
cut_short(struct conn *c)
{
	cache_proxy_end(c, false);	/* nothing of it is stored */
	c->keep_alive = false;
	linger(c);
}

/* Lingering, the client is still taking what we sent: less of it is unsent
 * than at the last look.  Then closing now would risk a reset that
 * destroys the rest; only a client that takes nothing for LINGER_MS is
 * closed on. */
static bool
still_taking(struct conn *c)
{
	int q;

	if (ioctl(c->cl.fd, SIOCOUTQ, &q) == -1 || q <= 0 || (uint32_t)q >= c->linger_q)
		return false;
	c->linger_q = (uint32_t)q;
	return true;
}

void
proxy_error(struct conn *c, int status, const char *why)
{
	struct vd_str url = c->req.target;

	accesslog_req_error(c);		/* no-op unless the head did not parse */
	log_info("%s: %d %s: %.*s", c->peer, status, why,
	    (int)(url.len > 200 ? 200 : url.len), url.p ? url.p : "");
	upstream_close(c);
	if (status >= 500 && cache_proxy_error(c) == VD_OK)
		return;		/* RFC 5861 stale-if-error: the stored object answers */
	count_status(c, status);
	if (c->resp_started) {
		conn_close(c);
		return;
	}
	cache_dscp_other(c);		/* an error page is no hit */
	c->out.len = 0;
	c->out.overflow = false;
	http_error_page(&c->out, status, url, why, c->t->admin, c->t->via,
	    conn_date(c->t), false);
	proxy_head_only(c);
	c->out_off = 0;
	c->keep_alive = false;
	c->status = status;
	c->state = PX_ERROR;
	conn_timer(c, c->t->conf->idle_timeout);
}

/* RFC 9110 §9.3.2: the answer to HEAD is the head alone, Content-Length
 * as a GET would have it.  For the answers viaduct makes itself, whole in
 * c->out (a request that failed before its method parsed has none). */
void
proxy_head_only(struct conn *c)
{
	const char *end;

	if (c->req.method.len == 0 || !http_method_is(c->req.method, "HEAD") ||
	    (end = memmem(c->out.p, c->out.len, "\r\n\r\n", 4)) == NULL)
		return;
	c->out.len = (size_t)(end + 4 - c->out.p);
}

/* Requests a connection starts in one turn of the loop (proxy_run). */
#define PROXY_TURN_HEADS	16

/* Ready for the next request; bytes already read stay (pipelining). */
static void
next_request(struct conn *c)
{
	struct buf *b = &c->in;
	struct http_field *f = c->req.fields;
	size_t left = b->end - b->start;

	if (left > 0 && b->start > 0)
		memmove(b->p, b->p + b->start, left);
	b->base = b->start = 0;
	b->end = left;
	memset(&c->req, 0, sizeof(c->req));
	c->req.fields = f;
	c->resp_started = false;
	c->status = 0;
	c->state = PX_HEAD;
	conn_timer(c, left > 0 ? c->t->conf->request_header_timeout :
	    (c->nreq == 0 ? c->t->conf->request_header_timeout : c->t->conf->keepalive_timeout));
}

void
proxy_start(struct conn *c)
{
	c->in.start = c->in.end = 0;
	cache_dscp_reset(c);
	next_request(c);
	proxy_run(c);
}

/* ------------------------------------------------------------ the request */

static void
dns_done(void *arg, const struct dns_result *r)
{
	struct conn *c = arg;
	struct upstream *u = &c->up;

	u->dnsq = NULL;
	if (c->state != PX_RESOLVE)
		return;
	if (r->naddrs == 0) {
		STATS_INC(upstream_errors, 1);
		proxy_error(c, 504, r->error);	/* a gateway's DNS failure */
	} else {
		memcpy(u->addrs, r->addrs, sizeof(u->addrs));
		memcpy(u->lens, r->lens, sizeof(u->lens));
		u->naddrs = r->naddrs;
		u->cur = 0;
		c->state = PX_CONNECT;	/* dst-address rules: upstream_connect() */
	}
	if (!c->running)
		proxy_run(c);
}

/* A literal address skips the resolver. */
static bool
numeric_host(struct upstream *u)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&u->addrs[0];
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&u->addrs[0];

	memset(&u->addrs[0], 0, sizeof(u->addrs[0]));
	if (inet_pton(AF_INET, u->host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(u->port);
		u->lens[0] = sizeof(*sin);
	} else if (inet_pton(AF_INET6, u->host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(u->port);
		u->lens[0] = sizeof(*sin6);
	} else {
		return false;
	}
	u->naddrs = 1;
	u->cur = 0;
	return true;
}

/* Connect to u->host:u->port (set by the router): a pooled connection
 * when one is idle, else resolve and connect. */
static void
start_upstream(struct conn *c)
{
	struct upstream *u = &c->up;
	int rc;

	u->naddrs = u->cur = 0;
	u->error = NULL;
	u->local = false;
	u->got = false;
	c->up.in.base = c->up.in.start = c->up.in.end = 0;
	memset(&c->resp, 0, sizeof(c->resp));
	c->resp.fields = c->req.fields + c->t->conf->max_headers;
	c->iout.len = c->iout_off = 0;
	c->early = false;
	/* the direct list may send it through a parent (addrs[] = parents) */
	if ((rc = upstream_parent_plan(c)) == VD_ERR)
		return;
	if (u->via_parent && c->req_fr.kind == HTTP_BODY_CHUNKED && upstream_origin_v10(c)) {
		proxy_error(c, 411, "the parent proxy speaks HTTP/1.0, which has no "
		    "chunked request body: send Content-Length");
		return;
	}
	/* a pooled connection would skip the address the access list waits for */
	if (!u->acl_addr && upstream_pool_get(c) == VD_OK) {
		c->state = PX_SEND;
		conn_timer(c, c->t->conf->idle_timeout);
		return;
	}
	conn_timer(c, c->t->conf->connect_timeout);
	if (rc == VD_OK || numeric_host(u)) {
		c->state = PX_CONNECT;
		return;
	}
	c->state = PX_RESOLVE;
	if (dns_resolve(c->t->dns, u->host, u->port, dns_done, c, &u->dnsq) != VD_OK)
		proxy_error(c, 503, "resolver busy");
}

/*
 * The cache cannot use what the origin answered its conditional request
 * (a 304 naming another representation, RFC 9111 §4.3.4): the client's
 * request again as it came, without the cache's validators.  The caller
 * has released the connection the 304 came on.
 */
/*
 * What every forwarded head gets: our Via and the client's address, and
 * for a Host-less request on a redirected transparent connection (HTTP/1.0
 * allows that) the Host a 1.1 request must have (RFC 9112 §3.2): the
 * original destination it is fetched from (route()), as upstream.c's
 * origin_authority() writes it.  hbuf (cap bytes) holds it.
 */
static void
fwd_init(const struct conn *c, struct http_fwd *fw, char *hbuf, size_t cap)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&c->odst;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&c->odst;
	char a[INET6_ADDRSTRLEN];
	uint16_t port;
	int n;

	*fw = (struct http_fwd){ .via = c->t->via, .client_ip = c->peer,
	    .anonymous = c->t->conf->anonymous };
	if (c->req.host_field >= 0 || c->req.form != HTTP_FORM_ORIGIN ||
	    c->mode != ROUTER_TRANSPARENT || !c->has_odst)
		return;
	if (c->odst.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		port = ntohs(s6->sin6_port);
	} else {
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
	}
	n = snprintf(hbuf, cap, port == 80 ? "%s%s%s" : "%s%s%s:%u",
	    c->odst.ss_family == AF_INET6 ? "[" : "", a,
	    c->odst.ss_family == AF_INET6 ? "]" : "", (unsigned)port);
	if (n > 0 && (size_t)n < cap)
		fw->host = (struct vd_str){ hbuf, (size_t)n };
}

void
proxy_refetch(struct conn *c)
{
	struct http_fwd fw;
	char host[INET6_ADDRSTRLEN + 8];

	fwd_init(c, &fw, host, sizeof(host));

	c->out.len = 0;
	c->out.overflow = false;
	if (http_req_head(&c->out, &c->req, &c->req_fr, &fw) != VD_OK) {
		proxy_error(c, 431, "request header too large to forward");
		return;
	}
	c->out_off = 0;
	c->status = 0;
	memset(&c->body, 0, sizeof(c->body));
	c->body.fr = c->req_fr;
	c->body.left = c->req_fr.length;
	c->body.out = RELAY_RAW;
	start_upstream(c);
}

void
proxy_upstream(struct conn *c)
{
	cache_dscp_other(c);	/* the cache did not answer after all */
	start_upstream(c);
	if (!c->running)
		proxy_run(c);
}

/* The origin is host (brackets allowed) and port; VD_OK or an error page. */
static int
set_origin(struct conn *c, struct vd_str h, uint16_t port)
{
	struct upstream *u = &c->up;

	if (h.len > 1 && h.p[0] == '[') {
		h.p++;
		h.len -= 2;
	}
	if (h.len == 0 || h.len >= sizeof(u->host)) {
		proxy_error(c, 400, "bad host name");
		return VD_ERR;
	}
	memcpy(u->host, h.p, h.len);
	u->host[h.len] = '\0';
	u->port = port;
	return VD_OK;
}

/* May the request go to another parent, or the origin, after one failed?
 * Nothing of a body can be sent twice; a request that went whole only when
 * idempotent (RFC 9110 §9.2.2); a CONNECT sent nothing of the client's. */
static bool
replayable(const struct conn *c)
{
	return c->connect || upstream_retryable(c);
}

/*
 * A pooled connection failed before any byte of the response: the origin
 * closed it while we were reusing it.  Send the request again on a new
 * connection, but only where that is safe (RFC 9110 §9.2.2, RFC 9112 §9.3.1):
 * an idempotent method whose whole request is still in our buffers.
 */
static bool
retry_fresh(struct conn *c)
{
	if (!c->up.reused || c->up.got || !upstream_retryable(c))
		return false;
	log_info("%s: pooled connection to %s:%u failed, retrying on a new one",
	    c->peer, c->up.host, c->up.port);
	upstream_close(c);
	c->up.fresh_only = true;
	c->out_off = 0;
	start_upstream(c);
	return true;
}

/*
 * The upstream connection failed before the response head was whole: the
 * request again on a new connection (a pooled one that was closed under
 * us), or through the next parent where that is safe (a parent that hangs
 * up or resets a new connection failed; one that closed a kept-alive
 * connection as we reused it is the usual race, RFC 9112 §9.3.1), else a
 * 502 saying why.
 */
static void
upstream_lost(struct conn *c, const char *why)
{
	if (retry_fresh(c))
		return;
	if (!c->up.reused)
		upstream_parent_failed(c);
	if (upstream_parent_next(c, replayable(c)))
		return;
	STATS_INC(upstream_errors, 1);
	proxy_error(c, 502, why);
}

/*
 * Where the request goes: the absolute-form target; on a transparent
 * listener the firewall's original destination, else Host; on a reverse
 * listener the origin configured for Host.  VD_OK or an error page is set.
 */
static int
route(struct conn *c)
{
	struct http_req *r = &c->req;
	struct vd_str host = { NULL, 0 };
	const char *oh;
	uint16_t port = 80;

	if (r->form == HTTP_FORM_ABSOLUTE && c->mode != ROUTER_REVERSE)
		return set_origin(c, r->host, r->port);
	if (c->mode == ROUTER_TRANSPARENT && c->has_odst) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&c->odst;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&c->odst;

		if (c->odst.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &sin6->sin6_addr, c->up.host, sizeof(c->up.host));
		else
			inet_ntop(AF_INET, &sin->sin_addr, c->up.host, sizeof(c->up.host));
		c->up.port = ntohs(c->odst.ss_family == AF_INET6 ? sin6->sin6_port : sin->sin_port);
		return VD_OK;
	}
	if (r->form == HTTP_FORM_ABSOLUTE) {
		/* a surrogate is the origin to its clients, never their proxy:
		 * the target's authority is the Host (RFC 9112 §3.2.2) */
		host = r->host;
	} else if (r->host_field < 0 || http_parse_authority(r->fields[r->host_field].value.p,
	    r->fields[r->host_field].value.len, 80, &host, &port) != VD_OK) {
		proxy_error(c, 400, "no usable Host field");
		return VD_ERR;
	}
	if (c->mode == ROUTER_TRANSPARENT)
		return set_origin(c, host, port);
	if (router_reverse(c->t->router, host, &oh, &port) != VD_OK) {
		proxy_error(c, 404, "unknown host");
		return VD_ERR;
	}
	return set_origin(c, (struct vd_str){ oh, strlen(oh) }, port);
}

static bool
connect_port_ok(const struct vd_conf *cf, uint16_t port)
{
	for (int i = 0; i < cf->nconnect_ports; i++)
		if (cf->connect_ports[i] == port)
			return true;
	return false;
}

/* The request's way on, the access list done: a tunnel's connection; a
 * hit; or the origin or a parent. */
static void
request_go(struct conn *c)
{
	if (c->connect) {
		start_upstream(c);
		return;
	}
	if (c->req_fr.kind == HTTP_BODY_CHUNKED && upstream_origin_v10(c)) {
		proxy_error(c, 411, "the origin speaks HTTP/1.0, which has no "
		    "chunked request body: send Content-Length");
		return;
	}
	if (cache_proxy_request(c) == VD_OK)	/* a hit, or only-if-cached's 504 */
		return;
	start_upstream(c);
}

static void
acl_dns_done(void *arg, const struct dns_result *r)
{
	struct conn *c = arg;

	c->up.dnsq = NULL;
	if (c->state != PX_RESOLVE)
		return;
	if (rules_access_addrs(c, r->addrs, r->naddrs) == VD_OK)
		request_go(c);
	if (!c->running)
		proxy_run(c);
}

/*
 * A dst-address access rule that waits for a named origin's addresses
 * (rules.h) is decided before the request goes on: a hit, or a request
 * through a parent, opens no connection to the origin whose address the
 * connect-time check would see, so every rule after it went unasked.
 */
static void
access_then_go(struct conn *c)
{
	struct upstream *u = &c->up;

	if (!u->acl_addr) {
		request_go(c);
		return;
	}
	if (numeric_host(u)) {		/* a transparent connection's destination */
		if (rules_access_addrs(c, u->addrs, 1) == VD_OK)
			request_go(c);
		return;
	}
	c->state = PX_RESOLVE;
	conn_timer(c, c->t->conf->connect_timeout);
	if (dns_resolve(c->t->dns, u->host, u->port, acl_dns_done, c, &u->dnsq) != VD_OK)
		proxy_error(c, 503, "resolver busy");
}

/* CONNECT (RFC 9110 §9.3.6): a fresh connection, then a tunnel. */
static void
on_connect(struct conn *c)
{
	c->connect = true;
	c->keep_alive = false;
	if (set_origin(c, c->req.host, c->req.port) != VD_OK)
		return;
	c->up.fresh_only = true;
	access_then_go(c);
}

/* Offer the origin the client's Upgrade (RFC 9110 §7.8): HTTP/1.1, no body,
 * websocket only -- any other Upgrade is hop-by-hop and dropped, so that
 * h2c cannot turn the connection into a tunnel past the access rules. */
static bool
wants_upgrade(const struct http_req *r, const struct http_framing *fr)
{
	return r->version == 11 && fr->kind == HTTP_BODY_NONE &&
	    http_conn_has(r->fields, r->nfields, "upgrade") &&
	    http_upgrade_websocket(r->fields, r->nfields);
}

/* Which requests this stage forwards; VD_OK or an error page is set. */
static int
check_request(struct conn *c)
{
	struct http_req *r = &c->req;
	int status;
	const char *why;

	if (http_req_framing(r, &c->req_fr, &status, &why) != VD_OK) {
		proxy_error(c, status, why);
		return VD_ERR;
	}
	if (http_via_has(r->fields, r->nfields, c->t->via)) {
		proxy_error(c, 508, "forwarding loop: our Via is already in the request");
		return VD_ERR;
	}
	if (r->form == HTTP_FORM_AUTHORITY) {
		if (c->mode == ROUTER_REVERSE) {
			proxy_error(c, 501, "CONNECT is not served on a reverse-proxy port");
			return VD_ERR;
		}
		/* RFC 9110 §9.3.6: a CONNECT has no content; what follows its
		 * head is the tunnel's.  A length or a coding would make a
		 * hop that frames by them read those bytes as a body and the
		 * rest as another request, where we would tunnel them. */
		if (c->req_fr.kind != HTTP_BODY_NONE) {
			proxy_error(c, 400, "CONNECT with Content-Length or Transfer-Encoding");
			return VD_ERR;
		}
		if (!connect_port_ok(c->t->conf, r->port)) {
			proxy_error(c, 403, "CONNECT to this port is not allowed");
			return VD_ERR;
		}
		return VD_OK;
	}
	if (r->form != HTTP_FORM_ABSOLUTE) {
		if (c->mode != ROUTER_PROXY)
			return VD_OK;		/* transparent or reverse: route() */
		if (r->form == HTTP_FORM_ASTERISK && http_method_is(r->method, "OPTIONS"))
			return VD_OK;		/* OPTIONS * asks about viaduct itself */
		proxy_error(c, 400, "not a proxy request (absolute URL expected)");
		return VD_ERR;
	}
	if (!http_str_ieq(r->scheme, "http")) {
		proxy_error(c, 501, "unsupported URL scheme");
		return VD_ERR;
	}
	return VD_OK;
}

/*
 * TRACE and OPTIONS with Max-Forwards (RFC 9110 §7.6.2): at 0 viaduct is
 * the final recipient and answers; otherwise the value is decremented.
 * VD_OK: answered here; VD_DECLINED: forward (fw set up).
 */
static int
local_answer(struct conn *c, struct http_fwd *fw)
{
	struct http_req *r = &c->req;
	bool trace = http_method_is(r->method, "TRACE");
	bool options = http_method_is(r->method, "OPTIONS");
	uint64_t mf = 1;

	if (!trace && !options)
		return VD_DECLINED;
	if (r->form != HTTP_FORM_ASTERISK || c->mode != ROUTER_PROXY) {
		if (http_max_forwards(r, &mf) == VD_ERR) {
			proxy_error(c, 400, "invalid Max-Forwards");
			return VD_OK;
		}
		if (mf > 0) {
			fw->set_max_forwards = true;
			fw->max_forwards = mf - 1;
			return VD_DECLINED;
		}
	}
	if (c->req_fr.kind != HTTP_BODY_NONE)
		c->keep_alive = false;	/* the body is not read: close after */
	c->out.len = 0;
	c->out.overflow = false;
	if (trace)
		/* the message received starts at its request line: the empty
		 * lines before it are none of it (RFC 9112 §2.2) */
		http_trace_reply(&c->out, r->method.p,
		    r->head_len - (size_t)(r->method.p - c->in.p), c->t->via,
		    conn_date(c->t), !c->keep_alive, c->keep_alive && r->version == 10);
	else
		http_options_reply(&c->out, c->t->via, conn_date(c->t), !c->keep_alive,
		    c->keep_alive && r->version == 10);
	if (c->out.overflow) {
		proxy_error(c, 431, "request header too large to reflect");
		return VD_OK;
	}
	c->out_off = 0;
	c->status = 200;
	c->state = PX_REPLY;
	conn_timer(c, c->t->conf->idle_timeout);
	return VD_OK;
}

/* RFC 9110 §10.1.1: Expect is a list; 100-continue may be any member */
static bool
expects_continue(const struct http_req *r)
{
	return http_list_has(r->fields, r->nfields, "expect", "100-continue");
}

/* The request's Connection names this trailer field (http_chunk.h); its
 * head stays in front of the buffer while the body streams. */
static bool
trailer_named(void *arg, const char *name, size_t n)
{
	const struct conn *c = arg;
	struct http_hops hops;

	http_hops_init(&hops, c->req.fields, c->req.nfields);
	return http_hops_has(&hops, (struct vd_str){ name, n });
}

static void
on_request(struct conn *c)
{
	struct http_req *r = &c->req;
	struct http_fwd fw;
	char host[INET6_ADDRSTRLEN + 8];

	fwd_init(c, &fw, host, sizeof(host));
	if (!c->internal)	/* a background revalidation is no client's request */
		STATS_INC(requests, 1);
	accesslog_req_start(c);
	c->nreq++;
	/* RFC 9112 §9.3, C.2.2: a 1.0 client's keep-alive is honoured only
	 * where viaduct is not its proxy (a reverse port) */
	c->keep_alive = r->version == 11 ?
	    !http_conn_has(r->fields, r->nfields, "close") :
	    c->mode == ROUTER_REVERSE && http_conn_has(r->fields, r->nfields, "keep-alive") &&
	    !http_conn_has(r->fields, r->nfields, "close");
	c->client_close = !c->keep_alive;
	/* keepalive-timeout=0s: no persistent connections, and every response
	 * says so (RFC 9112 §9.6) */
	if (c->t->conf->keepalive_timeout == 0)
		c->keep_alive = false;
	c->head_method = http_method_is(r->method, "HEAD");
	/* the head stays in front of the buffer while the body streams behind it */
	c->in.base = c->in.start = r->head_len;
	c->up.acl_addr = false;
	if (rules_access(c) != VD_OK)	/* /ip proxy access: 403 or 302 queued */
		return;
	c->connect = c->upgrade = false;
	c->up.direct = 0;		/* the direct list is asked afresh */
	c->up.direct_addr = false;
	c->up.fallback = false;
	if (check_request(c) != VD_OK)
		return;
	if (r->form == HTTP_FORM_AUTHORITY) {
		on_connect(c);
		return;
	}
	if (c->req_fr.te_and_cl || c->t->shutdown)
		c->keep_alive = false;	/* RFC 9112 §6.3: close after a TE+CL request */
	if (c->t->conf->max_request_body > 0 && c->req_fr.kind == HTTP_BODY_LENGTH &&
	    c->req_fr.length > (uint64_t)c->t->conf->max_request_body) {
		proxy_error(c, 413, "request body larger than max-request-body");
		return;
	}
	/* a client whose body came with its head is not waiting for a 100 */
	c->expect = r->version == 11 && c->req_fr.kind != HTTP_BODY_NONE &&
	    expects_continue(r) && c->in.start == c->in.end;
	if (local_answer(c, &fw) == VD_OK)
		return;
	c->upgrade = fw.upgrade = wants_upgrade(r, &c->req_fr);
	c->out.len = 0;
	c->out.overflow = false;
	if (http_req_head(&c->out, r, &c->req_fr, &fw) != VD_OK) {
		proxy_error(c, 431, "request header too large to forward");
		return;
	}
	c->out_off = 0;
	memset(&c->body, 0, sizeof(c->body));
	c->body.fr = c->req_fr;
	c->body.left = c->req_fr.length;
	c->body.out = RELAY_RAW;
	c->body.limit = (uint64_t)c->t->conf->max_request_body;
	if (c->req_fr.kind == HTTP_BODY_CHUNKED) {
		relay_check_trailer(&c->body);
		c->body.ch.named = trailer_named;
		c->body.ch.named_arg = c;
	}
	c->up.fresh_only = false;
	if (route(c) != VD_OK)
		return;
	access_then_go(c);
}

/* ------------------------------------------------------------ states */

static int
st_head(struct conn *c)
{
	struct buf *b = &c->in;
	ssize_t n;
	int rc;

	for (;;) {
		if (b->end > 0) {
			rc = http_parse_request(&c->req, b->p, b->end, &c->t->req_lim);
			if (rc == VD_OK) {
				on_request(c);
				/* a hit (or a wait for one) is in PX_CACHE; any
				 * other answer goes out with the socket's own class */
				if (c->state != PX_CACHE)
					cache_dscp_other(c);
				return VD_OK;
			}
			if (rc == VD_ERR) {
				proxy_error(c, c->req.status, c->req.why);
				return VD_OK;
			}
		}
		/* draining: an idle kept-alive connection goes once nothing
		 * waits in its socket (a request already there is served); a
		 * new one is served */
		if (c->cl.eof || (c->t->shutdown && b->end == 0 && c->nreq > 0 && !c->cl.rd)) {
			conn_close(c);
			return VD_OK;
		}
		if (!c->cl.rd)
			return VD_AGAIN;
		n = recv(c->cl.fd, b->p + b->end, b->cap - b->end, 0);
		if (n > 0) {
			side_short_read(&c->cl, (size_t)n, b->cap - b->end);
			if (b->end == 0 && c->nreq > 0)
				conn_timer(c, c->t->conf->request_header_timeout);
			b->end += (size_t)n;
		} else if (n == 0) {
			c->cl.eof = true;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->cl.rd = false;
			if (c->t->shutdown && b->end == 0 && c->nreq > 0)
				continue;	/* draining and idle: closed above */
			return VD_AGAIN;
		} else if (errno != EINTR) {
			conn_close(c);
			return VD_OK;
		}
	}
}

static int
st_connect(struct conn *c)
{
	int rc;

	if (c->up.s.fd < 0)
		rc = upstream_connect(c);
	else if (!c->up.s.wr)
		return VD_AGAIN;
	else
		rc = upstream_connected(c);
	if (rc == VD_AGAIN)
		return VD_AGAIN;
	if (rc == VD_DONE)
		return VD_OK;		/* an access rule answered (upstream_connect) */
	if (rc == VD_ERR) {
		/* nothing was sent; a failure of ours (no descriptor) is no
		 * reason to try the other parents or the origin */
		if (!c->up.local && upstream_parent_next(c, true))
			return VD_OK;
		STATS_INC(upstream_errors, 1);
		proxy_error(c, c->up.local ? 503 : 502,
		    c->up.error ? c->up.error : "cannot connect to origin");
		return VD_OK;
	}
	if (c->connect && c->up.via_parent) {
		/* chained: CONNECT to the parent, whose answer on_response relays */
		if (upstream_parent_connect_head(c) != VD_OK) {
			proxy_error(c, 431, "request header too large to forward");
			return VD_OK;
		}
		memset(&c->body, 0, sizeof(c->body));
		c->body.fr.kind = HTTP_BODY_NONE;
		c->state = PX_SEND;
		conn_timer(c, c->t->conf->idle_timeout);
		return VD_OK;
	}
	if (c->connect) {
		c->out.len = 0;
		c->out.overflow = false;
		http_out_str(&c->out, "HTTP/1.1 200 Connection established\r\nDate: ");
		http_out_str(&c->out, conn_date(c->t));
		http_out_str(&c->out, "\r\nVia: 1.1 ");
		http_out_str(&c->out, c->t->via);
		http_out_str(&c->out, "\r\n\r\n");
		c->out_off = 0;
		c->status = 200;
		c->state = PX_TUNNEL_OK;
		return VD_OK;
	}
	c->state = PX_SEND;
	conn_timer(c, c->t->conf->idle_timeout);
	return VD_OK;
}

#define EXPECT_WAIT_MS	1000	/* then we send 100 (Continue) ourselves */

static int
st_send(struct conn *c)
{
	uint64_t in = 0, out = 0;
	int rc;

	rc = write_out(c, &c->up.s, &out);
	if (rc == VD_OK)
		rc = relay_run(&c->body, &c->in, &c->cl, &c->up.s, &in, &out);
	if (in > 0)
		c->expect = false;	/* the client did not wait */
	if ((rc == VD_AGAIN || rc == RELAY_EDST || rc == VD_ERR) &&
	    c->out_off == c->out.len && c->req_fr.kind != HTTP_BODY_NONE) {
		/* while the body goes up, the origin may answer: 100, or early */
		if (read_resp(c) == VD_OK || c->state != PX_SEND)
			return VD_OK;
	}
	if (rc == VD_AGAIN) {
		if (c->expect)
			conn_timer(c, EXPECT_WAIT_MS);
		else if (in + out > 0)
			conn_timer(c, c->t->conf->idle_timeout);
		return VD_AGAIN;
	}
	if (rc == RELAY_ESRC) {
		if (c->cl.eof)
			conn_close(c);
		else
			proxy_error(c, c->body.status ? c->body.status : 400, c->body.why);
		return VD_OK;
	}
	if (rc != VD_DONE) {
		upstream_lost(c, "origin closed while receiving the request");
		return VD_OK;
	}
	c->state = PX_RESP_HEAD;
	conn_timer(c, c->t->conf->response_timeout);
	return VD_OK;
}

/* How the response body reaches this client (RFC 9112 §6.3, §7). */
static void
plan_response(struct conn *c)
{
	struct relay *r = &c->body;
	bool v11 = c->req.version == 11;

	c->ro = (struct http_resp_out){ 0 };
	r->out = RELAY_RAW;
	if (r->fr.kind == HTTP_BODY_EOF || r->fr.kind == HTTP_BODY_CHUNKED) {
		if (v11) {
			c->ro.chunked = true;
			if (r->fr.kind == HTTP_BODY_EOF)
				r->out = RELAY_ENCODE;
		} else {
			c->keep_alive = false;	/* close-delimited to a 1.0 client */
			if (r->fr.kind == HTTP_BODY_CHUNKED)
				r->out = RELAY_DECODE;
		}
	}
	if (c->t->shutdown)
		c->keep_alive = false;	/* draining: say so, or the next request is lost */
	c->ro.close = !c->keep_alive;
	c->ro.keep_alive_10 = !v11 && c->keep_alive;
	c->ro.date = conn_date(c->t);
}

/* 101 Switching Protocols to an Upgrade we offered: the connection becomes a tunnel. */
static int
on_switch(struct conn *c)
{
	struct http_framing none = { .kind = HTTP_BODY_NONE };
	/* RFC 9110 §6.6.1: a forwarded response without Date gets one */
	struct http_resp_out ro = { .upgrade = true, .date = conn_date(c->t) };

	if (!c->upgrade || c->state != PX_RESP_HEAD) {
		proxy_error(c, 502, "origin switched protocols without Upgrade");
		return VD_OK;
	}
	/* RFC 9110 §7.8: the 101 names the protocol, one the client offered
	 * (websocket alone is offered): no tunnel for anything else */
	if (!http_upgrade_websocket(c->resp.fields, c->resp.nfields)) {
		proxy_error(c, 502, "origin switched to a protocol that was not offered");
		return VD_OK;
	}
	c->out.len = 0;
	c->out.overflow = false;
	if (http_resp_head(&c->out, &c->resp, &none, &ro, c->t->via) != VD_OK) {
		proxy_error(c, 502, "response header too large");
		return VD_OK;
	}
	c->out_off = 0;
	c->up.in.base = c->up.in.start = c->resp.head_len;
	c->keep_alive = false;
	c->up.reusable = false;
	c->status = 101;
	c->state = PX_TUNNEL_OK;
	return VD_OK;
}

/* A parent's 2xx to our CONNECT: relayed, then the tunnel runs through it. */
static int
on_parent_tunnel(struct conn *c)
{
	struct http_framing none = { .kind = HTTP_BODY_NONE };
	struct http_resp_out ro = { .date = conn_date(c->t) };	/* §6.6.1 */

	c->out.len = 0;
	c->out.overflow = false;
	if (http_resp_head(&c->out, &c->resp, &none, &ro, c->t->via) != VD_OK) {
		proxy_error(c, 502, "response header too large");
		return VD_OK;
	}
	c->out_off = 0;
	c->up.in.base = c->up.in.start = c->resp.head_len;
	c->up.reusable = false;
	c->status = c->resp.status;
	c->state = PX_TUNNEL_OK;
	return VD_OK;
}

static int
on_response(struct conn *c)
{
	struct http_resp *rs = &c->resp;
	struct buf *b = &c->up.in;
	struct http_framing fr;
	const char *why;

	if (rs->status == 101)
		return on_switch(c);
	if (rs->status == 407) {
		/* RFC 9110 §11.7.1: Proxy-Authenticate speaks to the next client
		 * only -- viaduct, which has no credentials and passes on none
		 * of the client's.  Without its challenge a 407 breaks §15.5.8;
		 * with it, it would ask the client for what never gets there. */
		proxy_error(c, 502, "the next hop demands proxy authentication");
		return VD_OK;
	}
	if (c->connect && rs->status >= 200 && rs->status < 300)
		return on_parent_tunnel(c);
	if (rs->status < 200) {
		/* RFC 9110 §15.2: relayed to a 1.1 client, never to a 1.0 one */
		if (c->iout.len > 0)
			return VD_DECLINED;	/* the previous one is still on its way */
		if (c->req.version == 11) {
			struct http_framing none = { .kind = HTTP_BODY_NONE };
			struct http_resp_out ro = { 0 };

			c->iout.overflow = false;
			if (http_resp_head(&c->iout, rs, &none, &ro, c->t->via) != VD_OK) {
				log_info("%s: %d interim response too large, dropped",
				    c->peer, rs->status);
				c->iout.len = 0;
			}
			c->iout_off = 0;
			if (rs->status == 100)
				c->expect = false;	/* what the client waits for */
		}
		/* the origin is alive: its answer's clock starts again; once a
		 * 100 is relayed, a body that is slow to come has idle-timeout
		 * (not the 1 s we wait for an origin's 100) */
		if (c->state == PX_RESP_HEAD)
			conn_timer(c, c->t->conf->response_timeout);
		else if (c->state == PX_SEND && !c->expect)
			conn_timer(c, c->t->conf->idle_timeout);
		memmove(b->p, b->p + rs->head_len, b->end - rs->head_len);
		b->end -= rs->head_len;
		memset(rs, 0, sizeof(*rs));
		rs->fields = c->req.fields + c->t->conf->max_headers;
		return VD_AGAIN;
	}
	if (http_resp_framing(rs, c->head_method, &fr, &why) != VD_OK) {
		proxy_error(c, 502, why);
		return VD_OK;
	}
	memset(&c->body, 0, sizeof(c->body));
	c->body.fr = fr;
	c->body.left = fr.length;
	upstream_note_version(c, rs->version);
	/* the origin keeps the connection open for another request, unless
	 * its framing was doubtful (RFC 9112 §6.1: close after TE with CL) */
	c->up.reusable = rs->version == 11 && fr.kind != HTTP_BODY_EOF &&
	    !fr.te_and_cl && !fr.skipped &&
	    !http_conn_has(rs->fields, rs->nfields, "close");
	if (c->state == PX_SEND) {
		/* RFC 9110 §10.1.1: answered before the body ended; the rest of
		 * the body is not sent, so neither connection can carry on */
		c->early = true;
		c->up.reusable = false;
		c->keep_alive = false;
	}
	if (c->upgrade)
		c->keep_alive = false;	/* RFC 9110 §7.8: what the client sent after
					 * an Upgrade the origin declined is no request */
	plan_response(c);
	c->out.len = 0;
	c->out.overflow = false;
	if (http_resp_head(&c->out, rs, &fr, &c->ro, c->t->via) != VD_OK) {
		proxy_error(c, 502, "response header too large");
		return VD_OK;
	}
	c->status = rs->status;
	c->out_off = 0;
	b->base = b->start = rs->head_len;
	c->state = PX_RESP_BODY;
	conn_timer(c, c->t->conf->idle_timeout);
	cache_proxy_response(c);	/* invalidate; store while it streams */
	return VD_OK;
}

/* Read and parse the response head, relaying 1xx on the way.  VD_OK: the
 * final response is accepted (or an error page set); VD_AGAIN. */
static int
read_resp(struct conn *c)
{
	struct buf *b = &c->up.in;
	uint64_t in = 0;
	const char *why = "read error";
	int rc;

	for (;;) {
		if (c->iout.len > 0) {
			if ((rc = flush_interim(c)) == VD_AGAIN)
				return VD_AGAIN;
			if (rc == VD_ERR) {
				conn_close(c);
				return VD_OK;
			}
		}
		if (b->end > 0) {
			rc = http_parse_response(&c->resp, b->p, b->end, &c->t->resp_lim);
			if (rc == VD_OK) {
				if ((rc = on_response(c)) == VD_OK)
					return VD_OK;
				continue;
			}
			if (rc == VD_ERR) {
				STATS_INC(upstream_errors, 1);
				proxy_error(c, 502, c->resp.why);
				return VD_OK;
			}
		}
		if (c->up.s.eof) {
			upstream_lost(c, "origin closed without a response");
			return VD_OK;
		}
		rc = relay_fill(b, &c->up.s, &in, &why);
		STATS_INC(received_from_servers, in);
		if (in > 0)
			c->up.got = true;
		in = 0;
		if (rc == VD_AGAIN)
			return VD_AGAIN;
		if (rc != VD_OK) {
			upstream_lost(c, why);
			return VD_OK;
		}
	}
}

static int
st_resp_head(struct conn *c)
{
	return read_resp(c);
}

/*
 * The client said this was its last request, sent no body, and nothing of
 * it is unread: nothing is buffered, the socket drained at the last read
 * and no event has said otherwise since.  Then close() sends the FIN right
 * after the response, and no reset (which comes only from unread bytes and
 * would destroy the response in the client's buffer) can follow: the
 * shutdown, the wait for the client's FIN and the read of it are saved
 * (nginx's lingering-close heuristic).  Anything else lingers.
 */
static bool
close_at_once(const struct conn *c)
{
	bool no_body = c->req_fr.kind == HTTP_BODY_NONE ||
	    (c->req_fr.kind == HTTP_BODY_LENGTH && c->req_fr.length == 0);

	if (c->cl.fd < 0)
		return true;	/* finished for the cache alone: nobody to linger for */
	return c->client_close && no_body && !c->early && !c->upgrade &&
	    !c->cl.rd && !c->cl.hup && c->in.start == c->in.end;
}

static void
finish_response(struct conn *c)
{
	count_status(c, c->status);
	accesslog_req_end(c);
	cache_proxy_end(c, true);	/* a complete body: commit what was stored */
	upstream_release(c);
	if (!c->keep_alive || c->t->shutdown) {
		if (close_at_once(c))
			conn_close(c);
		else
			linger(c);
		return;
	}
	next_request(c);
}

/*
 * The client went away mid-body, but the object is being stored and others
 * read it as it is written: close the client's side and relay the rest into
 * the cache alone (the relay drops what it would have sent).  The idle
 * timeout still bounds the fetch; finish_response() then closes.
 */
static void
finish_alone(struct conn *c)
{
	log_info("%s: client gone; finishing %.*s for the cache and its waiters",
	    c->peer, (int)(c->req.target.len > 200 ? 200 : c->req.target.len),
	    c->req.target.p);
	ev_io_forget(&c->cl.io);
	close(c->cl.fd);
	c->cl.fd = c->cl.io.fd = -1;
	c->cl.rd = c->cl.wr = false;
	c->keep_alive = false;
	c->body.discard = true;
}

static int
st_resp_body(struct conn *c)
{
	uint64_t in = 0, out = 0;
	int rc;

	/* the head goes out with the first body bytes (relay.c) */
	c->body.head = &c->out;
	c->body.head_off = &c->out_off;
	rc = relay_run(&c->body, &c->up.in, &c->up.s, &c->cl, &in, &out);
	if (out > 0)
		c->resp_started = true;
	STATS_INC(received_from_servers, in);
	CLIENT_STATS_INC(c, sent_to_clients, out);
	c->sent += out;
	switch (rc) {
	case VD_AGAIN:
		if (in + out > 0)
			conn_timer(c, c->t->conf->idle_timeout);
		return VD_AGAIN;
	case VD_DONE:
		finish_response(c);
		return VD_OK;
	case RELAY_ESRC:
		STATS_INC(upstream_errors, 1);
		log_info("%s: origin %s: %s", c->peer, c->up.host, c->body.why);
		if (!c->resp_started) {
			/* broken before a byte of it went out: say so */
			cache_proxy_end(c, false);
			proxy_error(c, 502, c->body.why);
			return VD_OK;
		}
		/* a truncated body must look truncated: short of its length, or of
		 * its last chunk; a de-chunked body read until the close (a 1.0
		 * client) ends in a reset, since a FIN would complete it
		 * (RFC 9112 §8) */
		if (c->body.out == RELAY_DECODE)
			conn_abort(c);
		else
			cut_short(c);
		return VD_OK;
	default:
		if (cache_proxy_finish_alone(c)) {
			finish_alone(c);
			return VD_OK;
		}
		conn_close(c);		/* the client went away */
		return VD_OK;
	}
}

/* PX_CACHE: the response comes from the cache (cache_proxy.c). */
static int
st_cache(struct conn *c)
{
	int rc = cache_proxy_send(c);

	if (rc == VD_AGAIN)
		return VD_AGAIN;
	if (rc == VD_DONE)
		finish_response(c);
	else if (rc == VD_DECLINED)
		cut_short(c);
	else
		conn_close(c);
	return VD_OK;
}

/* Write what c->out still holds to the client, counting what went. */
static int
send_out(struct conn *c)
{
	uint64_t out = 0;
	int rc = write_out(c, &c->cl, &out);

	CLIENT_STATS_INC(c, sent_to_clients, out);
	c->sent += out;
	return rc;
}

static int
st_tunnel_ok(struct conn *c)
{
	int rc = send_out(c);

	if (rc == VD_AGAIN)
		return VD_AGAIN;
	if (rc == VD_ERR || tunnel_start(c) != VD_OK) {
		conn_close(c);
		return VD_OK;
	}
	c->resp_started = true;
	c->state = PX_TUNNEL;
	conn_timer(c, c->t->conf->tunnel_idle_timeout);
	return VD_OK;
}

static int
st_tunnel(struct conn *c)
{
	bool moved;
	int rc = tunnel_run(c, &moved);

	if (rc == VD_AGAIN) {
		if (moved)
			conn_timer(c, c->t->conf->tunnel_idle_timeout);
		return VD_AGAIN;
	}
	count_status(c, c->status);
	if (c->tun.d[0].dead && !c->cl.eof)
		linger(c);	/* the origin went first: the client may still send */
	else
		conn_close(c);
	return VD_OK;
}

static int
st_reply(struct conn *c)
{
	int rc = send_out(c);

	if (rc == VD_AGAIN)
		return VD_AGAIN;
	if (rc == VD_ERR) {
		conn_close(c);
		return VD_OK;
	}
	finish_response(c);
	return VD_OK;
}

static int
st_error(struct conn *c)
{
	int rc = send_out(c);

	if (rc == VD_AGAIN)
		return VD_AGAIN;
	if (rc == VD_ERR)
		conn_close(c);
	else
		linger(c);
	return VD_OK;
}

/* Read and drop what the client still sends, so that close() does not
 * turn into a reset that destroys the response in flight. */
static int
st_linger(struct conn *c)
{
	char junk[4096];
	ssize_t n;

	for (;;) {
		if (!c->cl.rd)
			return VD_AGAIN;
		n = recv(c->cl.fd, junk, sizeof(junk), 0);
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->cl.rd = false;
			return VD_AGAIN;
		}
		conn_close(c);		/* EOF or error: the client has it all */
		return VD_OK;
	}
}

/*
 * The client closed or reset its connection while its request waits for
 * the origin (resolving, connecting or queued for a connection, waiting for
 * the answer's head): nobody will read the answer, so the request ends
 * here and a queued one never reaches the origin (as nginx's "client
 * prematurely closed connection" and Squid's half_closed_clients off).  A
 * client that sent more requests before its FIN is not gone: they are
 * answered.
 */
static bool
client_gone(struct conn *c)
{
	char b;
	ssize_t n;

	if (!c->cl.hup || c->cl.fd < 0 || c->internal ||
	    (c->state != PX_RESOLVE && c->state != PX_CONNECT && c->state != PX_RESP_HEAD))
		return false;
	/* more requests came before its FIN: bytes past this one's body (of
	 * a chunked body, any byte may be the start of the next request) */
	if ((uint64_t)(c->in.end - c->in.start) >
	    (c->req_fr.kind == HTTP_BODY_LENGTH ? c->body.left : 0))
		return false;
	n = recv(c->cl.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void
proxy_run(struct conn *c)
{
	int rc = VD_OK, heads = 0;

	if (client_gone(c)) {
		log_info("%s: client closed before the answer: %.*s", c->peer,
		    (int)(c->req.target.len > 200 ? 200 : c->req.target.len), c->req.target.p);
		conn_close(c);
		return;
	}
	c->running = true;
	while (rc == VD_OK) {
		/* a deep pipeline of hits would be answered to the end in one
		 * go: after a few requests the other connections' turn first */
		if (c->state == PX_HEAD && c->in.end > c->in.start && ++heads > PROXY_TURN_HEADS) {
			conn_post(c);
			break;
		}
		switch (c->state) {
		case PX_HEAD:		rc = st_head(c); break;
		case PX_CONNECT:	rc = st_connect(c); break;
		case PX_SEND:		rc = st_send(c); break;
		case PX_RESP_HEAD:	rc = st_resp_head(c); break;
		case PX_RESP_BODY:	rc = st_resp_body(c); break;
		case PX_REPLY:		rc = st_reply(c); break;
		case PX_TUNNEL_OK:	rc = st_tunnel_ok(c); break;
		case PX_TUNNEL:		rc = st_tunnel(c); break;
		case PX_ERROR:		rc = st_error(c); break;
		case PX_LINGER:		rc = st_linger(c); break;
		case PX_CACHE:		rc = st_cache(c); break;
		case PX_RESOLVE:
		case PX_FREE:
			rc = VD_AGAIN;
			break;
		}
	}
	c->running = false;
	if (c->state == PX_FREE)
		accesslog_req_end(c);	/* closed under a request: log it now */
}

void
proxy_timeout(struct conn *c)
{
	switch (c->state) {
	case PX_HEAD:
		if (c->in.end > 0) {
			proxy_error(c, 408, "request header timed out");
			break;
		}
		conn_close(c);
		return;
	case PX_CONNECT:
		if (c->up.s.fd >= 0)
			upstream_parent_failed(c);	/* a parent that times out */
		if (c->up.s.fd >= 0 && c->up.cur + 1 < c->up.naddrs) {
			/* every address of the name gets its own chance */
			log_info("%s: connect to %s:%u timed out, trying the next address",
			    c->peer, c->up.host, c->up.port);
			upstream_close(c);
			c->up.cur++;
			conn_timer(c, c->t->conf->connect_timeout);
			break;
		}
		if (c->up.s.fd >= 0 && upstream_parent_next(c, true))
			return;		/* the next parent, or the origin */
		/* FALLTHROUGH */
	case PX_RESOLVE:
		STATS_INC(upstream_errors, 1);
		proxy_error(c, 504, "connecting to the origin timed out");
		break;
	case PX_SEND:
		if (c->expect) {
			/* RFC 9110 §10.1.1: the origin is silent; do not let the
			 * client wait for a 100 that may never come */
			c->expect = false;
			if (c->iout.len == 0) {
				c->iout.overflow = false;
				http_out_str(&c->iout, "HTTP/1.1 100 Continue\r\n\r\n");
				c->iout_off = 0;
			}
			conn_timer(c, c->t->conf->idle_timeout);
			break;
		}
		if (c->out_off == c->out.len && c->body.niov == 0 &&
		    c->in.start == c->in.end) {
			/* nothing waits for the origin: the client's body stalled */
			proxy_error(c, 408, "request body timed out");
			break;
		}
		/* FALLTHROUGH */
	case PX_RESP_HEAD:
		upstream_parent_failed(c);	/* a parent that does not answer */
		if (upstream_parent_next(c, replayable(c)))
			return;		/* the next parent, or the origin */
		STATS_INC(upstream_errors, 1);
		proxy_error(c, 504, "the origin did not answer in time");
		break;
	case PX_RESP_BODY:
		/* the client stopped reading (its output waits) while the body
		 * is stored for the requests that share the fetch: they must
		 * not be cut short with it; the fetch goes on without it */
		if ((c->body.niov > 0 || c->out_off < c->out.len) &&
		    cache_proxy_finish_alone(c)) {
			finish_alone(c);
			conn_timer(c, c->t->conf->idle_timeout);
			break;
		}
		conn_close(c);
		accesslog_req_end(c);
		return;
	case PX_CACHE:
		if (cache_proxy_timeout(c) == VD_AGAIN)
			return;		/* waits for another request's fetch */
		conn_close(c);
		accesslog_req_end(c);
		return;
	case PX_LINGER:
		if (still_taking(c)) {
			conn_timer(c, LINGER_MS);
			return;
		}
		conn_close(c);
		return;
	default:
		conn_close(c);
		accesslog_req_end(c);
		return;
	}
	proxy_run(c);
}
