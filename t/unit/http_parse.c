/* t/unit/http_parse.c — the parser, the chunked decoder and the framing rules, by rule. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "viaduct.h"
#include "http_parse.h"
#include "http_chunk.h"
#include "http_msg.h"
#include "tap.h"

static const struct http_limits lim = { 200, 400, 8 };
static struct http_field fields[64];

static const struct http_limits big = { 1000, 4000, 64 };
static const struct http_limits *curlim = &lim;

static int
req(const char *s, struct http_req *r)
{
	memset(r, 0, sizeof(*r));
	r->fields = fields;
	return http_parse_request(r, s, strlen(s), curlim);
}

struct req_case {
	const char	*name;
	const char	*in;
	int		 rc;
	int		 status;
};

static const struct req_case req_cases[] = {
	{ "origin-form GET", "GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n", VD_OK, 0 },
	{ "absolute-form GET", "GET http://h.example:81/p HTTP/1.1\r\nHost: h.example:81\r\n\r\n", VD_OK, 0 },
	{ "authority-form CONNECT", "CONNECT h.example:443 HTTP/1.1\r\nHost: h.example:443\r\n\r\n", VD_OK, 0 },
	{ "asterisk-form OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", VD_OK, 0 },
	{ "RFC 9112 §2.2: leading empty line ignored", "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", VD_OK, 0 },
	{ "HTTP/1.0 without Host", "GET http://x/ HTTP/1.0\r\n\r\n", VD_OK, 0 },
	{ "incomplete head", "GET / HTTP/1.1\r\nHost: x\r\n", VD_AGAIN, 0 },
	{ "RFC 9112 §5.1: whitespace between field name and colon -> 400", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", VD_ERR, 400 },
	{ "RFC 9112 §5.2: obs-fold -> 400", "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n", VD_ERR, 400 },
	{ "RFC 9112 §2.2: bare CR -> 400", "GET / HTTP/1.1\r\nHost: x\r\nA: b\rc\r\n\r\n", VD_ERR, 400 },
	{ "bare LF -> 400", "GET / HTTP/1.1\nHost: x\r\n\r\n", VD_ERR, 400 },
	{ "RFC 9110 §5.5: NUL in a field -> 400", "GET / HTTP/1.1\r\nHost: x\r\nA: b\001c\r\n\r\n", VD_ERR, 400 },
	{ "RFC 9110 §5.5: DEL in a field -> 400", "GET / HTTP/1.1\r\nHost: x\r\nA: \177\r\n\r\n", VD_ERR, 400 },
	{ "RFC 9110 §9.1: invalid method token -> 400", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", VD_ERR, 400 },
	{ "empty method -> 400", " / HTTP/1.1\r\nHost: x\r\n\r\n", VD_ERR, 400 },
	{ "two spaces in request line -> 400", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", VD_ERR, 400 },
	{ "RFC 9112 §3.2: missing Host in 1.1 -> 400", "GET / HTTP/1.1\r\nA: b\r\n\r\n", VD_ERR, 400 },
	{ "RFC 9112 §3.2: duplicate Host -> 400", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", VD_ERR, 400 },
	{ "duplicate Host in 1.0 -> 400", "GET / HTTP/1.0\r\nHost: x\r\nhost: x\r\n\r\n", VD_ERR, 400 },
	{ "invalid Host -> 400", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", VD_ERR, 400 },
	{ "malformed version -> 400", "GET / HTTP/1\r\nHost: x\r\n\r\n", VD_ERR, 400 },
	{ "HTTP/2.0 -> 505", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", VD_ERR, 505 },
	{ "userinfo in absolute-form -> 400", "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", VD_ERR, 400 },
	{ "port out of range -> 400", "GET http://h:65536/ HTTP/1.1\r\nHost: h\r\n\r\n", VD_ERR, 400 },
	{ "asterisk-form outside OPTIONS -> 400", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", VD_ERR, 400 },
	{ "CONNECT without port -> 400", "CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n", VD_ERR, 400 },
	{ "control byte in target -> 400", "GET /a\001 HTTP/1.1\r\nHost: x\r\n\r\n", VD_ERR, 400 },
	{ "fragment in target -> 400", "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", VD_ERR, 400 },
	{ "empty field name -> 400", "GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", VD_ERR, 400 },
	{ "limit: request line beyond max_request_line -> 414",
	  "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: x\r\n\r\n", VD_ERR, 414 },
	{ "limit: incomplete request line beyond max_request_line -> 414",
	  "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", VD_ERR, 414 },
	{ "limit: more than max_headers fields -> 431",
	  "GET / HTTP/1.1\r\nHost: x\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\ng: 1\r\nh: 1\r\n\r\n", VD_ERR, 431 },
	{ "limit: head beyond max_header_size -> 431",
	  "GET / HTTP/1.1\r\nHost: x\r\na: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"
	  "b: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"
	  "c: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"
	  "d: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n\r\n", VD_ERR, 431 },
	{ "limit: incomplete head beyond max_header_size -> 431",
	  "GET / HTTP/1.1\r\nHost: x\r\na: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"
	  "b: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"
	  "c: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"
	  "d: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n", VD_ERR, 431 },
};

static void
test_request_table(void)
{
	struct http_req r;
	char name[256];

	for (size_t i = 0; i < VD_ARRLEN(req_cases); i++) {
		const struct req_case *c = &req_cases[i];
		int rc = req(c->in, &r);
		snprintf(name, sizeof(name), "%s (rc)", c->name);
		is_int(rc, c->rc, name);
		if (c->rc == VD_ERR) {
			snprintf(name, sizeof(name), "%s (status)", c->name);
			is_int(r.status, c->status, name);
		}
	}
}

static int
vis(struct vd_str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static void
test_request_slices(void)
{
	struct http_req r;
	const char *s = "POST http://Example.COM:8080?q=1 HTTP/1.1\r\nHost: other\r\n"
	    "X-A:  v1  \r\nx-a: v2\r\nEmpty:\r\n\r\nBODY";
	size_t n = strlen(s);

	is_int(req(s, &r), VD_OK, "absolute-form with query and no path parses");
	ok(vis(r.method, "POST"), "method slice");
	ok(r.form == HTTP_FORM_ABSOLUTE, "form is absolute");
	ok(vis(r.scheme, "http"), "scheme slice");
	ok(vis(r.host, "Example.COM"), "host slice");
	is_int(r.port, 8080, "port from target");
	ok(vis(r.path, "?q=1"), "path slice keeps the query byte for byte");
	is_int(r.nfields, 4, "four fields, duplicates kept");
	ok(vis(r.fields[1].value, "v1"), "OWS trimmed around a value");
	ok(vis(r.fields[3].value, ""), "empty value allowed");
	is_int(r.head_len, n - 4, "head_len stops before the body");
	is_int(r.host_field, 0, "host_field index");

	/* byte by byte: resumable, same result */
	memset(&r, 0, sizeof(r));
	r.fields = fields;
	int rc = VD_AGAIN;
	size_t i;
	for (i = 1; i <= n && rc == VD_AGAIN; i++)
		rc = http_parse_request(&r, s, i, &lim);
	is_int(rc, VD_OK, "resumable: byte-by-byte feed completes");
	is_int(i - 1, n - 4, "resumable: completes exactly at the blank line");

	is_int(req("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n", &r), VD_OK, "empty path parses");
	is_int(r.path.len, 0, "empty path is empty (proxy sends /)");
	is_int(r.port, 80, "http default port 80");
	is_int(req("GET http://[::1]:8080/x HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", &r), VD_OK, "IPv6 literal authority");
	ok(vis(r.host, "[::1]"), "IPv6 host slice keeps brackets");
	/* RFC 3986 §3.2.2: between brackets an IPv6 address, nothing else */
	is_int(req("GET http://[::ffff:127.0.0.1]/ HTTP/1.1\r\nHost: x\r\n\r\n", &r), VD_OK,
	    "IPv6 literal with an embedded IPv4 address");
	is_int(req("GET http://[127.0.0.1]:80/ HTTP/1.1\r\nHost: x\r\n\r\n", &r), VD_ERR,
	    "an IPv4 address in brackets is no IP-literal");
	is_int(r.status, 400, "... 400");
	is_int(req("GET http://[dead.beef]/ HTTP/1.1\r\nHost: x\r\n\r\n", &r), VD_ERR,
	    "hex digits and dots in brackets are no IP-literal");
	is_int(req("GET http://[1:2]/ HTTP/1.1\r\nHost: x\r\n\r\n", &r), VD_ERR,
	    "two groups are no IPv6 address");
	is_int(req("GET / HTTP/1.1\r\nHost: [...]\r\n\r\n", &r), VD_ERR,
	    "Host: [...] is no IP-literal");
}

