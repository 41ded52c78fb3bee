/* http_parse.c — strict HTTP/1.1 heads into slices; no I/O, no allocation. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "viaduct.h"
#include "http_parse.h"

#define T1(c)	[c] = 1
/* RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
 * "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
const uint8_t http_tchar[256] = {
	T1('!'), T1('#'), T1('$'), T1('%'), T1('&'), T1('\''), T1('*'), T1('+'),
	T1('-'), T1('.'), T1('^'), T1('_'), T1('`'), T1('|'), T1('~'),
	T1('0'), T1('1'), T1('2'), T1('3'), T1('4'), T1('5'), T1('6'), T1('7'),
	T1('8'), T1('9'),
	T1('A'), T1('B'), T1('C'), T1('D'), T1('E'), T1('F'), T1('G'), T1('H'),
	T1('I'), T1('J'), T1('K'), T1('L'), T1('M'), T1('N'), T1('O'), T1('P'),
	T1('Q'), T1('R'), T1('S'), T1('T'), T1('U'), T1('V'), T1('W'), T1('X'),
	T1('Y'), T1('Z'),
	T1('a'), T1('b'), T1('c'), T1('d'), T1('e'), T1('f'), T1('g'), T1('h'),
	T1('i'), T1('j'), T1('k'), T1('l'), T1('m'), T1('n'), T1('o'), T1('p'),
	T1('q'), T1('r'), T1('s'), T1('t'), T1('u'), T1('v'), T1('w'), T1('x'),
	T1('y'), T1('z'),
};

/* RFC 3986 reg-name: unreserved / pct-encoded / sub-delims */
static const uint8_t regname[256] = {
	T1('-'), T1('.'), T1('_'), T1('~'), T1('%'), T1('!'), T1('$'), T1('&'),
	T1('\''), T1('('), T1(')'), T1('*'), T1('+'), T1(','), T1(';'), T1('='),
	T1('0'), T1('1'), T1('2'), T1('3'), T1('4'), T1('5'), T1('6'), T1('7'),
	T1('8'), T1('9'),
	T1('A'), T1('B'), T1('C'), T1('D'), T1('E'), T1('F'), T1('G'), T1('H'),
	T1('I'), T1('J'), T1('K'), T1('L'), T1('M'), T1('N'), T1('O'), T1('P'),
	T1('Q'), T1('R'), T1('S'), T1('T'), T1('U'), T1('V'), T1('W'), T1('X'),
	T1('Y'), T1('Z'),
	T1('a'), T1('b'), T1('c'), T1('d'), T1('e'), T1('f'), T1('g'), T1('h'),
	T1('i'), T1('j'), T1('k'), T1('l'), T1('m'), T1('n'), T1('o'), T1('p'),
	T1('q'), T1('r'), T1('s'), T1('t'), T1('u'), T1('v'), T1('w'), T1('x'),
	T1('y'), T1('z'),
};

static int
lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/*
 * Eight bytes equal but for the case of ASCII letters: every byte that
 * differs differs only in bit 5 (0x20), and is a letter once that bit is
 * set.  The letter test adds to each byte (high bit cleared first, so no
 * carry crosses bytes) what lifts 'a'.. and '{'.. over 0x80.
 */
static inline bool
word_ieq(uint64_t a, uint64_t b)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x80 * ones;
	uint64_t x = a ^ b, la, low7, letter;

	if (x == 0)
		return true;
	if ((x & ~(0x20 * ones)) != 0)
		return false;
	la = a | 0x20 * ones;
	low7 = la & 0x7f * ones;
	letter = (low7 + (0x80 - 'a') * ones) & ~(low7 + (0x80 - 'z' - 1) * ones) &
	    ~la & high;
	return ((x << 2) & high & ~letter) == 0;
}

bool
http_mem_ieq(const char *a, const char *b, size_t n)
{
	size_t i = 0;

	for (; n - i >= 8; i += 8) {
		uint64_t wa, wb;

		memcpy(&wa, a + i, 8);
		memcpy(&wb, b + i, 8);
		if (!word_ieq(wa, wb))
			return false;
	}
	for (; i < n; i++)
		if (lc((unsigned char)a[i]) != lc((unsigned char)b[i]))
			return false;
	return true;
}

/* Bytes allowed in a request-target: visible ASCII (RFC 3986 is stricter, but
 * an origin may expect what browsers send, e.g. '|' or '^'). */
