/* http_chunk.c — chunked transfer coding: strict decoder, encoder framing. */
#include "config.h"

#include <string.h>

#include "viaduct.h"
#include "http_chunk.h"
#include "http_parse.h"

enum {
	CH_SIZE = 0,	/* hex digits */
	CH_SIZE_BWS,	/* after the digits: BWS, then ';' or CR */
	CH_EXT,		/* after the first ';': extensions up to CR */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER,	/* start of a trailer line or the final CRLF */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_LAST_LF,
	CH_DONE,
};

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
fail(struct http_chunk *c, const char *why)
{
	c->why = why;
	return VD_ERR;
}

static bool
ctl(unsigned char b)
{
	return (b < 0x20 && b != '\t') || b == 0x7f;
}

/*
 * Trailer fields an origin could take for the head's own (RFC 9110 §6.5.1:
 * framing, routing, connection management), and the proxy credentials
 * that never go beyond us (§11.7.2).  A request relayed verbatim would
 * carry them to an origin that merges trailers into the head, so a request
 * with one is refused.
 */
static bool
head_owned(const char *name, size_t n)
{
	static const char *const no[] = { "content-length", "transfer-encoding",
	    "trailer", "host", "connection", "keep-alive", "upgrade", "te",
	    "proxy-connection", "proxy-authorization" };

	for (size_t i = 0; i < VD_ARRLEN(no); i++)
		if (n == strlen(no[i]) && memcmp(name, no[i], n) == 0)
			return true;
	return false;
}

/* Where in one chunk-ext we are (struct http_chunk.ext). */
enum {
	EX_NAME0 = 0,	/* after ';': BWS, then the name */
	EX_NAME,
	EX_AFTER_NAME,	/* BWS, then '=', ';' or CR */
	EX_VAL0,	/* after '=': BWS, then a token or a quoted-string */
	EX_TOKEN,
	EX_QUOTED,
	EX_QUOTED_PAIR,
	EX_AFTER_VAL,	/* BWS, then ';' or CR */
};

/* Between extensions: BWS, the next ';', CR; '=' only after a name. */
static int
ext_sep(struct http_chunk *c, unsigned char b)
{
	if (b == ' ' || b == '\t')
		return VD_AGAIN;
	if (b == ';') {
		c->ext = EX_NAME0;
		return VD_AGAIN;
	}
	if (b == '=' && c->ext == EX_AFTER_NAME) {
		c->ext = EX_VAL0;
		return VD_AGAIN;
	}
	if (b == '\r') {
		c->state = CH_SIZE_LF;
		return VD_AGAIN;
	}
	return fail(c, ctl(b) ? "control byte in chunk extension" : "invalid chunk extension");
}

/*
 * chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
 * a token name and a token or quoted-string value (RFC 9112 §7.1.1).  The
 * extensions are relayed as they came, so one the next hop could end
 * elsewhere (an open quote, a stray '"' or '=') is refused, not passed on.
 */
static int
ext_byte(struct http_chunk *c, unsigned char b)
{
	switch (c->ext) {
	case EX_NAME0:
	case EX_VAL0:
		if (b == ' ' || b == '\t')
			return VD_AGAIN;
		if (c->ext == EX_VAL0 && b == '"') {
			c->ext = EX_QUOTED;
			return VD_AGAIN;
		}
		if (!http_tchar[b])	/* CR: a name or a value is missing */
			return fail(c, ctl(b) && b != '\r' ? "control byte in chunk extension" :
			    "invalid chunk extension");
		c->ext = c->ext == EX_NAME0 ? EX_NAME : EX_TOKEN;
		return VD_AGAIN;
	case EX_NAME:
	case EX_TOKEN:
		if (http_tchar[b])
			return VD_AGAIN;
		c->ext = c->ext == EX_NAME ? EX_AFTER_NAME : EX_AFTER_VAL;
		return ext_sep(c, b);
	case EX_QUOTED:
		if (b == '"')
			c->ext = EX_AFTER_VAL;
		else if (b == '\\')
			c->ext = EX_QUOTED_PAIR;
		else if (ctl(b))
			return fail(c, "control byte in chunk extension");
		return VD_AGAIN;
	case EX_QUOTED_PAIR:
		if (ctl(b))
			return fail(c, "control byte in chunk extension");
		c->ext = EX_QUOTED;
		return VD_AGAIN;
	}
	return ext_sep(c, b);		/* EX_AFTER_NAME, EX_AFTER_VAL */
}

/* The chunk-size line (RFC 9112 §7.1, §7.1.1): chunk-size [ chunk-ext ] CRLF
 * where chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ).  After the
 * digits only BWS, then ';' or CR: "5 x" would be read by another parser
 * as a size, a chunk, or an error, so it is refused. */
static int
size_byte(struct http_chunk *c, unsigned char b)
{
	int h;

	switch (c->state) {
	case CH_SIZE:
		if ((h = hexval(b)) >= 0) {
			if (++c->digits > 15)
				return fail(c, "chunk size too large");
			c->left = c->left * 16 + (uint64_t)h;
			return VD_AGAIN;
		}
		if (c->digits == 0)
			return fail(c, "chunk size is not hex");
		c->state = CH_SIZE_BWS;
		/* FALLTHROUGH */
	case CH_SIZE_BWS:
		if (b == '\r') {
			c->state = CH_SIZE_LF;
			return VD_AGAIN;
		}
		if (b == ';') {
			c->state = CH_EXT;
			c->ext = EX_NAME0;
		} else if (b != ' ' && b != '\t') {
			return fail(c, "junk after chunk size");
		}
		break;
	case CH_EXT:
		if (ext_byte(c, b) != VD_AGAIN)
			return VD_ERR;
		break;
	}
	if (c->line > HTTP_CHUNK_MAX_LINE)
		return fail(c, "chunk size line too long");
	return VD_AGAIN;
}