static int
resp(const char *s, struct http_resp *r)
{
	memset(r, 0, sizeof(*r));
	r->fields = fields;
	return http_parse_response(r, s, strlen(s), &lim);
}

static void
test_response(void)
{
	struct http_resp r;

	is_int(resp("HTTP/1.1 200 OK\r\nA: b\r\n\r\n", &r), VD_OK, "status line parses");
	is_int(r.status, 200, "status code");
	ok(vis(r.reason, "OK"), "reason phrase");
	is_int(resp("HTTP/1.1 204\r\n\r\n", &r), VD_OK, "status line without reason");
	is_int(resp("HTTP/1.0 200 OK\r\n\r\n", &r), VD_OK, "HTTP/1.0 response");
	is_int(r.version, 10, "response version 1.0");
	is_int(resp("HTTP/1.1 20 OK\r\n\r\n", &r), VD_ERR, "two-digit status rejected");
	is_int(resp("HTTP/1.1 200 OK\r\nA \t: b\r\n\r\n", &r), VD_OK,
	    "RFC 9112 §5.1: response: whitespace before colon is removed, not fatal");
	ok(r.nfields == 1 && vis(r.fields[0].name, "A") && vis(r.fields[0].value, "b"), "... the name is the token");
	is_int(resp("HTTP/1.1 200 OK\r\n : b\r\n\r\n", &r), VD_ERR, "response: leading whitespace still rejected");
	is_int(resp("HTTP/1.1 200 OK\r\nA B: b\r\n\r\n", &r), VD_ERR, "response: whitespace inside a name rejected");
	is_int(resp("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", &r), VD_ERR, "response: obs-fold rejected");
	is_int(resp("ICY 200 OK\r\n\r\n", &r), VD_ERR, "non-HTTP status line rejected");
	is_int(resp("HTTP/1.1 200 OK\r\n", &r), VD_AGAIN, "incomplete response head");
}

/* Decode all of `in` in pieces of `step` bytes (as a request body's
 * decoder when req); return data and rc, the decoder's why in *why. */
static int
chunk_dec(const char *in, size_t step, bool req, char *data, size_t *dlen, size_t *used,
    const char **why)
{
	struct http_chunk c = { .request = req };
	size_t n = strlen(in), pos = 0, lim_end;
	int rc = VD_AGAIN;

	*dlen = 0;
	while (pos < n) {
		size_t cons, off, len;
		lim_end = pos + step < n ? pos + step : n;
		rc = http_chunk_decode(&c, in + pos, lim_end - pos, &cons, &off, &len);
		memcpy(data + *dlen, in + pos + off, len);
		*dlen += len;
		pos += cons;
		if (rc == VD_DONE || rc == VD_ERR)
			break;
	}
	*used = pos;
	*why = c.why;
	return rc == VD_OK ? VD_AGAIN : rc;	/* OK: a data span, body goes on */
}

static int
chunk_all(const char *in, size_t step, char *data, size_t *dlen, size_t *used)
{
	const char *why;

	return chunk_dec(in, step, false, data, dlen, used, &why);
}

/* The size line and the trailer section by rule, each case in both modes
 * unless it says otherwise: why is the decoder's reason (NULL: no error). */
