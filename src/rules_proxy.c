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
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "viaduct.h"
#include "conf.h"
#include "log.h"
#include "proxy.h"
#include "rules.h"

/* The request as the rules see it (request_of()); view_done() frees. */
struct view {
	struct rules_req	 q;
	struct sockaddr_storage	 src;
	char			 path[512];	/* "/" + a query, when short */
	char			*heap;		/* when not */
};

/*
 * The target URI's authority and path as RFC 9112 §3.3 rebuilds it: an
 * origin-form target's authority is Host, and an empty path before a query
 * is "/" (RFC 9110 §4.2.3: "http://h?q" asks for "/?q", which is what the
 * origin gets).  false: out of memory for a long query.
 */
static bool
target_of(struct conn *c, struct view *v)
{
	const struct http_req *r = &c->req;
	struct rules_req *q = &v->q;
	char *b = v->path;

	q->host = r->host;
	q->dst_port = r->port;
	if (r->form != HTTP_FORM_ABSOLUTE && r->form != HTTP_FORM_AUTHORITY &&
	    (r->host_field < 0 || http_parse_authority(r->fields[r->host_field].value.p,
	    r->fields[r->host_field].value.len, 80, &q->host, &q->dst_port) != VD_OK))
		q->host = (struct vd_str){ NULL, 0 };
	if (q->host.len > 1 && q->host.p[0] == '[') {
		q->host.p++;
		q->host.len -= 2;
	}
	/* "www.example." is the same name as "www.example" (a fully qualified
	 * one, resolved the same): a dst-host rule must not be passed by the
	 * dot, as Squid strips it before its ACLs */
	if (q->host.len > 1 && q->host.p[q->host.len - 1] == '.')
		q->host.len--;
	if (r->path.len == 0 || r->path.p[0] != '?') {
		q->path = r->path.len > 0 ? r->path : VD_STR("/");
		return true;
	}
	if (r->path.len + 1 > sizeof(v->path) && (b = v->heap = malloc(r->path.len + 1)) == NULL)
		return false;
	b[0] = '/';
	memcpy(b + 1, r->path.p, r->path.len);
	q->path = (struct vd_str){ b, r->path.len + 1 };
	return true;
}

static void
view_done(struct view *v)
{
	free(v->heap);
	v->heap = NULL;
}

