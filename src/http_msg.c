/* http_msg.c — framing decisions, hop-by-hop fields, Via, rewritten heads. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "viaduct.h"
#include "http_msg.h"

/* Iterate the comma-separated list elements of every field named `name`. */
struct list_it {
	const struct http_field	*f;
	int			 n, i;
	const char		*name;
	const char		*p, *e;
};

static void
list_init(struct list_it *it, const struct http_field *f, int n, const char *name)
{
	it->f = f;
	it->n = n;
	it->i = -1;
	it->name = name;
	it->p = it->e = NULL;
}

/* Next non-empty element, OWS trimmed; false at the end. */
static bool
list_next(struct list_it *it, struct vd_str *out)
{
	for (;;) {
		const char *s, *t;

		while (it->p == it->e) {
			it->i = http_field_find(it->f, it->n, it->name, it->i + 1);
			if (it->i < 0)
				return false;
			it->p = it->f[it->i].value.p;
			it->e = it->p + it->f[it->i].value.len;
		}
		s = it->p;
		t = memchr(s, ',', (size_t)(it->e - s));
		it->p = t ? t + 1 : it->e;
		if (t == NULL)
			t = it->e;
		while (s < t && (*s == ' ' || *s == '\t'))
			s++;
		while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if (t > s) {
			*out = (struct vd_str){ s, (size_t)(t - s) };
			return true;
		}
	}
}

bool
http_list_has(const struct http_field *f, int n, const char *field, const char *token)
{
	struct list_it it;
	struct vd_str s;

	list_init(&it, f, n, field);
	while (list_next(&it, &s))
		if (http_str_ieq(s, token))
			return true;
	return false;
}

bool
http_conn_has(const struct http_field *f, int n, const char *token)
{
	return http_list_has(f, n, "connection", token);
}

/* The fixed hop-by-hop fields (RFC 9110 §7.6.1, RFC 9112 §7, the proxy
 * credentials of §11.7): a switch on the length keeps this off the profile. */
static bool
fixed_hop(struct vd_str n)
{
	switch (n.len) {
	case 2:  return http_str_ieq(n, "te");
	case 7:  return http_str_ieq(n, "trailer") || http_str_ieq(n, "upgrade");
	case 10: return http_str_ieq(n, "connection") || http_str_ieq(n, "keep-alive");
	case 16: return http_str_ieq(n, "proxy-connection");
	case 17: return http_str_ieq(n, "transfer-encoding");
	case 18: return http_str_ieq(n, "proxy-authenticate");
	case 19: return http_str_ieq(n, "proxy-authorization");
	}
	return false;
}

static bool
named_by_connection(const struct http_field *f, int n, struct vd_str name)
{
	struct list_it it;
	struct vd_str s;

	list_init(&it, f, n, "connection");
	while (list_next(&it, &s))
		if (s.len == name.len && strncasecmp(s.p, name.p, s.len) == 0)
			return true;
	return false;
}

bool
http_is_hop(const struct http_field *f, int n, struct vd_str name)
{
	return fixed_hop(name) || named_by_connection(f, n, name);
}

void
http_hops_init(struct http_hops *h, const struct http_field *f, int n)
{
	struct list_it it;
	struct vd_str s;

	h->f = f;
	h->nf = n;
	h->n = 0;
	h->overflow = false;
	list_init(&it, f, n, "connection");
	while (list_next(&it, &s)) {
		if (h->n == HTTP_HOPS_MAX) {
			h->overflow = true;
			break;
		}
		h->tok[h->n++] = s;
	}
}

bool
http_hops_has(const struct http_hops *h, struct vd_str name)
{
	if (fixed_hop(name))
		return true;
	if (h->overflow)
		return named_by_connection(h->f, h->nf, name);
	for (int i = 0; i < h->n; i++)
		if (h->tok[i].len == name.len && strncasecmp(h->tok[i].p, name.p, name.len) == 0)
			return true;
	return false;
}

bool
http_upgrade_websocket(const struct http_field *f, int n)
{
	struct list_it it;
	struct vd_str s;
	bool any = false;

	list_init(&it, f, n, "upgrade");
	while (list_next(&it, &s)) {
		const char *slash = memchr(s.p, '/', s.len);

		if (slash != NULL)
			s.len = (size_t)(slash - s.p);	/* protocol-version */
		if (!http_str_ieq(s, "websocket"))
			return false;
		any = true;
	}
	return any;
}

