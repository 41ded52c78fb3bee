/*
 * rules_proxy.c — the rule lists on a worker's request path: a parsed
 * request (struct conn) becomes a struct rules_req, and an access deny
 * becomes a 403 page or a 302 to redirect-to.  Kept apart from rules.c,
 * rules_compile.c and rules_index.c so that those stay pure modules (unit
 * tests, the fuzzer).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "viaduct.h"
#include "conf.h"
#include "log.h"
#include "proxy.h"
#include "rules.h"

/* The request as the rules see it.  src and local are the caller's storage. */
static void
request_of(struct conn *c, enum rules_list l, struct rules_req *q,
    struct sockaddr_storage *src, const struct sockaddr *dst)
{
	const struct rules *rs = c->t->conf->rules;
	struct sockaddr_in *s4 = (struct sockaddr_in *)src;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)src;
	struct sockaddr_storage ls;
	socklen_t sl = sizeof(ls);

	memset(q, 0, sizeof(*q));
	q->method = c->req.method;
	q->host = c->req.host;
	if (q->host.len > 1 && q->host.p[0] == '[') {
		q->host.p++;
		q->host.len -= 2;
	}
	q->path = c->req.path.len > 0 ? c->req.path : VD_STR("/");
	q->dst_port = c->req.port;
	q->dst = dst;
	/* the peer was formatted at accept; parsing it back costs no syscall */
	memset(src, 0, sizeof(*src));
	if (inet_pton(AF_INET, c->peer, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		q->src = (struct sockaddr *)src;
	} else if (inet_pton(AF_INET6, c->peer, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		q->src = (struct sockaddr *)src;
	}
	if (rules_uses_local_port(rs, l) &&
	    getsockname(c->cl.fd, (struct sockaddr *)&ls, &sl) == 0) {
		if (ls.ss_family == AF_INET)
			q->local_port = ntohs(((struct sockaddr_in *)&ls)->sin_port);
		else if (ls.ss_family == AF_INET6)
			q->local_port = ntohs(((struct sockaddr_in6 *)&ls)->sin6_port);
	}
}

/* Only what may appear inside an HTML attribute. */
static void
out_html(struct http_out *o, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': http_out_str(o, "&amp;"); break;
		case '<': http_out_str(o, "&lt;"); break;
		case '>': http_out_str(o, "&gt;"); break;
		case '"': http_out_str(o, "&quot;"); break;
		default: http_out_add(o, s, 1); break;
		}
	}
}

/* 302 Found to redirect-to (RouterOS), then close, as proxy_error() does. */
static void
redirect(struct conn *c, const char *to)
{
	char bodybuf[2048];
	struct http_out b = { bodybuf, 0, sizeof(bodybuf), false };
	struct http_out *o = &c->out;

	http_out_str(&b, "<html><head><title>302 Found</title></head><body>"
	    "<p>See <a href=\"");
	out_html(&b, to);
	http_out_str(&b, "\">elsewhere</a>.</p></body></html>\n");
	o->len = 0;
	o->overflow = false;
	http_out_str(o, "HTTP/1.1 302 Found\r\nDate: ");
	http_out_str(o, conn_date(c->t));
	http_out_str(o, "\r\nLocation: ");
	http_out_str(o, to);
	http_out_str(o, "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ");
	http_out_uint(o, b.len);
	http_out_str(o, "\r\nConnection: close\r\nCache-Control: no-store\r\nVia: 1.1 ");
	http_out_str(o, c->t->via);
	http_out_str(o, "\r\n\r\n");
	http_out_add(o, b.p, b.len);
	proxy_head_only(c);
	if (o->overflow) {
		proxy_error(c, 403, "access denied (redirect-to too long)");
		return;
	}
	upstream_close(c);
	c->out_off = 0;
	c->keep_alive = false;
	c->status = 302;
	c->state = PX_ERROR;
	conn_timer(c, c->t->conf->idle_timeout);
}

static int
decide(struct conn *c, const struct rules_result *res)
{
	struct vd_str url = c->req.target;

	if (res->verdict != RULES_DENY)
		return VD_OK;
	log_info("%s: denied by /ip proxy access rule %d (line %d): %.*s", c->peer,
	    res->index, res->line, (int)(url.len > 200 ? 200 : url.len), url.p);
	if (res->redirect != NULL)
		redirect(c, res->redirect);
	else
		proxy_error(c, 403, "access denied");
	return VD_DECLINED;
}

/* A literal host is its own address: no resolver needed to decide. */
static const struct sockaddr *
literal(const struct rules_req *q, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	char h[INET6_ADDRSTRLEN + 1];

	if (q->host.len >= sizeof(h))
		return NULL;
	memcpy(h, q->host.p, q->host.len);
	h[q->host.len] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, h, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(q->dst_port);
	} else if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(q->dst_port);
	} else {
		return NULL;
	}
	return (struct sockaddr *)ss;
}

int
rules_access(struct conn *c)
{
	const struct rules *rs = c->t->conf->rules;
	struct sockaddr_storage src, dst;
	struct rules_req q;
	struct rules_result res;

	if (rules_count(rs, RULES_ACCESS) == 0)
		return VD_OK;
	request_of(c, RULES_ACCESS, &q, &src, NULL);
	if (rules_match(rs, RULES_ACCESS, &q, &res) == RULES_NEED_ADDR) {
		if ((q.dst = literal(&q, &dst)) == NULL)
			return VD_OK;	/* rules_access_resolved() decides */
		rules_match(rs, RULES_ACCESS, &q, &res);
	}
	return decide(c, &res);
}

int
rules_access_resolved(struct conn *c, const struct sockaddr *dst)
{
	const struct rules *rs = c->t->conf->rules;
	struct sockaddr_storage src;
	struct rules_req q;
	struct rules_result res;

	struct sockaddr_storage lit;

	if (rules_count(rs, RULES_ACCESS) == 0)
		return VD_OK;
	request_of(c, RULES_ACCESS, &q, &src, NULL);
	/* decided (and counted) by rules_access() already? */
	if (rules_peek(rs, RULES_ACCESS, &q, &res) != RULES_NEED_ADDR ||
	    literal(&q, &lit) != NULL)
		return VD_OK;
	q.dst = dst;
	rules_match(rs, RULES_ACCESS, &q, &res);
	return decide(c, &res);
}

bool
rules_conn_cache_allowed(struct conn *c)
{
	struct sockaddr_storage src;
	struct rules_req q;

	request_of(c, RULES_CACHE, &q, &src, NULL);
	return rules_cache_allowed(c->t->conf->rules, &q);
}

enum rules_direct
rules_conn_direct(struct conn *c, const struct sockaddr *dst)
{
	struct sockaddr_storage src;
	struct rules_req q;
	struct rules_result res;

	request_of(c, RULES_DIRECT, &q, &src, dst);
	switch (rules_match(c->t->conf->rules, RULES_DIRECT, &q, &res)) {
	case RULES_ALLOW:
		return RULES_DIRECT_ALLOW;
	case RULES_NEED_ADDR:
		return RULES_DIRECT_NEED_ADDR;
	default:
		/* the list's default is a deny with no rule behind it */
		return res.index < 0 ? RULES_DIRECT_NONE : RULES_DIRECT_DENY;
	}
}