struct chunk_rule {
	const char	*name;
	const char	*in;
	int		 req;		/* -1: both modes alike, 0 response, 1 request */
	const char	*why;
};

#define TAIL	"\r\nabcde\r\n0\r\n\r\n"
static const struct chunk_rule chunk_rules[] = {
	{ "RFC 9112 §7.1.1: junk after the size -> error", "5 x" TAIL, -1, "junk after chunk size" },
	{ "junk after the size and a TAB -> error", "5\tx" TAIL, -1, "junk after chunk size" },
	{ "junk right after the digits -> error", "5x" TAIL, -1, "junk after chunk size" },
	{ "'=' where a ';' belongs -> error", "5 =1" TAIL, -1, "junk after chunk size" },
	{ "junk after the last chunk's size -> error", "5\r\nabcde\r\n0 x\r\n\r\n", -1, "junk after chunk size" },
	{ "BWS then ';' starts an extension", "5 \t ;a=1" TAIL, -1, NULL },
	{ "BWS then CRLF", "5 \t " TAIL, -1, NULL },
	{ "an extension may hold spaces and quotes", "5;a=\"x y;z\"" TAIL, -1, NULL },
	{ "bare LF in an extension -> error", "5;a\nb" TAIL, -1, "control byte in chunk extension" },
	{ "several extensions, BWS around ';' and '='", "5 ; a ; b = 1 ;c=\"q\\\"x\"\t" TAIL, -1, NULL },
	{ "a name without a value", "5;a" TAIL, -1, NULL },
	{ "RFC 9112 §7.1.1: an unterminated quoted-string -> error", "5;a=\"xy" TAIL, -1,
	    "control byte in chunk extension" },
	{ "a quote inside a token value -> error", "5;a=b\"c\"" TAIL, -1, "invalid chunk extension" },
	{ "junk after a quoted value -> error", "5;a=\"x\"y" TAIL, -1, "invalid chunk extension" },
	{ "an empty extension name -> error", "5;=x" TAIL, -1, "invalid chunk extension" },
	{ "a bare ';' -> error", "5;" TAIL, -1, "invalid chunk extension" },
	{ "a space inside a name -> error", "5;a b" TAIL, -1, "invalid chunk extension" },
	{ "'@' in a name -> error", "5;a@b" TAIL, -1, "invalid chunk extension" },
	{ "an empty value -> error", "5;a=" TAIL, -1, "invalid chunk extension" },
	{ "'=' twice -> error", "5;a==b" TAIL, -1, "invalid chunk extension" },
	{ "obs-text in a quoted value", "5;a=\"\x80\xff\"" TAIL, -1, NULL },
	{ "obs-text in a token value -> error", "5;a=\xff" TAIL, -1, "invalid chunk extension" },
	{ "an extension on the last chunk", "5\r\nabcde\r\n0;last=\"1\"\r\n\r\n", -1, NULL },
	{ "RFC 9112 §7.1.2: trailer field without OWS", "0\r\nX-T:1\r\n\r\n", -1, NULL },
	{ "trailer field with an empty value", "0\r\nX-T:\r\n\r\n", -1, NULL },
	{ "obs-text in a trailer value (as in a header value)", "0\r\nX-T: \x80\xff\r\n\r\n", -1, NULL },
	{ "RFC 9112 §5.1: whitespace before a trailer colon -> error", "0\r\nX-T : 1\r\n\r\n", -1,
	    "whitespace between trailer field name and colon" },
	{ "a TAB before a trailer colon -> error", "0\r\nX-T\t: 1\r\n\r\n", -1,
	    "whitespace between trailer field name and colon" },
	{ "trailer line without a colon -> error", "0\r\nnocolon\r\n\r\n", -1, "trailer field without a colon" },
	{ "empty trailer field name -> error", "0\r\n: 1\r\n\r\n", -1, "empty trailer field name" },
	{ "RFC 9110 §5.1: a trailer name that is no token -> error", "0\r\nX(T): 1\r\n\r\n", -1,
	    "invalid trailer field name" },
	{ "a control byte in a trailer name -> error", "0\r\nX\001T: 1\r\n\r\n", -1,
	    "invalid trailer field name" },
	{ "bare LF in a trailer value -> error", "0\r\nX-T: a\nb\r\n\r\n", -1, "control byte in trailer" },
	{ "bare CR in a trailer value -> error", "0\r\nX-T: a\rb\r\n\r\n", -1, "bare CR in trailer" },
	{ "DEL in a trailer value -> error", "0\r\nX-T: a\177\r\n\r\n", -1, "control byte in trailer" },
	{ "obs-fold after a trailer line -> error", "0\r\nX-T: 1\r\n\t2\r\n\r\n", -1, "obs-fold in trailer" },
	{ "response: Content-Length in the trailer is relayed", "0\r\nContent-Length: 5\r\n\r\n", 0, NULL },
	{ "response: Host in the trailer is relayed", "0\r\nHost: x\r\n\r\n", 0, NULL },
	{ "RFC 9110 §6.5.1: request Content-Length trailer -> error", "0\r\nContent-Length: 5\r\n\r\n", 1,
	    "forbidden field in the trailer section" },
	{ "request Transfer-Encoding trailer, any case -> error", "0\r\nTRANSFER-encoding: chunked\r\n\r\n", 1,
	    "forbidden field in the trailer section" },
	{ "request Host trailer -> error", "0\r\nX-A: 1\r\nhost: evil\r\n\r\n", 1,
	    "forbidden field in the trailer section" },
	{ "request Trailer trailer -> error", "0\r\nTrailer: X\r\n\r\n", 1, "forbidden field in the trailer section" },
	{ "request Connection trailer -> error", "0\r\nConnection: close\r\n\r\n", 1,
	    "forbidden field in the trailer section" },
	{ "request Keep-Alive trailer -> error", "0\r\nKeep-Alive: 1\r\n\r\n", 1, "forbidden field in the trailer section" },
	{ "request Upgrade trailer -> error", "0\r\nUpgrade: h2c\r\n\r\n", 1, "forbidden field in the trailer section" },
	{ "request TE trailer -> error", "0\r\nTE: trailers\r\n\r\n", 1, "forbidden field in the trailer section" },
	{ "request Proxy-Connection trailer -> error", "0\r\nProxy-Connection: x\r\n\r\n", 1,
	    "forbidden field in the trailer section" },
	{ "RFC 9110 §11.7.2: request Proxy-Authorization trailer -> error",
	    "0\r\nProxy-Authorization: Basic eDp5\r\n\r\n", 1, "forbidden field in the trailer section" },
	{ "request: a name that only starts like one is kept", "0\r\nContent-Lengths: 5\r\nHostname: h\r\n\r\n", 1, NULL },
	{ "request: a long name is kept", "0\r\nProxy-Connection-And-Much-More: 1\r\n\r\n", 1, NULL },
	{ "request: a framing name inside a value is kept", "0\r\nX-Other: Content-Length: 5\r\n\r\n", 1, NULL },
};
#undef TAIL