/* Via = #( received-protocol RWS received-by [ RWS comment ] ) */
bool
http_via_has(const struct http_field *f, int n, const char *pseudonym)
{
	for (int i = 0; (i = http_field_find(f, n, "via", i)) >= 0; i++) {
		const char *p = f[i].value.p, *e = p + f[i].value.len, *b;

		while (p < e) {
			/* a member: received-protocol RWS received-by [ RWS comment ] */
			while (p < e && (*p == ' ' || *p == '\t' || *p == ','))
				p++;
			while (p < e && *p != ' ' && *p != '\t' && *p != ',' && *p != '(')
				p++;
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
			for (b = p; p < e && *p != ' ' && *p != '\t' && *p != ',' && *p != '('; p++)
				;
			if (http_str_ieq((struct vd_str){ b, (size_t)(p - b) }, pseudonym))
				return true;
			/* to the next comma outside a comment (RFC 9110 §5.6.5:
			 * comments nest and may hold commas and quoted-pairs) */
			for (int depth = 0; p < e && (*p != ',' || depth > 0); p++) {
				if (*p == '\\' && depth > 0 && p + 1 < e)
					p++;
				else if (*p == '(')
					depth++;
				else if (*p == ')' && depth > 0)
					depth--;
			}
		}
	}
	return false;
}

/* Content-Length: one value, or a list of identical ones (RFC 9112 §6.3 5). */
static int
content_length(const struct http_field *f, int n, bool *present, uint64_t *len)
{
	struct list_it it;
	struct vd_str s;
	uint64_t v;

	*present = false;
	list_init(&it, f, n, "content-length");
	while (list_next(&it, &s)) {
		if (s.len > 18)
			return VD_ERR;
		v = 0;
		for (size_t i = 0; i < s.len; i++) {
			if (s.p[i] < '0' || s.p[i] > '9')
				return VD_ERR;
			v = v * 10 + (uint64_t)(s.p[i] - '0');
		}
		if (*present && v != *len)
			return VD_ERR;
		*present = true;
		*len = v;
	}
	/* a Content-Length field with an empty value is invalid too */
	if (!*present && http_field_find(f, n, "content-length", 0) >= 0)
		return VD_ERR;
	return VD_OK;
}

/* Transfer-Encoding: 0 absent, 1 exactly "chunked", 2 other codings then
 * chunked, -1 final coding is not chunked (or chunked twice). */
static int
transfer_encoding(const struct http_field *f, int n)
{
	struct list_it it;
	struct vd_str s;
	int count = 0, chunked_at = -1;

	list_init(&it, f, n, "transfer-encoding");
	while (list_next(&it, &s)) {
		if (http_str_ieq(s, "chunked")) {
			if (chunked_at >= 0)
				return -1;
			chunked_at = count;
		}
		count++;
	}
	if (count == 0)
		return http_field_find(f, n, "transfer-encoding", 0) >= 0 ? -1 : 0;
	if (chunked_at != count - 1)
		return -1;
	return count == 1 ? 1 : 2;
}

int
http_req_framing(const struct http_req *r, struct http_framing *fr,
    int *status, const char **why)
{
	bool has_cl;
	int te;

	memset(fr, 0, sizeof(*fr));
	*status = 400;
	if (content_length(r->fields, r->nfields, &has_cl, &fr->length) != VD_OK) {
		*why = "invalid or conflicting Content-Length";
		return VD_ERR;
	}
	te = transfer_encoding(r->fields, r->nfields);
	if (te != 0 && r->version == 10) {
		*why = "Transfer-Encoding in an HTTP/1.0 request";
		return VD_ERR;
	}
	if (te < 0) {
		*why = "request transfer coding does not end in chunked";
		return VD_ERR;
	}
	if (te == 2) {
		*status = 501;
		*why = "transfer coding not implemented";
		return VD_ERR;
	}
	if (te == 1) {
		fr->kind = HTTP_BODY_CHUNKED;
		fr->te_and_cl = has_cl;
		fr->length = 0;
	} else if (has_cl && fr->length > 0) {
		fr->kind = HTTP_BODY_LENGTH;
	} else {
		fr->kind = HTTP_BODY_NONE;
	}
	fr->has_length = has_cl && te == 0;
	return VD_OK;
}

