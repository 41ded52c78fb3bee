/*
 * accesslog_proxy.c — the access log on a worker's request path: a request
 * on a struct conn becomes a struct accesslog_entry when it ends.  Kept apart
 * from accesslog.c so that the formatter stays a pure module (unit tests).
 *
 * proxy.c calls accesslog_req_start() when a request head is parsed (or
 * fails to parse) and accesslog_req_end() wherever the request ends: the
 * response is complete, the error page is written, or the connection is
 * closed under it.  The end is logged once, guarded by the slot record.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "viaduct.h"
#include "accesslog.h"
#include "cache_key.h"
#include "cache_proxy.h"
#include "conf.h"
#include "parent.h"
#include "router.h"
#include "worker.h"
#include "proxy.h"
#include "stats.h"

static struct accesslog_req *
slot_of(struct accesslog *al, struct conn *c)
{
	return accesslog_slot(al, (size_t)(c - c->t->conns));
}

void
accesslog_req_start(struct conn *c)
{
	struct accesslog *al = worker_accesslog();
	struct accesslog_req *r = slot_of(al, c);

	if (r == NULL || r->active)
		return;
	r->active = true;
	r->start_ms = c->t->loop->now_ms;
	c->sent = 0;
	/* a response of this request (if any) is parsed into c->resp by
	 * on_response(); forget the previous request's on this connection */
	c->resp.status = 0;
}

void
accesslog_req_error(struct conn *c)
{
	struct accesslog_req *r = slot_of(worker_accesslog(), c);

	if (r == NULL || r->active)
		return;
	/* on_request() counted the heads that parsed; one that did not is a
	 * request too, so that `requests` equals the lines of the log */
	STATS_INC(requests, 1);
	accesslog_req_start(c);
	/*
	 * Its time counts from when the head began, not from the error: a
	 * 408 took request-header-timeout.  While a head is read, the
	 * connection's timer is request-header-timeout from that start
	 * (proxy.c: the connection's start for its first request, the first
	 * byte after a keep-alive wait, the previous end for a pipelined one),
	 * and it keeps its deadline once it has fired.
	 */
	if (c->state == PX_HEAD && c->timer.due > 0 &&
	    c->timer.due - c->t->conf->request_header_timeout < r->start_ms)
		r->start_ms = c->timer.due - c->t->conf->request_header_timeout;
}

/* A socket address as text, without the port; NULL when not IP. */
static const char *
addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	if (sa->sa_family == AF_INET)
		return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    buf, (socklen_t)len);
	if (sa->sa_family == AF_INET6)
		return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    buf, (socklen_t)len);
	return NULL;
}

/*
 * The address of the upstream the response came from, as Squid logs it:
 * numeric.  A fresh connection went to addrs[cur]; a pooled one was made
 * for an earlier request and this one never resolved anything, so its
 * socket says (the request is logged before the connection goes back to
 * the pool).  The name only when neither can tell.
 */