static void
test_chunk_rules(void)
{
	static const size_t steps[] = { 1, 7, 4096 };
	char data[256], name[320];
	size_t dlen, used;
	const char *why;

	for (size_t i = 0; i < VD_ARRLEN(chunk_rules); i++) {
		const struct chunk_rule *r = &chunk_rules[i];
		for (int req = 0; req <= 1; req++) {
			if (r->req >= 0 && r->req != req)
				continue;
			for (size_t k = 0; k < VD_ARRLEN(steps); k++) {
				int rc = chunk_dec(r->in, steps[k], req, data, &dlen, &used, &why);
				snprintf(name, sizeof(name), "%s (%s, step %zu)", r->name,
				    req ? "request" : "response", steps[k]);
				if (r->why == NULL)
					is_int(rc, VD_DONE, name);
				else
					ok(rc == VD_ERR && why != NULL && strcmp(why, r->why) == 0, name);
			}
		}
	}
}

static bool
named_xtr(void *arg, const char *name, size_t n)
{
	(void)arg;
	return n == 4 && memcmp(name, "x-tr", 4) == 0;
}

/* RFC 9110 §7.6.1: a request's trailer field that its Connection names. */
static void
test_chunk_named(void)
{
	static const char *const in[] = { "0\r\nX-Ok: 1\r\nX-TR: s\r\n\r\n", "0\r\nX-Ok: 1\r\n\r\n",
	    "0\r\nX-Trx: 1\r\n\r\n" };
	static const int want[] = { VD_ERR, VD_DONE, VD_DONE };

	for (size_t i = 0; i < VD_ARRLEN(in); i++) {
		struct http_chunk c = { .request = true, .named = named_xtr };
		size_t cons, off, len;
		int rc = http_chunk_decode(&c, in[i], strlen(in[i]), &cons, &off, &len);

		ok(rc == want[i] && (rc != VD_ERR || strcmp(c.why, "trailer field named by Connection") == 0),
		    i == 0 ? "a trailer field named by Connection (any case) -> error" :
		    i == 1 ? "other trailer fields pass" : "a longer name is another field");
	}
}

/* The bounds: a size line and a trailer section longer than they may be. */
static void
test_chunk_bounds(void)
{
	static char in[HTTP_CHUNK_MAX_TRAILER + 64], data[64];
	size_t dlen, used, n;
	const char *why;

	n = (size_t)snprintf(in, sizeof(in), "5;");
	memset(in + n, 'a', HTTP_CHUNK_MAX_LINE);
	in[n + HTTP_CHUNK_MAX_LINE] = '\0';
	ok(chunk_dec(in, 4096, false, data, &dlen, &used, &why) == VD_ERR &&
	    strcmp(why, "chunk size line too long") == 0, "an extension beyond the line bound -> error");
	memset(in + 1, ' ', HTTP_CHUNK_MAX_LINE);
	in[1 + HTTP_CHUNK_MAX_LINE] = '\0';
	ok(chunk_dec(in, 4096, false, data, &dlen, &used, &why) == VD_ERR &&
	    strcmp(why, "chunk size line too long") == 0, "BWS beyond the line bound -> error");
	n = (size_t)snprintf(in, sizeof(in), "0\r\nX-Big: ");
	memset(in + n, 'v', HTTP_CHUNK_MAX_TRAILER);
	in[n + HTTP_CHUNK_MAX_TRAILER] = '\0';
	ok(chunk_dec(in, 4096, true, data, &dlen, &used, &why) == VD_ERR &&
	    strcmp(why, "trailer section too large") == 0, "a trailer section beyond its bound -> error");
}

struct chunk_case {
	const char	*name;
	const char	*in;
	int		 rc;
	const char	*data;
};

static const struct chunk_case chunk_cases[] = {
	{ "RFC 9112 §7.1: simple chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", VD_DONE, "hello world" },
	{ "hex sizes, upper and lower case", "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n", VD_DONE, "0123456789abcdefghijk" },
	{ "RFC 9112 §7.1.1: chunk extensions tolerated", "3;name=val\r\nabc\r\n0;x\r\n\r\n", VD_DONE, "abc" },
	{ "extension with BWS and quoted value", "3 ;a=\"q v\"\r\nabc\r\n0\r\n\r\n", VD_DONE, "abc" },
	{ "RFC 9112 §7.1.2: trailers kept", "3\r\nabc\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n", VD_DONE, "abc" },
	{ "leading zeros allowed", "0003\r\nabc\r\n000\r\n\r\n", VD_DONE, "abc" },
	{ "bad hex -> error", "g\r\nabc\r\n0\r\n\r\n", VD_ERR, "" },
	{ "0x prefix -> error", "0x3\r\nabc\r\n0\r\n\r\n", VD_ERR, "" },
	{ "negative size -> error", "-3\r\nabc\r\n0\r\n\r\n", VD_ERR, "" },
	{ "empty size -> error", "\r\nabc\r\n0\r\n\r\n", VD_ERR, "" },
	{ "size overflow (16 hex digits) -> error", "1000000000000000\r\n", VD_ERR, "" },
	{ "data longer than size -> error", "3\r\nabcd\r\n0\r\n\r\n", VD_ERR, "abc" },
	{ "bare LF after size -> error", "3\nabc\r\n0\r\n\r\n", VD_ERR, "" },
	{ "bare CR in size line -> error", "3\rabc\r\n0\r\n\r\n", VD_ERR, "" },
	{ "control byte in extension -> error", "3;a\001\r\nabc\r\n0\r\n\r\n", VD_ERR, "" },
	{ "obs-fold in trailer -> error", "0\r\nA: b\r\n c\r\n\r\n", VD_ERR, "" },
	{ "incomplete body -> again", "5\r\nhel", VD_AGAIN, "hel" },
};