/* The name of a trailer field, up to its colon, checked like a header
 * field's (RFC 9112 §5.1): a token, no whitespace before the colon. */
static int
trailer_name(struct http_chunk *c, unsigned char b)
{
	if (b == ':') {
		if (c->nlen == 0)
			return fail(c, "empty trailer field name");
		if (c->request && c->nlen <= sizeof(c->name) &&
		    head_owned(c->name, c->nlen))
			return fail(c, "forbidden field in the trailer section");
		/* RFC 9110 §7.6.1: it would have to go, and a trailer relayed
		 * verbatim cannot lose a line: the request is refused */
		if (c->request && c->named != NULL &&
		    c->named(c->named_arg, c->name, c->nlen < sizeof(c->name) ? c->nlen : sizeof(c->name)))
			return fail(c, "trailer field named by Connection");
		c->state = CH_TRAILER_VALUE;
		return VD_AGAIN;
	}
	if (b == ' ' || b == '\t')
		return fail(c, "whitespace between trailer field name and colon");
	if (b == '\r')
		return fail(c, "trailer field without a colon");
	if (!http_tchar[b])
		return fail(c, "invalid trailer field name");
	/* longer names are kept counted, not stored: none of them is forbidden */
	if (c->nlen < sizeof(c->name))
		c->name[c->nlen] = (char)(b >= 'A' && b <= 'Z' ? b + 32 : b);
	if (c->nlen <= sizeof(c->name))
		c->nlen++;
	return VD_AGAIN;
}

/* The trailer section (RFC 9112 §7.1.2): field lines, then CRLF. */
static int
trailer_byte(struct http_chunk *c, unsigned char b)
{
	if (c->state == CH_TRAILER) {
		if (b == '\r') {
			c->state = CH_LAST_LF;
			return VD_AGAIN;
		}
		if (b == ' ' || b == '\t')
			return fail(c, "obs-fold in trailer");
		c->state = CH_TRAILER_NAME;
		c->nlen = 0;
	}
	if (++c->trailer > HTTP_CHUNK_MAX_TRAILER)
		return fail(c, "trailer section too large");
	if (c->state == CH_TRAILER_NAME)
		return trailer_name(c, b);
	if (b == '\r')
		c->state = CH_TRAILER_LF;
	else if (ctl(b))
		return fail(c, "control byte in trailer");
	return VD_AGAIN;
}

/* One byte of framing (not data).  VD_AGAIN to go on, VD_DONE, VD_ERR. */
static int
frame_byte(struct http_chunk *c, unsigned char b)
{
	switch (c->state) {
	case CH_SIZE:
	case CH_SIZE_BWS:
	case CH_EXT:
		return size_byte(c, b);
	case CH_SIZE_LF:
		if (b != '\n')
			return fail(c, "bare CR in chunk size line");
		c->line = 0;
		c->digits = 0;
		c->state = c->left ? CH_DATA : CH_TRAILER;
		return VD_AGAIN;
	case CH_DATA_CR:
		if (b != '\r')
			return fail(c, "chunk data longer than its size");
		c->state = CH_DATA_LF;
		return VD_AGAIN;
	case CH_DATA_LF:
		if (b != '\n')
			return fail(c, "missing LF after chunk data");
		c->state = CH_SIZE;
		c->line = 0;
		return VD_AGAIN;
	case CH_TRAILER:
	case CH_TRAILER_NAME:
	case CH_TRAILER_VALUE:
		return trailer_byte(c, b);
	case CH_TRAILER_LF:
		if (b != '\n')
			return fail(c, "bare CR in trailer");
		c->state = CH_TRAILER;
		return VD_AGAIN;
	case CH_LAST_LF:
		if (b != '\n')
			return fail(c, "bare CR after last chunk");
		c->state = CH_DONE;
		return VD_DONE;
	}
	return fail(c, "chunked body already ended");
}
int
http_chunk_decode(struct http_chunk *c, const char *in, size_t len,
    size_t *consumed, size_t *data_off, size_t *data_len)
{
	size_t i = 0;
	int rc;

	*data_off = 0;
	*data_len = 0;
	while (i < len) {
		if (c->state == CH_DATA) {
			size_t n = len - i;
			if (n > c->left)
				n = (size_t)c->left;
			*data_off = i;
			*data_len = n;
			c->left -= n;
			if (c->left == 0)
				c->state = CH_DATA_CR;
			*consumed = i + n;
			return VD_OK;
		}
		c->line++;
		rc = frame_byte(c, (unsigned char)in[i++]);
		if (rc != VD_AGAIN) {
			*consumed = i;
			return rc;
		}
	}
	*consumed = i;
	return VD_AGAIN;
}

size_t
http_chunk_header(char *buf, uint64_t n)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[16];
	size_t k = 0, i = 0;

	do {
		tmp[k++] = hex[n & 15];
		n >>= 4;
	} while (n != 0);
	while (k > 0)
		buf[i++] = tmp[--k];
	buf[i++] = '\r';
	buf[i++] = '\n';
	return i;
}