static const char *
peer_of(struct conn *c, char *buf, size_t len)
{
	struct upstream *u = &c->up;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const char *a;

	if (u->reused && u->s.fd >= 0 &&
	    getpeername(u->s.fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    (a = addr_text((const struct sockaddr *)&ss, buf, len)) != NULL)
		return a;
	if (!u->reused && u->naddrs > 0 && u->cur < u->naddrs &&
	    (a = addr_text((const struct sockaddr *)&u->addrs[u->cur], buf, len)) != NULL)
		return a;
	return u->host[0] != '\0' ? u->host : NULL;
}

static struct vd_str
field(const struct http_field *f, int n, const char *name)
{
	int i = http_field_find(f, n, name, 0);

	return i >= 0 ? f[i].value : (struct vd_str){ NULL, 0 };
}

/* A field of the head we sent (a hit's: the stored fields), for the log. */
static struct vd_str
sent_field(const struct http_out *o, const char *name)
{
	size_t nl = strlen(name), i = 0, e;

	while (i < o->len) {
		for (e = i; e < o->len && o->p[e] != '\r'; e++)
			;
		if (e - i > nl && o->p[i + nl] == ':' && strncasecmp(o->p + i, name, nl) == 0) {
			i += nl + 1;
			while (i < e && (o->p[i] == ' ' || o->p[i] == '\t'))
				i++;
			return (struct vd_str){ o->p + i, e - i };
		}
		if (e == i)
			break;		/* the blank line */
		i = e + 2;
	}
	return (struct vd_str){ NULL, 0 };
}

/*
 * The URL as Squid logs it: absolute.  An origin-form request on a
 * transparent or reverse port names its site in Host (RFC 9112 §3.3
 * rebuilds the target URI from it); logged as the bare path, analysers
 * cannot tell the sites apart (calamaris files them under <secure>).  It
 * is the URL the cache keys on: "http://" Host target, normalised by
 * cache_key_url_norm() (lower-case host, no ":80").  Without a usable Host,
 * or too long, the target as received.  buf: ACCESSLOG_MAX_URL bytes.
 */
static struct vd_str
url_of(struct conn *c, char *buf)
{
	const struct http_req *r = &c->req;
	char tmp[ACCESSLOG_MAX_URL];
	size_t n;
	int len;

	if (r->form != HTTP_FORM_ORIGIN || c->mode == ROUTER_PROXY || r->host_field < 0)
		return r->target;
	len = snprintf(tmp, sizeof(tmp), "http://%.*s%.*s",
	    (int)r->fields[r->host_field].value.len, r->fields[r->host_field].value.p,
	    (int)r->target.len, r->target.p);
	if (len <= 0 || (size_t)len >= sizeof(tmp) ||
	    cache_key_url_norm(tmp, (size_t)len, buf, ACCESSLOG_MAX_URL, &n) != VD_OK)
		return r->target;
	return (struct vd_str){ buf, n };
}

/* Where the response came from: the origin or a parent. */
static void
upstream_of(struct conn *c, struct accesslog_entry *e, char *peer, size_t peerlen)
{
	e->hier = AL_HIER_DIRECT;
	if (c->up.via_parent)	/* a parent: hashed when there are several */
		e->hier = c->t->conf->parent_set->n > 1 ? AL_HIER_CARP : AL_HIER_FIRSTUP_PARENT;
	e->peer = peer_of(c, peer, peerlen);
}

/* Squid's classification of what happened to the request.  Squid writes
 * the upstream for every answer that reached one, and calamaris counts a
 * line that is neither a HIT nor went upstream as an error. */
static void
classify(struct conn *c, struct accesslog_entry *e, char *peer, size_t peerlen)
{
	bool hit;

	e->hier = AL_HIER_NONE;
	e->result = cache_proxy_result(c, AL_TCP_MISS, &hit);
	if (c->req.method.len == 0) {
		e->result = AL_NONE;		/* not even a request line */
	} else if (c->connect && c->status >= 200 && c->status < 300) {
		e->result = AL_TCP_TUNNEL;	/* CONNECT: the tunnel was opened */
		upstream_of(c, e, peer, peerlen);
		return;
	} else if (hit) {
		/* answered from the cache; a refresh asked the origin, and a
		 * waiter streamed another request's fetch from it */
		e->ctype = sent_field(&c->out, "content-type");
		if (e->result == AL_TCP_REFRESH_UNMODIFIED || e->result == AL_TCP_REFRESH_FAIL_OLD ||
		    e->result == AL_TCP_MISS)
			upstream_of(c, e, peer, peerlen);
		return;
	} else if (c->resp.status >= 200 || c->resp.status == 101) {
		/* the origin answered: a miss, a refresh (cache_reval.c), or
		 * switched protocols */
		upstream_of(c, e, peer, peerlen);
		e->ctype = field(c->resp.fields, c->resp.nfields, "content-type");
		return;
	} else if (c->status == 403 || c->status == 302) {
		/* viaduct's own 403 and 302 come only from /ip proxy access */
		e->result = AL_TCP_DENIED;
		STATS_INC(lookups_denied, 1);
	} else if (c->status == 502 || c->status == 503 || c->status == 504) {
		/* a miss whose fetch failed (Squid); e->result as set above */
	} else {
		e->result = AL_NONE;		/* refused or answered before forwarding */
	}
	if (c->status >= 300)
		e->ctype = VD_STR("text/html");	/* http_error_page(), redirect */
}

void
accesslog_req_end(struct conn *c)
{
	struct accesslog *al = worker_accesslog();
	struct accesslog_req *r = slot_of(al, c);
	struct accesslog_entry e;
	char peer[64], url[ACCESSLOG_MAX_URL];
	int64_t now;

	if (r == NULL || !r->active)
		return;
	r->active = false;
	memset(&e, 0, sizeof(e));
	now = c->t->loop->now_ms;
	e.elapsed_ms = now - r->start_ms;
	e.time_ms = accesslog_now_ms(al);
	e.client = c->peer;
	e.status = c->status;
	e.bytes = c->sent;
	e.method = c->req.method;
	e.url = url_of(c, url);
	e.version = c->req.version;
	classify(c, &e, peer, sizeof(peer));
	if (c->req.method.len > 0) {
		e.referer = field(c->req.fields, c->req.nfields, "referer");
		e.agent = field(c->req.fields, c->req.nfields, "user-agent");
	}
	accesslog_write(al, &e);
}