int
http_resp_framing(const struct http_resp *r, bool head_request,
    struct http_framing *fr, const char **why)
{
	bool has_cl;
	int te;

	memset(fr, 0, sizeof(*fr));
	te = transfer_encoding(r->fields, r->nfields);
	if (content_length(r->fields, r->nfields, &has_cl, &fr->length) != VD_OK && te == 0) {
		*why = "invalid or conflicting Content-Length from origin";
		return VD_ERR;
	}
	/* an invalid Content-Length beside Transfer-Encoding is still one */
	if (te != 0)
		has_cl = http_field_find(r->fields, r->nfields, "content-length", 0) >= 0;
	fr->te_and_cl = te != 0 && has_cl;
	fr->has_length = has_cl && te == 0;
	fr->declared = fr->has_length ? fr->length : 0;
	if (head_request || r->status < 200 || r->status == 204 || r->status == 304) {
		/* a HEAD response without a length announces a body until close */
		fr->skipped = te != 0 || (has_cl && fr->length > 0) ||
		    (head_request && !has_cl);
		fr->kind = HTTP_BODY_NONE;
		fr->length = 0;
		return VD_OK;
	}
	if (te != 0 && te != 1) {
		*why = "unsupported transfer coding from origin";
		return VD_ERR;
	}
	if (te != 0 && r->version == 10) {
		/* RFC 9112 §6.1: its framing is faulty; §6.3: a proxy answers 502 */
		*why = "Transfer-Encoding in an HTTP/1.0 response";
		return VD_ERR;
	}
	if (te == 1) {
		fr->kind = HTTP_BODY_CHUNKED;
		fr->length = 0;
	} else if (has_cl) {
		fr->kind = fr->length > 0 ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	} else {
		fr->kind = HTTP_BODY_EOF;
	}
	return VD_OK;
}

