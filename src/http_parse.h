/*
 * http_parse.h — HTTP/1.1 request and response heads into slices.
 *
 * Pure functions: no I/O, no allocation, no global state.  Every slice
 * (struct vd_str) points into the caller's buffer, which must stay put while
 * the slices are used.  The parsers are restartable: call again with the
 * same buffer grown by newly read bytes; `scan` in the message remembers how
 * far the search for the end of the head got, so a head arriving byte by
 * byte costs O(n) in total.
 *
 * Strict by design (RFC 9112 §2-5, RFC 9110 §5): CRLF line endings only
 * (a bare CR or LF is an error), single SP separators in the start line,
 * no whitespace between a field name and its colon, no obs-fold, no NUL or
 * other control byte in a field value (HTAB allowed).  Errors set `status`
 * (the code the client should get) and `why` (a static string for the log).
 */
#ifndef VD_HTTP_PARSE_H
#define VD_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "viaduct.h"

struct http_field {
	struct vd_str	 name;
	struct vd_str	 value;		/* OWS trimmed both sides */
};

struct http_limits {
	size_t		 max_line;	/* request line (414) / status line */
	size_t		 max_head;	/* whole head incl. start line (431) */
	int		 max_fields;	/* field lines (431); <= the fields array */
};

enum http_form {
	HTTP_FORM_ORIGIN,	/* /path?query */
	HTTP_FORM_ABSOLUTE,	/* http://host:port/path?query */
	HTTP_FORM_AUTHORITY,	/* CONNECT host:port */
	HTTP_FORM_ASTERISK,	/* OPTIONS * */
};

/* Zero the whole struct, set `fields`, then call the parser until it stops
 * returning VD_AGAIN. */
struct http_req {
	struct http_field *fields;	/* at least limits->max_fields entries */
	size_t		 scan;		/* private: end-of-head search position */
	size_t		 line1;		/* private: end of the start line, 0 unknown */

	/* results */
	struct vd_str	 method;
	struct vd_str	 target;	/* as received */
	enum http_form	 form;
	int		 version;	/* 10 or 11 */
	struct vd_str	 scheme;	/* absolute-form only */
	struct vd_str	 authority;	/* absolute/authority-form: host[:port] */
	struct vd_str	 host;		/* from the target (absolute, authority) */
	uint16_t	 port;		/* from the target, or the scheme's default */
	struct vd_str	 path;		/* path + query; absolute-form: may be empty */
	int		 nfields;
	int		 host_field;	/* index of Host in fields, -1 if none */
	size_t		 head_len;	/* bytes of the head incl. the blank line */

	int		 status;	/* on VD_ERR: 400, 414, 431, 501, 505 */
	const char	*why;
};

struct http_resp {
	struct http_field *fields;
	size_t		 scan;
	size_t		 line1;

	int		 version;	/* 10 or 11 */
	int		 status;	/* 100..999 */
	struct vd_str	 reason;
	int		 nfields;
	size_t		 head_len;

	const char	*why;		/* on VD_ERR */
};

/*
 * VD_OK: a complete head (head_len set); VD_AGAIN: need more bytes (limits
 * already checked on what is there); VD_ERR: status and why set.
 */
int	http_parse_request(struct http_req *, const char *buf, size_t len,
	    const struct http_limits *);
int	http_parse_response(struct http_resp *, const char *buf, size_t len,
	    const struct http_limits *);

/* host[:port] (reg-name, IPv4 or [IPv6]); VD_OK or VD_ERR. */
int	http_parse_authority(const char *p, size_t len, uint16_t default_port,
	    struct vd_str *host, uint16_t *port);

/* RFC 9110 §5.6.2 tchar. */
extern const uint8_t http_tchar[256];

/* Case-insensitive ASCII equality of n bytes. */
bool	http_mem_ieq(const char *a, const char *b, size_t n);

/* s is the n bytes of lit, ASCII case-insensitively.  First bytes that
 * differ in more than bit 5 (the case bit) settle it without a call. */
static inline bool
http_ieq_n(struct vd_str s, const char *lit, size_t n)
{
	return s.len == n && (n == 0 ||
	    (((unsigned char)s.p[0] ^ (unsigned char)lit[0]) & ~0x20) == 0) &&
	    http_mem_ieq(s.p, lit, n);
}

/*
 * s equals the NUL-terminated lit, ASCII case-insensitively.  Inline so that
 * strlen of a literal folds to a constant: most calls (a field name against
 * each name a caller looks for) end at the length check.
 */
static inline bool
http_str_ieq(struct vd_str s, const char *lit)
{
	return http_ieq_n(s, lit, strlen(lit));
}

/* The method is lit, byte for byte: RFC 9110 §9.1, the method token is
 * case-sensitive ("head" is an extension method, not HEAD, and its
 * response has a body). */
static inline bool
http_method_is(struct vd_str m, const char *lit)
{
	size_t n = strlen(lit);

	return m.len == n && memcmp(m.p, lit, n) == 0;
}

/* Find the first field named `name` (case-insensitive) at or after `from`;
 * -1.  Inline for the same reason as http_str_ieq. */
static inline int
http_field_find(const struct http_field *f, int n, const char *name, int from)
{
	size_t len = strlen(name);

	for (int i = from; i < n; i++)
		if (http_ieq_n(f[i].name, name, len))
			return i;
	return -1;
}

#endif
