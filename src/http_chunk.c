/* http_chunk.c — chunked transfer coding: strict decoder, encoder framing. */
#include "config.h"

#include "viaduct.h"
#include "http_chunk.h"

enum {
	CH_SIZE = 0,	/* hex digits */
	CH_EXT,		/* after the size: extensions up to CR */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER,	/* start of a trailer line or the final CRLF */
	CH_TRAILER_LINE,
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

/* One byte of framing (not data).  VD_AGAIN to go on, VD_DONE, VD_ERR. */
static int
frame_byte(struct http_chunk *c, unsigned char b)
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
		c->state = CH_EXT;
		/* FALLTHROUGH */
	case CH_EXT:
		if (b == '\r') {
			c->state = CH_SIZE_LF;
			return VD_AGAIN;
		}
		/* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ): must start with BWS or ';' */
		if ((b < 0x20 && b != '\t') || b == 0x7f)
			return fail(c, "control byte in chunk extension");
		if (c->line == c->digits + 1u && b != ';' && b != ' ' && b != '\t')
			return fail(c, "junk after chunk size");
		if (c->line > HTTP_CHUNK_MAX_LINE)
			return fail(c, "chunk extension too long");
		return VD_AGAIN;
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
		if (b == '\r') {
			c->state = CH_LAST_LF;
			return VD_AGAIN;
		}
		if (b == ' ' || b == '\t')
			return fail(c, "obs-fold in trailer");
		c->state = CH_TRAILER_LINE;
		/* FALLTHROUGH */
	case CH_TRAILER_LINE:
		if (++c->trailer > HTTP_CHUNK_MAX_TRAILER)
			return fail(c, "trailer section too large");
		if (b == '\r')
			c->state = CH_TRAILER_LF;
		else if ((b < 0x20 && b != '\t') || b == 0x7f)
			return fail(c, "control byte in trailer");
		return VD_AGAIN;
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