void
http_out_add(struct http_out *o, const char *p, size_t n)
{
	if (o->overflow || n > o->cap - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
}

void
http_out_str(struct http_out *o, const char *s)
{
	http_out_add(o, s, strlen(s));
}

void
http_out_vstr(struct http_out *o, struct vd_str s)
{
	http_out_add(o, s.p, s.len);
}

void
http_out_uint(struct http_out *o, uint64_t v)
{
	char b[24];
	size_t i = sizeof(b);

	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	http_out_add(o, b + i, sizeof(b) - i);
}

static void
out_field(struct http_out *o, const struct http_field *f)
{
	http_out_vstr(o, f->name);
	http_out_add(o, ": ", 2);
	http_out_vstr(o, f->value);
	http_out_add(o, "\r\n", 2);
}

static void
out_host(struct http_out *o, const struct http_req *r)
{
	http_out_str(o, "Host: ");
	http_out_vstr(o, r->authority);
	http_out_add(o, "\r\n", 2);
}

/*
 * Content_Length or Transfer_Encoding: not the framing fields to us, but
 * the same ones to an origin behind CGI-style header mapping, which turns
 * '_' and '-' alike into HTTP_CONTENT_LENGTH.  nginx drops every name with
 * '_' (underscores_in_headers off); we drop these two only.
 */
static bool
framing_lookalike(struct vd_str n)
{
	static const char *const names[] = { "content-length", "transfer-encoding" };

	if (memchr(n.p, '_', n.len) == NULL)
		return false;
	for (size_t k = 0; k < VD_ARRLEN(names); k++) {
		size_t i;

		if (n.len != strlen(names[k]))
			continue;
		for (i = 0; i < n.len; i++) {
			int c = n.p[i] == '_' ? '-' : n.p[i] | 0x20;
			if (c != names[k][i])
				break;
		}
		if (i == n.len)
			return true;
	}
	return false;
}

/* Should the request field i be forwarded as it is? */
static bool
req_field_kept(const struct http_req *r, int i, const struct http_hops *hops,
    const struct http_fwd *fw)
{
	struct vd_str name = r->fields[i].name;

	if (http_hops_has(hops, name))
		return false;
	if (http_str_ieq(name, "content-length") || framing_lookalike(name))
		return false;		/* written once, normalised */
	if (fw->anonymous && (http_str_ieq(name, "from") || http_str_ieq(name, "referer")))
		return false;
	if (!fw->anonymous && http_str_ieq(name, "x-forwarded-for"))
		return false;		/* merged with ours at the end */
	/* RFC 9110 §10.1.1: a 100-continue expectation in a 1.0 request is
	 * ignored, and must not become one in the 1.1 request we send */
	if (r->version == 10 && http_str_ieq(name, "expect") &&
	    http_list_has(&r->fields[i], 1, "expect", "100-continue"))
		return false;
	return true;
}

int
http_req_head(struct http_out *o, const struct http_req *r,
    const struct http_framing *fr, const struct http_fwd *fw)
{
	bool absolute = r->form == HTTP_FORM_ABSOLUTE;
	struct http_hops hops;
	int xff;

	http_out_vstr(o, r->method);
	http_out_add(o, " ", 1);
	if (absolute && r->path.len == 0 && http_method_is(r->method, "OPTIONS"))
		http_out_add(o, "*", 1);	/* RFC 9112 §3.2.4 */
	else if (absolute && (r->path.len == 0 || r->path.p[0] != '/'))
		http_out_add(o, "/", 1);
	http_out_vstr(o, absolute ? r->path : r->target);
	http_out_str(o, " HTTP/1.1\r\n");
	if (absolute && r->host_field < 0) {
		out_host(o, r);
	} else if (r->host_field < 0 && fw->host.len > 0) {
		http_out_str(o, "Host: ");
		http_out_vstr(o, fw->host);
		http_out_add(o, "\r\n", 2);
	}
	http_hops_init(&hops, r->fields, r->nfields);
	for (int i = 0; i < r->nfields; i++) {
		if (i == r->host_field) {
			if (absolute)
				out_host(o, r);		/* RFC 9112 §3.2.2: the target wins */
			else
				out_field(o, &r->fields[i]);
		} else if (fw->upgrade && http_str_ieq(r->fields[i].name, "upgrade")) {
			out_field(o, &r->fields[i]);
		} else if (fw->set_max_forwards &&
		    http_str_ieq(r->fields[i].name, "max-forwards")) {
			if (http_field_find(r->fields, r->nfields, "max-forwards", 0) != i)
				continue;
			http_out_str(o, "Max-Forwards: ");
			http_out_uint(o, fw->max_forwards);
			http_out_add(o, "\r\n", 2);
		} else if (req_field_kept(r, i, &hops, fw)) {
			out_field(o, &r->fields[i]);
		}
	}
	if (fr->kind == HTTP_BODY_LENGTH || fr->has_length) {
		/* also a 0 the client sent: RFC 9110 §8.6, an origin may want
		 * the length of a POST or PUT even when it is none */
		http_out_str(o, "Content-Length: ");
		http_out_uint(o, fr->length);
		http_out_add(o, "\r\n", 2);
	} else if (fr->kind == HTTP_BODY_CHUNKED) {
		http_out_str(o, "Transfer-Encoding: chunked\r\n");
	}
	if (!fw->anonymous && fw->client_ip != NULL) {
		http_out_str(o, "X-Forwarded-For: ");
		for (xff = 0; (xff = http_field_find(r->fields, r->nfields,
		    "x-forwarded-for", xff)) >= 0; xff++) {
			/* §7.6.1: a Connection option removes it, ours stays */
			if (r->fields[xff].value.len == 0 ||
			    http_hops_has(&hops, r->fields[xff].name))
				continue;
			http_out_vstr(o, r->fields[xff].value);
			http_out_add(o, ", ", 2);
		}
		http_out_str(o, fw->client_ip);
		http_out_add(o, "\r\n", 2);
	}
	if (fw->upgrade)
		http_out_str(o, "Connection: upgrade\r\n");
	/* RFC 9110 §7.6.3: the received-protocol is the client's version */
	http_out_str(o, r->version == 10 ? "Via: 1.0 " : "Via: 1.1 ");
	http_out_str(o, fw->via);
	http_out_str(o, "\r\n\r\n");
	return o->overflow ? VD_ERR : VD_OK;
}

/* Content-Length goes to the client once, normalised, also for HEAD and
 * 304 where it frames nothing; never beside Transfer-Encoding, nor in a 1xx
 * or 204 (RFC 9110 §8.6), where a client that believed it would read the
 * next response as this one's body, nor where the caller's framing has no
 * length of the origin's (101, a parent's 2xx to CONNECT). */
static bool
resp_keeps_length(const struct http_resp *r, const struct http_framing *fr)
{
	return fr->has_length && r->status >= 200 && r->status != 204;
}

int
http_resp_head(struct http_out *o, const struct http_resp *r,
    const struct http_framing *fr, const struct http_resp_out *ro, const char *via)
{
	char st[4] = { (char)('0' + r->status / 100), (char)('0' + r->status / 10 % 10),
	    (char)('0' + r->status % 10), ' ' };
	struct http_hops hops;
	bool dated = false;

	http_hops_init(&hops, r->fields, r->nfields);
	http_out_str(o, "HTTP/1.1 ");
	http_out_add(o, st, 4);
	http_out_vstr(o, r->reason);
	http_out_add(o, "\r\n", 2);
	for (int i = 0; i < r->nfields; i++) {
		struct vd_str name = r->fields[i].name;
		if (ro->upgrade && http_str_ieq(name, "upgrade")) {
			out_field(o, &r->fields[i]);
			continue;
		}
		if (http_str_ieq(name, "content-length")) {
			/* before the hop-by-hop test: the framing is ours, and a
			 * "Connection: content-length" must not leave a body
			 * without a length on a kept-alive client connection */
			if (!resp_keeps_length(r, fr) || http_field_find(r->fields,
			    r->nfields, "content-length", 0) != i)
				continue;
			http_out_str(o, "Content-Length: ");
			http_out_uint(o, fr->kind == HTTP_BODY_LENGTH ? fr->length : fr->declared);
			http_out_add(o, "\r\n", 2);
			continue;
		} else if (http_hops_has(&hops, name)) {
			continue;
		}
		dated = dated || http_str_ieq(name, "date");
		out_field(o, &r->fields[i]);
	}
	if (ro->date != NULL && !dated) {
		http_out_str(o, "Date: ");
		http_out_str(o, ro->date);
		http_out_add(o, "\r\n", 2);
	}
	if (ro->chunked)
		http_out_str(o, "Transfer-Encoding: chunked\r\n");
	if (ro->upgrade)
		http_out_str(o, "Connection: upgrade\r\n");
	else if (ro->close)
		http_out_str(o, "Connection: close\r\n");
	else if (ro->keep_alive_10)
		http_out_str(o, "Connection: keep-alive\r\n");
	http_out_str(o, r->version == 10 ? "Via: 1.0 " : "Via: 1.1 ");	/* the origin's */
	http_out_str(o, via);
	http_out_str(o, "\r\n\r\n");
	return o->overflow ? VD_ERR : VD_OK;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	/* statuses the cache answers with (stored objects, ranges, 304):
	 * RFC 9110 §15's phrases */
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 412: return "Precondition Failed";
	case 415: return "Unsupported Media Type";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 451: return "Unavailable For Legal Reasons";
	case 416: return "Range Not Satisfiable";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 508: return "Loop Detected";
	}
	/* another code: its class (RFC 9112 §4: the phrase means nothing) */
	return status < 200 ? "Informational" : status < 300 ? "Success" :
	    status < 400 ? "Redirection" : status < 500 ? "Client Error" : "Server Error";
}