static void
test_chunked(void)
{
	char data[256], name[256];
	size_t dlen, used;

	for (size_t i = 0; i < VD_ARRLEN(chunk_cases); i++) {
		const struct chunk_case *c = &chunk_cases[i];
		for (size_t step = 1; step <= 64; step *= 64) {
			int rc = chunk_all(c->in, step, data, &dlen, &used);
			snprintf(name, sizeof(name), "%s (rc, step %zu)", c->name, step);
			is_int(rc, c->rc, name);
			if (c->rc != VD_ERR) {
				snprintf(name, sizeof(name), "%s (data, step %zu)", c->name, step);
				ok(dlen == strlen(c->data) && memcmp(data, c->data, dlen) == 0, name);
			}
		}
	}
	const char *two = "3\r\nabc\r\n0\r\n\r\nGET /next";
	int rc = chunk_all(two, 100, data, &dlen, &used);
	is_int(rc, VD_DONE, "done before pipelined bytes");
	is_int(used, strlen(two) - 9, "decoder stops exactly at the end of the body");

	char hb[20];
	size_t hl = http_chunk_header(hb, 0x1a2b);
	ok(hl == 6 && memcmp(hb, "1a2b\r\n", 6) == 0, "encoder: chunk header in hex");
}

static int
req_framing(const char *s, struct http_framing *fr, int *status)
{
	struct http_req r;
	const char *why;

	if (req(s, &r) != VD_OK)
		return 99;
	return http_req_framing(&r, fr, status, &why);
}