static bool
target_ok(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= 0x20 || c >= 0x7f || c == '#')
			return false;
	}
	return true;
}

int
http_parse_authority(const char *p, size_t len, uint16_t default_port,
    struct vd_str *host, uint16_t *port)
{
	size_t i = 0;
	unsigned long v;

	if (len == 0)
		return VD_ERR;
	if (p[0] == '[') {
		/* RFC 3986 §3.2.2: an IPv6 address (IPvFuture we do not speak) */
		char a[INET6_ADDRSTRLEN];
		struct in6_addr in6;

		for (i = 1; i < len && p[i] != ']'; i++)
			;
		if (i == len || i - 1 >= sizeof(a))
			return VD_ERR;
		memcpy(a, p + 1, i - 1);
		a[i - 1] = '\0';
		if (inet_pton(AF_INET6, a, &in6) != 1)
			return VD_ERR;
		i++;
	} else {
		while (i < len && regname[(unsigned char)p[i]])
			i++;
		if (i == 0)
			return VD_ERR;
	}
	*host = (struct vd_str){ p, i };
	*port = default_port;
	if (i == len)
		return VD_OK;
	if (p[i] != ':')
		return VD_ERR;
	if (++i == len)
		return VD_OK;		/* "host:" means the default port */
	for (v = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return VD_ERR;
		v = v * 10 + (unsigned long)(p[i] - '0');
		if (v > 65535)
			return VD_ERR;
	}
	if (v == 0)
		return VD_ERR;
	*port = (uint16_t)v;
	return VD_OK;
}

/*
 * Find the end of the head (the CRLF CRLF).  Every LF seen must follow a CR.
 * VD_OK with *end, VD_AGAIN, VD_ERR (bare LF).  *scan: where to resume.
 */
static int
head_end(const char *buf, size_t len, size_t skip, size_t *scan, size_t *line1,
    size_t *end)
{
	size_t i = *scan > skip ? *scan : skip;
	const char *lf;

	while (i < len && (lf = memchr(buf + i, '\n', len - i)) != NULL) {
		size_t at = (size_t)(lf - buf);
		if (at == skip || buf[at - 1] != '\r')
			return VD_ERR;
		if (*line1 == 0)
			*line1 = at + 1;
		if (at >= skip + 3 && buf[at - 2] == '\n') {
			*end = at + 1;
			return VD_OK;
		}
		i = at + 1;
	}
	*scan = len;
	return VD_AGAIN;
}

/* A word with a byte below 0x20 or equal to 0x7f (bytes >= 0x80, obs-text,
 * never count).  The classic "has a byte less than n" and "has a zero byte"
 * tricks on the word and on the word xor 0x7f. */
static inline bool
word_has_ctl(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x80 * ones;
	uint64_t del = x ^ (0x7f * ones);

	return (((x - 0x20 * ones) | (del - ones)) & ~x & high) != 0;
}

/*
 * The first byte at or after p that ends a field value: CR or any other
 * control byte but HTAB (RFC 9110 §5.5 field-value), or DEL.  The head is
 * known to end in CRLF CRLF before end, so the scan stops inside it; eight
 * bytes at a time while a whole word lies before end (a value is most of a
 * head's bytes), then byte by byte from the word that holds the stop.
 */
static const char *
value_end(const char *p, const char *end)
{
	for (;;) {
		unsigned char c;
		uint64_t w;

		while (end - p >= 8) {
			memcpy(&w, p, 8);
			if (word_has_ctl(w))
				break;
			p += 8;
		}
		c = (unsigned char)*p;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return p;
		p++;
	}
}

/*
 * Field lines from p up to the blank line; VD_OK or VD_ERR (why, *status).
 * Whitespace between a field name and its colon fails a request (RFC 9112
 * §5.1: 400) but is dropped from a response's (`resp`), as a proxy must
 * before forwarding it: the name is the token before it.
 */