static void
out_html(struct http_out *o, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (p[i]) {
		case '<': http_out_str(o, "&lt;"); break;
		case '>': http_out_str(o, "&gt;"); break;
		case '&': http_out_str(o, "&amp;"); break;
		case '"': http_out_str(o, "&quot;"); break;
		case '\'': http_out_str(o, "&#39;"); break;
		default:
			if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] >= 0x7f)
				http_out_str(o, "?");
			else
				http_out_add(o, p + i, 1);
		}
	}
}

static void
error_body(struct http_out *o, int status, struct vd_str url, const char *reason,
    const char *admin)
{
	const char *rp = http_reason(status);

	http_out_str(o, "<!DOCTYPE html>\n<html><head><title>");
	http_out_uint(o, (uint64_t)status);
	http_out_add(o, " ", 1);
	http_out_str(o, rp);
	http_out_str(o, "</title></head>\n<body><h1>");
	http_out_uint(o, (uint64_t)status);
	http_out_add(o, " ", 1);
	http_out_str(o, rp);
	http_out_str(o, "</h1>\n<p>URL: <code>");
	out_html(o, url.p, url.len > 1024 ? 1024 : url.len);
	http_out_str(o, "</code></p>\n<p>Reason: ");
	out_html(o, reason, strlen(reason));
	http_out_str(o, "</p>\n<p>Cache administrator: <a href=\"mailto:");
	out_html(o, admin, strlen(admin));
	http_out_str(o, "\">");
	out_html(o, admin, strlen(admin));
	http_out_str(o, "</a></p>\n<hr><address>" VD_NAME "</address></body></html>\n");
}