static void
test_framing(void)
{
	struct http_framing fr;
	int st;
	struct http_resp r;
	const char *why;

	is_int(req_framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", &fr, &st), VD_OK, "CL request");
	ok(fr.kind == HTTP_BODY_LENGTH && fr.length == 5, "CL: length body of 5");
	is_int(req_framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &fr, &st), VD_OK,
	    "RFC 9110 §8.6: identical Content-Length values accepted");
	is_int(req_framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n", &fr, &st), VD_OK,
	    "identical Content-Length list accepted");
	is_int(req_framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", &fr, &st), VD_ERR,
	    "RFC 9112 §6.3: differing Content-Length -> 400");
	is_int(st, 400, "differing Content-Length status 400");
	is_int(req_framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", &fr, &st), VD_ERR, "negative Content-Length -> 400");
	is_int(req_framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n", &fr, &st), VD_ERR, "non-digit Content-Length -> 400");
	is_int(req_framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", &fr, &st), VD_ERR,
	    "overflowing Content-Length -> 400");
	is_int(req_framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", &fr, &st), VD_OK,
	    "RFC 9112 §6.3: TE and CL together -> TE governs");
	ok(fr.kind == HTTP_BODY_CHUNKED && fr.te_and_cl, "TE and CL: chunked, flagged for close");
	is_int(req_framing("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", &fr, &st), VD_ERR,
	    "RFC 9112 §6.3: request TE not ending in chunked -> 400");
	is_int(st, 400, "TE not chunked: status 400");
	is_int(req_framing("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", &fr, &st), VD_ERR,
	    "request TE chunked then gzip -> 400");
	is_int(req_framing("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", &fr, &st), VD_ERR,
	    "chunked applied twice -> 400");
	is_int(req_framing("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &fr, &st), VD_ERR,
	    "other coding before chunked -> error");
	is_int(st, 501, "other coding before chunked -> 501");
	is_int(req_framing("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &fr, &st), VD_ERR,
	    "RFC 9112 §6.1: TE in an HTTP/1.0 request -> 400");
	is_int(req_framing("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &fr, &st), VD_OK, "no framing fields");
	ok(fr.kind == HTTP_BODY_NONE, "no framing fields: no body");

	resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", &r);
	ok(http_resp_framing(&r, false, &fr, &why) == VD_OK && fr.kind == HTTP_BODY_LENGTH, "response CL");
	ok(http_resp_framing(&r, true, &fr, &why) == VD_OK && fr.kind == HTTP_BODY_NONE, "RFC 9112 §6.3: HEAD response has no body");
	resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n", &r);
	ok(http_resp_framing(&r, false, &fr, &why) == VD_OK && fr.kind == HTTP_BODY_NONE, "304 has no body");
	resp("HTTP/1.1 204 No Content\r\n\r\n", &r);
	ok(http_resp_framing(&r, false, &fr, &why) == VD_OK && fr.kind == HTTP_BODY_NONE, "204 has no body");
	resp("HTTP/1.1 100 Continue\r\n\r\n", &r);
	ok(http_resp_framing(&r, false, &fr, &why) == VD_OK && fr.kind == HTTP_BODY_NONE, "1xx has no body");
	resp("HTTP/1.1 200 OK\r\n\r\n", &r);
	ok(http_resp_framing(&r, false, &fr, &why) == VD_OK && fr.kind == HTTP_BODY_EOF, "no length, no chunking: until close");
	resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n", &r);
	ok(http_resp_framing(&r, false, &fr, &why) == VD_OK && fr.kind == HTTP_BODY_CHUNKED && fr.te_and_cl,
	    "response TE and CL: TE governs");
	resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", &r);
	ok(http_resp_framing(&r, false, &fr, &why) == VD_ERR, "response differing CL -> error (502)");
	resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", &r);
	ok(http_resp_framing(&r, false, &fr, &why) == VD_ERR, "response unknown transfer coding -> error (502)");
}

static void
test_msg(void)
{
	struct http_req r;
	struct http_framing fr;
	char buf[2048];
	struct http_out o = { buf, 0, sizeof(buf) - 1, false };
	struct http_fwd fw = { .via = "proxy.test", .client_ip = "10.0.0.1" };
	int st;
	const char *why;

	curlim = &big;
	is_int(req("POST http://o.example:8080 HTTP/1.1\r\nHost: wrong\r\nConnection: keep-alive, X-Hop\r\n"
	    "X-Hop: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n"
	    "Proxy-Authorization: Basic x\r\nUpgrade: h2c\r\nTrailer: X\r\nA: 1\r\nA: 2\r\n"
	    "Content-Length: 4\r\nTransfer-Encoding: chunked\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n", &r), VD_OK, "rewrite case parses");
	is_int(http_req_framing(&r, &fr, &st, &why), VD_OK, "framing of the rewrite case");
	is_int(http_req_head(&o, &r, &fr, &fw), VD_OK, "request head builds");
	buf[o.len] = '\0';
	is_str(buf, "POST / HTTP/1.1\r\nHost: o.example:8080\r\nA: 1\r\nA: 2\r\n"
	    "Transfer-Encoding: chunked\r\nX-Forwarded-For: 1.2.3.4, 10.0.0.1\r\nVia: 1.1 proxy.test\r\n\r\n",
	    "RFC 9110 §7.6.1: hop-by-hop removed, Host from target, / for empty path, Via and XFF added");

	req("GET http://h/p HTTP/1.1\r\nHost: h\r\nFrom: a@b\r\nReferer: http://r/\r\n\r\n", &r);
	http_req_framing(&r, &fr, &st, &why);
	fw.anonymous = true;
	o.len = 0;
	http_req_head(&o, &r, &fr, &fw);
	buf[o.len] = '\0';
	is_str(buf, "GET /p HTTP/1.1\r\nHost: h\r\nVia: 1.1 proxy.test\r\n\r\n", "anonymous drops From, Referer and XFF");

	req("GET http://h/ HTTP/1.1\r\nHost: h\r\nVia: 1.0 a, 1.1 Proxy.Test (viaduct)\r\n\r\n", &r);
	ok(http_via_has(r.fields, r.nfields, "proxy.test"), "RFC 9110 §7.6.3: our pseudonym in Via is a loop");
	ok(!http_via_has(r.fields, r.nfields, "proxy"), "a prefix of our pseudonym is not a loop");
	req("GET http://h/ HTTP/1.1\r\nHost: h\r\nVia: 1.1 other (note, 1.1 proxy.test here)\r\n\r\n", &r);
	ok(!http_via_has(r.fields, r.nfields, "proxy.test"),
	    "RFC 9110 §5.6.5: a comma inside a comment starts no Via member (no false loop)");
	req("GET http://h/ HTTP/1.1\r\nHost: h\r\nVia: 1.0 x (a (b, 1.1 proxy.test) c), 1.1 proxy.test\r\n\r\n", &r);
	ok(http_via_has(r.fields, r.nfields, "proxy.test"), "nested comments skipped, the member after them read");
	req("GET http://h/ HTTP/1.1\r\nHost: h\r\nVia: 1.1 y (q\\), 1.1 proxy.test)\r\n\r\n", &r);
	ok(!http_via_has(r.fields, r.nfields, "proxy.test"), "a quoted-pair in a comment does not end it");

	struct http_out small = { buf, 0, 10, false };
	ok(http_req_head(&small, &r, &fr, &fw) == VD_ERR && small.overflow, "output overflow reported, not grown");

	o.len = 0;
	http_error_page(&o, 502, VD_STR("http://x/<script>"), "connection refused", "admin@example", "p",
	    "Thu, 03 Dec 2026 13:00:00 GMT", false);
	buf[o.len] = '\0';
	ok(strstr(buf, "HTTP/1.1 502 Bad Gateway\r\n") == buf, "error page status line");
	ok(strstr(buf, "&lt;script&gt;") != NULL, "error page escapes the URL");
	ok(strstr(buf, "mailto:admin@example") != NULL, "error page names the cache administrator");
	ok(strstr(buf, "Connection: close\r\n") != NULL, "error page closes");
	ok(strstr(buf, "\r\nDate: Thu, 03 Dec 2026 13:00:00 GMT\r\n") != NULL, "RFC 9110 §6.6.1: error page dated");
	{
		/* the longest URL shown, every byte escaped to 6: the page is whole */
		static char page[16384], quotes[1000];
		struct http_out ob = { page, 0, sizeof(page) - 1, false };

		memset(quotes, '"', sizeof(quotes));
		http_error_page(&ob, 502, (struct vd_str){ quotes, sizeof(quotes) }, "refused",
		    "admin@example", "p", "Thu, 03 Dec 2026 13:00:00 GMT", false);
		page[ob.len] = '\0';
		ok(!ob.overflow && strstr(page, "</html>\n") != NULL && strstr(page, "mailto:admin@example"),
		    "an error page whose URL escapes to 6000 bytes is not cut");
	}
}

/* Max-Forwards, OPTIONS *, Upgrade, TRACE and OPTIONS answers (RFC 9110 §7.6.2, §7.8, §9.3.7-8). */
static void
test_methods(void)
{
	struct http_req r;
	struct http_framing fr;
	char buf[2048];
	struct http_out o = { buf, 0, sizeof(buf) - 1, false };
	struct http_fwd fw = { .via = "p", .anonymous = true };
	uint64_t mf = 99;
	int st;
	const char *why;

	curlim = &big;
	req("TRACE http://h/x HTTP/1.1\r\nHost: h\r\nMax-Forwards: 7\r\nA: 1\r\n\r\n", &r);
	http_req_framing(&r, &fr, &st, &why);
	ok(http_max_forwards(&r, &mf) == VD_OK && mf == 7, "Max-Forwards parsed");
	fw.set_max_forwards = true;
	fw.max_forwards = 6;
	http_req_head(&o, &r, &fr, &fw);
	buf[o.len] = '\0';
	is_str(buf, "TRACE /x HTTP/1.1\r\nHost: h\r\nMax-Forwards: 6\r\nA: 1\r\nVia: 1.1 p\r\n\r\n",
	    "Max-Forwards rewritten in place");
	req("TRACE http://h/x HTTP/1.1\r\nHost: h\r\nMax-Forwards: -1\r\n\r\n", &r);
	ok(http_max_forwards(&r, &mf) == VD_ERR, "a negative Max-Forwards is malformed");
	req("TRACE http://h/x HTTP/1.1\r\nHost: h\r\n\r\n", &r);
	ok(http_max_forwards(&r, &mf) == VD_DECLINED, "no Max-Forwards");

	fw.set_max_forwards = false;
	req("OPTIONS http://h:81 HTTP/1.1\r\nHost: h:81\r\n\r\n", &r);
	http_req_framing(&r, &fr, &st, &why);
	o.len = 0;
	http_req_head(&o, &r, &fr, &fw);
	buf[o.len] = '\0';
	is_str(buf, "OPTIONS * HTTP/1.1\r\nHost: h:81\r\nVia: 1.1 p\r\n\r\n", "RFC 9112 §3.2.4: OPTIONS with no path -> *");

	req("GET http://h/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", &r);
	http_req_framing(&r, &fr, &st, &why);
	fw.upgrade = true;
	o.len = 0;
	http_req_head(&o, &r, &fr, &fw);
	buf[o.len] = '\0';
	is_str(buf, "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\nVia: 1.1 p\r\n\r\n",
	    "an Upgrade offer keeps Upgrade and says Connection: upgrade");

	const char *head = "TRACE / HTTP/1.1\r\nHost: h\r\nCookie: c=1\r\nauthorization: x\r\nB: 2\r\n\r\n";
	o.len = 0;
	http_trace_reply(&o, head, strlen(head), "p", "Thu, 03 Dec 2026 13:00:00 GMT", false, false);
	buf[o.len] = '\0';
	is_str(buf, "HTTP/1.1 200 OK\r\nContent-Type: message/http\r\nCache-Control: no-store\r\n"
	    "Content-Length: 35\r\nDate: Thu, 03 Dec 2026 13:00:00 GMT\r\nVia: 1.1 p\r\n\r\nTRACE / HTTP/1.1\r\nHost: h\r\nB: 2\r\n\r\n",
	    "TRACE answer reflects the head without credentials");
	o.len = 0;
	http_options_reply(&o, "p", "Thu, 03 Dec 2026 13:00:00 GMT", true, false);
	buf[o.len] = '\0';
	is_str(buf, "HTTP/1.1 200 OK\r\nAllow: " HTTP_ALLOW "\r\nContent-Length: 0\r\nDate: Thu, 03 Dec 2026 13:00:00 GMT\r\n"
	    "Connection: close\r\nVia: 1.1 p\r\n\r\n", "OPTIONS answer with Allow");
}

/* The h1 audit's findings: framing the client or the origin could read two ways. */
static void
test_audit(void)
{
	struct http_req r;
	struct http_resp rs;
	struct http_framing fr;
	struct http_resp_out ro = { 0 };
	char buf[1024];
	struct http_out o = { buf, 0, sizeof(buf) - 1, false };
	struct http_fwd fw = { .via = "p" };
	int st;
	const char *why;

	curlim = &big;
	resp("HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 3\r\n\r\n", &rs);
	http_resp_framing(&rs, false, &fr, &why);
	http_resp_head(&o, &rs, &fr, &ro, "p");
	buf[o.len] = '\0';
	is_str(buf, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nVia: 1.1 p\r\n\r\n",
	    "Connection: Content-Length cannot strip the response's length");

	resp("HTTP/1.1 204 No Content\r\nContent-Length: 40\r\n\r\n", &rs);
	ok(http_resp_framing(&rs, false, &fr, &why) == VD_OK && fr.kind == HTTP_BODY_NONE && fr.skipped,
	    "204 announcing a body: no body, connection not reused");
	o.len = 0;
	http_resp_head(&o, &rs, &fr, &ro, "p");
	buf[o.len] = '\0';
	is_str(buf, "HTTP/1.1 204 No Content\r\nVia: 1.1 p\r\n\r\n", "RFC 9110 §8.6: no Content-Length in a 204");
	resp("HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n", &rs);
	fr = (struct http_framing){ .kind = HTTP_BODY_NONE };
	o.len = 0;
	http_resp_head(&o, &rs, &fr, &ro, "p");
	buf[o.len] = '\0';
	is_str(buf, "HTTP/1.1 100 Continue\r\nVia: 1.1 p\r\n\r\n", "RFC 9110 §8.6: no Content-Length in a 1xx");
	resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", &rs);
	http_resp_framing(&rs, false, &fr, &why);
	o.len = 0;
	http_resp_head(&o, &rs, &fr, &ro, "p");
	buf[o.len] = '\0';
	ok(strstr(buf, "\r\nContent-Length: 5\r\n") != NULL && fr.skipped,
	    "304 keeps its Content-Length; its connection is not reused");
	resp("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n", &rs);
	ok(http_resp_framing(&rs, true, &fr, &why) == VD_OK && fr.skipped, "HEAD response with a length: not reused");
	resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &rs);
	ok(http_resp_framing(&rs, true, &fr, &why) == VD_OK && !fr.skipped, "HEAD response of length 0: reused");
	resp("HTTP/1.1 200 OK\r\n\r\n", &rs);
	ok(http_resp_framing(&rs, true, &fr, &why) == VD_OK && fr.skipped, "HEAD response without a length: not reused");
	resp("HTTP/1.1 204 No Content\r\n\r\n", &rs);
	ok(http_resp_framing(&rs, false, &fr, &why) == VD_OK && !fr.skipped, "plain 204: reused");
	resp("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n", &rs);
	http_resp_framing(&rs, true, &fr, &why);
	o.len = 0;
	http_resp_head(&o, &rs, &fr, &ro, "p");
	buf[o.len] = '\0';
	is_str(buf, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nVia: 1.1 p\r\n\r\n",
	    "HEAD response: its Content-Length list goes out as one value");
	fr = (struct http_framing){ .kind = HTTP_BODY_NONE };
	o.len = 0;
	http_resp_head(&o, &rs, &fr, &ro, "p");
	buf[o.len] = '\0';
	is_str(buf, "HTTP/1.1 200 OK\r\nVia: 1.1 p\r\n\r\n",
	    "RFC 9110 §9.3.6: no Content-Length where the framing is the caller's (2xx to CONNECT)");
	resp("HTTP/1.1 200 OK\r\nContent-Length: 5x\r\nTransfer-Encoding: chunked\r\n\r\n", &rs);
	ok(http_resp_framing(&rs, false, &fr, &why) == VD_OK && fr.kind == HTTP_BODY_CHUNKED && fr.te_and_cl,
	    "invalid Content-Length beside chunked: TE governs, flagged");
	o.len = 0;
	http_resp_head(&o, &rs, &fr, &ro, "p");
	buf[o.len] = '\0';
	ok(strstr(buf, "Content-Length") == NULL, "... and the Content-Length is not relayed");

	/* RFC 9110 §6.6.1: a response forwarded without Date gets one */
	ro.date = "Thu, 03 Dec 2026 13:00:00 GMT";
	resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &rs);
	http_resp_framing(&rs, false, &fr, &why);
	o.len = 0;
	http_resp_head(&o, &rs, &fr, &ro, "p");
	buf[o.len] = '\0';
	is_str(buf, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: Thu, 03 Dec 2026 13:00:00 GMT\r\n"
	    "Via: 1.1 p\r\n\r\n", "no Date: ours added");
	resp("HTTP/1.1 200 OK\r\ndate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n", &rs);
	http_resp_framing(&rs, false, &fr, &why);
	o.len = 0;
	http_resp_head(&o, &rs, &fr, &ro, "p");
	buf[o.len] = '\0';
	is_str(buf, "HTTP/1.1 200 OK\r\ndate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: 0\r\n"
	    "Via: 1.1 p\r\n\r\n", "the origin's Date kept as it is, none added");
	ro.date = NULL;

	req("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer_Encoding: chunked\r\nContent_length: 9\r\n"
	    "X_Other: 1\r\nContent-Length: 5\r\n\r\n", &r);
	is_int(http_req_framing(&r, &fr, &st, &why), VD_OK, "underscore names are not framing");
	o.len = 0;
	http_req_head(&o, &r, &fr, &fw);
	buf[o.len] = '\0';
	is_str(buf, "POST / HTTP/1.1\r\nHost: h\r\nX_Other: 1\r\nContent-Length: 5\r\nVia: 1.1 p\r\n\r\n",
	    "Transfer_Encoding and Content_Length are not forwarded, other underscores are");

	req("GET http://h/ HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n", &r);
	ok(!http_upgrade_websocket(r.fields, r.nfields), "Upgrade: h2c is not offered");
	req("GET http://h/ HTTP/1.1\r\nHost: h\r\nUpgrade: websocket, h2c\r\n\r\n", &r);
	ok(!http_upgrade_websocket(r.fields, r.nfields), "websocket beside h2c is not offered");
	req("GET http://h/ HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket/13\r\n\r\n", &r);
	ok(http_upgrade_websocket(r.fields, r.nfields), "websocket (any case, with a version) is offered");
}

/* http_mem_ieq's word at a time against a byte at a time, on every pair of
 * bytes that a case fold could confuse, in every lane of a word. */
static bool
ieq_slow(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return false;
	}
	return true;
}

static void
test_mem_ieq(void)
{
	char a[20], b[20];
	int bad = 0;

	for (int x = 0; x < 256; x++)
		for (int d = 0; d < 8; d++) {
			/* y: the same byte, its bit-5 twin, and its neighbours */
			int ys[4] = { x, x ^ 0x20, (x + 1) & 255, x ^ 0x80 };

			for (int k = 0; k < 4; k++) {
				memcpy(a, "Content-Length:x", 17);
				memcpy(b, "cONTENT-lENGTH:x", 17);
				a[d + 3] = (char)x;
				b[d + 3] = (char)ys[k];
				for (size_t n = 8; n <= 16; n += 8)
					if (http_mem_ieq(a, b, n) != ieq_slow(a, b, n))
						bad++;
			}
		}
	is_int(bad, 0, "http_mem_ieq: word at a time agrees with byte at a time");
	ok(http_str_ieq(VD_STR("Transfer-Encoding"), "transfer-encoding"), "str_ieq: case folds");
	ok(!http_str_ieq(VD_STR("Transfer-Encodinf"), "transfer-encoding"), "str_ieq: last byte counts");
	ok(!http_str_ieq(VD_STR("Transfer_Encoding"), "transfer-encoding"), "str_ieq: '_' is not '-'");
	ok(!http_str_ieq(VD_STR("[onnection"), "{onnection"), "str_ieq: '[' is not '{' (bit 5 of a non-letter)");
	ok(!http_str_ieq(VD_STR("connection"), "connection2"), "str_ieq: lengths differ");
	ok(http_str_ieq(VD_STR(""), ""), "str_ieq: empty equals empty");
}

int
main(void)
{
	test_mem_ieq();
	test_request_table();
	test_request_slices();
	test_response();
	test_chunked();
	test_chunk_rules();
	test_chunk_bounds();
	test_chunk_named();
	test_framing();
	test_msg();
	test_methods();
	test_audit();
	return done_testing();
}