static int
parse_fields(const char *p, const char *end, struct http_field *f, int max,
    int *nf, int *status, const char **why, bool resp)
{
	int n = 0;

	while (p < end) {
		const char *name = p, *nend, *v, *ve;

		if (p[0] == '\r') {
			if (p[1] == '\n')
				break;	/* the blank line */
			*why = "bare CR in a field line";
			return VD_ERR;
		}
		if (*p == ' ' || *p == '\t') {
			*why = "obs-fold or leading whitespace in a field line";
			return VD_ERR;
		}
		while (http_tchar[(unsigned char)*p])
			p++;
		nend = p;
		while (resp && p > name && (*p == ' ' || *p == '\t'))
			p++;
		if (*p != ':') {
			*why = (*p == ' ' || *p == '\t') ?
			    "whitespace between field name and colon" : "invalid field name";
			return VD_ERR;
		}
		if (p == name) {
			*why = "empty field name";
			return VD_ERR;
		}
		if (n == max) {
			*status = 431;
			*why = "too many header fields";
			return VD_ERR;
		}
		f[n].name = (struct vd_str){ name, (size_t)(nend - name) };
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		v = p;
		p = value_end(p, end);
		if (*p != '\r') {
			*why = "control byte in a field value";
			return VD_ERR;
		}
		if (p[1] != '\n') {
			*why = "bare CR in a field line";
			return VD_ERR;
		}
		for (ve = p; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		f[n].value = (struct vd_str){ v, (size_t)(ve - v) };
		n++;
		p += 2;
	}
	*nf = n;
	return VD_OK;
}

/* HTTP-version: 10, 11 (1.x for x>1 is answered as 1.1), 0 bad, -1 major != 1. */
static int
parse_version(const char *p, size_t len)
{
	if (len != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' ||
	    p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9')
		return 0;
	if (p[5] != '1')
		return -1;
	return p[7] == '0' ? 10 : 11;
}

static int
req_fail(struct http_req *r, int status, const char *why)
{
	r->status = status;
	r->why = why;
	return VD_ERR;
}

static int
parse_target(struct http_req *r)
{
	const char *p = r->target.p, *e = p + r->target.len, *a, *s;
	bool connect = http_method_is(r->method, "CONNECT");

	if (!target_ok(p, r->target.len))
		return req_fail(r, 400, "invalid byte in request-target");
	if (connect) {
		r->form = HTTP_FORM_AUTHORITY;
		r->authority = r->target;
		if (http_parse_authority(p, r->target.len, 0, &r->host, &r->port) != VD_OK ||
		    r->port == 0)
			return req_fail(r, 400, "CONNECT needs host:port");
		return VD_OK;
	}
	if (r->target.len == 1 && p[0] == '*') {
		if (!http_method_is(r->method, "OPTIONS"))
			return req_fail(r, 400, "asterisk-form outside OPTIONS");
		r->form = HTTP_FORM_ASTERISK;
		return VD_OK;
	}
	if (p[0] == '/') {
		r->form = HTTP_FORM_ORIGIN;
		r->path = r->target;
		return VD_OK;
	}
	/* absolute-form: scheme "://" authority path-abempty [ "?" query ] */
	for (s = p; s < e && ((lc((unsigned char)*s) >= 'a' && lc((unsigned char)*s) <= 'z') ||
	    (s > p && ((*s >= '0' && *s <= '9') || *s == '+' || *s == '-' || *s == '.'))); s++)
		;
	if (s == p || e - s < 3 || memcmp(s, "://", 3) != 0)
		return req_fail(r, 400, "malformed request-target");
	r->form = HTTP_FORM_ABSOLUTE;
	r->scheme = (struct vd_str){ p, (size_t)(s - p) };
	for (a = s + 3, s = a; s < e && *s != '/' && *s != '?'; s++)
		if (*s == '@')
			return req_fail(r, 400, "userinfo in request-target");
	r->authority = (struct vd_str){ a, (size_t)(s - a) };
	if (http_parse_authority(a, (size_t)(s - a),
	    http_str_ieq(r->scheme, "https") ? 443 : 80, &r->host, &r->port) != VD_OK)
		return req_fail(r, 400, "invalid authority in request-target");
	r->path = (struct vd_str){ s, (size_t)(e - s) };
	return VD_OK;
}

/* RFC 9112 §3.2: exactly one Host in 1.1, at most one in 1.0, well-formed. */
static int
check_host(struct http_req *r)
{
	struct vd_str h;
	uint16_t port;
	int i = http_field_find(r->fields, r->nfields, "host", 0);

	r->host_field = i;
	if (i < 0)
		return r->version == 11 ? req_fail(r, 400, "missing Host") : VD_OK;
	if (http_field_find(r->fields, r->nfields, "host", i + 1) >= 0)
		return req_fail(r, 400, "duplicate Host");
	if (r->fields[i].value.len == 0)
		return r->form == HTTP_FORM_ORIGIN ? req_fail(r, 400, "empty Host") : VD_OK;
	if (http_parse_authority(r->fields[i].value.p, r->fields[i].value.len, 80,
	    &h, &port) != VD_OK)
		return req_fail(r, 400, "invalid Host");
	return VD_OK;
}

static int
parse_request_line(struct http_req *r, const char *p, const char *eol)
{
	const char *sp1, *sp2;
	int v;

	for (sp1 = p; sp1 < eol && http_tchar[(unsigned char)*sp1]; sp1++)
		;
	if (sp1 == p || sp1 == eol || *sp1 != ' ')
		return req_fail(r, 400, "invalid method");
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (sp2 == NULL || sp2 == sp1 + 1)
		return req_fail(r, 400, "malformed request line");
	r->method = (struct vd_str){ p, (size_t)(sp1 - p) };
	r->target = (struct vd_str){ sp1 + 1, (size_t)(sp2 - sp1 - 1) };
	v = parse_version(sp2 + 1, (size_t)(eol - sp2 - 1));
	if (v == 0)
		return req_fail(r, 400, "malformed HTTP-version");
	if (v < 0)
		return req_fail(r, 505, "HTTP major version not supported");
	r->version = v;
	return parse_target(r);
}

int
http_parse_request(struct http_req *r, const char *buf, size_t len,
    const struct http_limits *lim)
{
	size_t skip = 0, end;
	int rc, st = 400;

	/* RFC 9112 §2.2: ignore empty lines before the request line */
	while (skip + 1 < len && buf[skip] == '\r' && buf[skip + 1] == '\n' && skip < 64)
		skip += 2;
	rc = head_end(buf, len, skip, &r->scan, &r->line1, &end);
	if (rc == VD_ERR)
		return req_fail(r, 400, "bare LF");
	if ((r->line1 == 0 && len - skip > lim->max_line + 1) ||
	    (r->line1 != 0 && r->line1 - skip > lim->max_line + 2))
		return req_fail(r, 414, "request line too long");
	if (rc == VD_AGAIN) {
		if (len - skip > lim->max_head)
			return req_fail(r, 431, "request header too large");
		return VD_AGAIN;
	}
	if (end - skip > lim->max_head)
		return req_fail(r, 431, "request header too large");
	if (parse_request_line(r, buf + skip, buf + r->line1 - 2) != VD_OK)
		return VD_ERR;
	if (parse_fields(buf + r->line1, buf + end, r->fields, lim->max_fields,
	    &r->nfields, &st, &r->why, false) != VD_OK) {
		r->status = st;
		return VD_ERR;
	}
	if (check_host(r) != VD_OK)
		return VD_ERR;
	r->head_len = end;
	return VD_OK;
}

int
http_parse_response(struct http_resp *r, const char *buf, size_t len,
    const struct http_limits *lim)
{
	size_t end;
	const char *p, *eol;
	int rc, st = 0;

	rc = head_end(buf, len, 0, &r->scan, &r->line1, &end);
	if (rc == VD_ERR) {
		r->why = "bare LF";
		return VD_ERR;
	}
	if ((r->line1 == 0 && len > lim->max_line + 1) || r->line1 > lim->max_line + 2 ||
	    (rc == VD_AGAIN ? len : end) > lim->max_head) {
		r->why = "response header too large";
		return VD_ERR;
	}
	if (rc == VD_AGAIN)
		return VD_AGAIN;
	/* status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ] */
	p = buf;
	eol = buf + r->line1 - 2;
	r->version = eol - p >= 12 ? parse_version(p, 8) : 0;
	if (r->version <= 0 || p[8] != ' ' || p[9] < '1' || p[9] > '9' ||
	    p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' ||
	    (eol - p > 12 && p[12] != ' ')) {
		r->why = "malformed status line";
		return VD_ERR;
	}
	r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	r->reason = eol - p > 12 ? (struct vd_str){ p + 13, (size_t)(eol - p - 13) } :
	    (struct vd_str){ eol, 0 };
	for (const char *c = r->reason.p; c < eol; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f) {
			r->why = "control byte in reason phrase";
			return VD_ERR;
		}
	if (parse_fields(buf + r->line1, buf + end, r->fields, lim->max_fields,
	    &r->nfields, &st, &r->why, true) != VD_OK)
		return VD_ERR;
	r->head_len = end;
	return VD_OK;
}