void
http_error_page(struct http_out *o, int status, struct vd_str url,
    const char *reason, const char *admin, const char *via, const char *date,
    bool keep_alive)
{
	char bodybuf[8192];	/* the URL's 1024 bytes escaped (6 each at most), and the rest */
	struct http_out b = { bodybuf, 0, sizeof(bodybuf), false };

	error_body(&b, status, url, reason, admin);
	http_out_str(o, "HTTP/1.1 ");
	http_out_uint(o, (uint64_t)status);
	http_out_add(o, " ", 1);
	http_out_str(o, http_reason(status));
	http_out_str(o, "\r\nDate: ");
	http_out_str(o, date);
	http_out_str(o, "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ");
	http_out_uint(o, b.len);
	http_out_str(o, keep_alive ? "\r\n" : "\r\nConnection: close\r\n");
	http_out_str(o, "Cache-Control: no-store\r\nVia: 1.1 ");
	http_out_str(o, via);
	http_out_str(o, "\r\n\r\n");
	http_out_add(o, b.p, b.len);
}

int
http_max_forwards(const struct http_req *r, uint64_t *v)
{
	int i = http_field_find(r->fields, r->nfields, "max-forwards", 0);
	struct vd_str s;
	uint64_t n = 0;

	if (i < 0)
		return VD_DECLINED;
	s = r->fields[i].value;
	if (s.len == 0 || s.len > 18)
		return VD_ERR;
	for (size_t k = 0; k < s.len; k++) {
		if (s.p[k] < '0' || s.p[k] > '9')
			return VD_ERR;
		n = n * 10 + (uint64_t)(s.p[k] - '0');
	}
	*v = n;
	return VD_OK;
}

static void
local_head(struct http_out *o, const char *via, const char *date, bool close,
    bool keep_alive_10)
{
	http_out_str(o, "Date: ");
	http_out_str(o, date);
	http_out_add(o, "\r\n", 2);
	if (close)
		http_out_str(o, "Connection: close\r\n");
	else if (keep_alive_10)
		http_out_str(o, "Connection: keep-alive\r\n");
	http_out_str(o, "Via: 1.1 ");
	http_out_str(o, via);
	http_out_str(o, "\r\n\r\n");
}

/* A line of the head that TRACE must not reflect (credentials). */
static bool
trace_hidden(const char *p, size_t n)
{
	static const char *const hide[] = { "authorization:", "proxy-authorization:", "cookie:" };

	for (size_t i = 0; i < VD_ARRLEN(hide); i++) {
		size_t l = strlen(hide[i]);
		if (n >= l && strncasecmp(p, hide[i], l) == 0)
			return true;
	}
	return false;
}

/* The reflected lines of the head (CRLF included): their length, and
 * copied into o unless NULL. */
static size_t
trace_lines(struct http_out *o, const char *head, size_t len)
{
	size_t total = 0, i = 0;

	while (i < len) {
		const char *nl = memchr(head + i, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - (head + i)) + 1 : len - i;

		if (i == 0 || !trace_hidden(head + i, n)) {
			total += n;
			if (o != NULL)
				http_out_add(o, head + i, n);
		}
		i += n;
	}
	return total;
}

void
http_trace_reply(struct http_out *o, const char *head, size_t head_len,
    const char *via, const char *date, bool close, bool keep_alive_10)
{
	http_out_str(o, "HTTP/1.1 200 OK\r\nContent-Type: message/http\r\n"
	    "Cache-Control: no-store\r\nContent-Length: ");
	http_out_uint(o, trace_lines(NULL, head, head_len));
	http_out_add(o, "\r\n", 2);
	local_head(o, via, date, close, keep_alive_10);
	trace_lines(o, head, head_len);
}

void
http_options_reply(struct http_out *o, const char *via, const char *date, bool close,
    bool keep_alive_10)
{
	http_out_str(o, "HTTP/1.1 200 OK\r\nAllow: " HTTP_ALLOW "\r\nContent-Length: 0\r\n");
	local_head(o, via, date, close, keep_alive_10);
}