static bool
request_of(struct conn *c, enum rules_list l, struct view *v, const struct sockaddr *dst)
{
	const struct rules *rs = c->t->conf->rules;
	struct rules_req *q = &v->q;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&v->src;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&v->src;
	struct sockaddr_storage ls;
	socklen_t sl = sizeof(ls);

	memset(q, 0, sizeof(*q));
	v->heap = NULL;
	q->method = c->req.method;
	if (!target_of(c, v))
		return false;
	q->dst = dst;
	/* the peer was formatted at accept; parsing it back costs no syscall */
	memset(&v->src, 0, sizeof(v->src));
	if (inet_pton(AF_INET, c->peer, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		q->src = (struct sockaddr *)&v->src;
	} else if (inet_pton(AF_INET6, c->peer, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		q->src = (struct sockaddr *)&v->src;
	}
	if (rules_uses_local_port(rs, l) &&
	    getsockname(c->cl.fd, (struct sockaddr *)&ls, &sl) == 0) {
		if (ls.ss_family == AF_INET)
			q->local_port = ntohs(((struct sockaddr_in *)&ls)->sin_port);
		else if (ls.ss_family == AF_INET6)
			q->local_port = ntohs(((struct sockaddr_in6 *)&ls)->sin6_port);
	}
	return true;
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
	struct sockaddr_storage dst;
	struct view v;
	struct rules_result res;
	int rc = VD_OK;

	if (rules_count(rs, RULES_ACCESS) == 0)
		return VD_OK;
	if (!request_of(c, RULES_ACCESS, &v, NULL)) {
		proxy_error(c, 503, "out of memory");
		return VD_DECLINED;
	}
	if (rules_match(rs, RULES_ACCESS, &v.q, &res) == RULES_NEED_ADDR) {
		if ((v.q.dst = literal(&v.q, &dst)) == NULL) {
			c->up.acl_addr = true;	/* for every address tried */
			goto out;	/* rules_access_resolved() decides */
		}
		rules_match(rs, RULES_ACCESS, &v.q, &res);
	}
	rc = decide(c, &res);
out:
	view_done(&v);
	return rc;
}

int
rules_access_addrs(struct conn *c, const struct sockaddr_storage *addrs, int n)
{
	const struct rules *rs = c->t->conf->rules;
	struct view v;
	struct rules_result res;
	int i = 0, rc;

	if (!request_of(c, RULES_ACCESS, &v, NULL)) {
		proxy_error(c, 503, "out of memory");
		return VD_DECLINED;
	}
	if (n == 0)
		v.q.no_dst = true;
	/* the first address that a rule denies decides; else the first */
	for (int k = 0; k < n; k++) {
		v.q.dst = (const struct sockaddr *)&addrs[k];
		if (rules_peek(rs, RULES_ACCESS, &v.q, &res) == RULES_DENY) {
			i = k;
			break;
		}
	}
	v.q.dst = n > 0 ? (const struct sockaddr *)&addrs[i] : NULL;
	rules_match(rs, RULES_ACCESS, &v.q, &res);	/* counted once */
	rc = decide(c, &res);
	view_done(&v);
	return rc;
}

int
rules_access_resolved(struct conn *c, const struct sockaddr *dst)
{
	const struct rules *rs = c->t->conf->rules;
	struct sockaddr_storage lit;
	struct view v;
	struct rules_result res;
	int rc = VD_OK;

	if (rules_count(rs, RULES_ACCESS) == 0)
		return VD_OK;
	if (!request_of(c, RULES_ACCESS, &v, NULL)) {
		proxy_error(c, 503, "out of memory");
		return VD_DECLINED;
	}
	/* undecided without an address (a name)?  then this one decides,
	 * counted already by rules_access_addrs() */
	if (rules_peek(rs, RULES_ACCESS, &v.q, &res) == RULES_NEED_ADDR &&
	    literal(&v.q, &lit) == NULL) {
		v.q.dst = dst;
		rules_peek(rs, RULES_ACCESS, &v.q, &res);
		rc = decide(c, &res);
	}
	view_done(&v);
	return rc;
}

bool
rules_conn_cache_allowed(struct conn *c)
{
	struct sockaddr_storage lit;
	struct view v;
	bool ok;

	if (!request_of(c, RULES_CACHE, &v, NULL))
		return false;		/* not stored: nothing lost */
	/* a literal host is its own address for a dst-address rule (a name
	 * leaves it undecided: not cached, rules.h) */
	v.q.dst = literal(&v.q, &lit);
	ok = rules_cache_allowed(c->t->conf->rules, &v.q);
	view_done(&v);
	return ok;
}

enum rules_direct
rules_conn_direct(struct conn *c, const struct sockaddr *dst)
{
	struct view v;
	struct rules_result res;
	enum rules_verdict verdict;

	if (!request_of(c, RULES_DIRECT, &v, dst))
		return RULES_DIRECT_NONE;	/* the parent, as with no rule */
	verdict = rules_match(c->t->conf->rules, RULES_DIRECT, &v.q, &res);
	view_done(&v);
	switch (verdict) {
	case RULES_ALLOW:
		return RULES_DIRECT_ALLOW;
	case RULES_NEED_ADDR:
		return RULES_DIRECT_NEED_ADDR;
	default:
		/* the list's default is a deny with no rule behind it */
		return res.index < 0 ? RULES_DIRECT_NONE : RULES_DIRECT_DENY;
	}
}
