/*
 * http_chunk.h — the chunked transfer coding (RFC 9112 §7.1): a strict,
 * resumable decoder and the encoder's framing.
 *
 * The decoder never copies: it tells the caller how many input bytes it
 * consumed and which of them (at most one span per call) are chunk data.
 * A proxy relaying chunked-to-chunked forwards the consumed bytes verbatim
 * (extensions and trailers included); one that de-chunks forwards only the
 * data spans.  Chunk sizes are hex digits only (no sign, no spaces, no
 * "0x"), at most 15 digits, followed by nothing but BWS before ';' or CRLF;
 * extensions are relayed but must follow their grammar (a token name, a
 * token or quoted-string value, no control byte but HTAB); trailer lines
 * are checked like header lines (a token name, its colon, no obs-fold, no
 * control byte but HTAB) and bounded.  A request body's decoder (request
 * set) also refuses the trailer fields the head owns: framing, Host and
 * connection management (RFC 9110 §6.5.1).
 */
#ifndef VD_HTTP_CHUNK_H
#define VD_HTTP_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_CHUNK_MAX_LINE	4096	/* size line incl. extensions */
#define HTTP_CHUNK_MAX_TRAILER	16384	/* all trailer lines together */

struct http_chunk {
	int		 state;		/* 0 at the start of a body */
	uint64_t	 left;		/* data bytes left in this chunk */
	size_t		 line;		/* bytes in the current size/trailer line */
	size_t		 trailer;	/* trailer bytes so far */
	int		 digits;
	uint8_t		 ext;		/* where in a chunk extension */
	bool		 request;	/* set by the caller before the first byte */
	/* a request's: is this trailer name (lower case) one its Connection
	 * field names?  NULL: none asked.  Names beyond sizeof name are cut. */
	bool		(*named)(void *arg, const char *name, size_t n);
	void		*named_arg;
	uint8_t		 nlen;		/* trailer name bytes (capped at sizeof name + 1) */
	char		 name[64];	/* ... lower case, for the request check */
	const char	*why;		/* on VD_ERR */
};

/*
 * Zero the struct at the start of a body (and set request for a request's),
 * then consume input.  Returns VD_AGAIN (all of it consumed, the body goes
 * on), VD_OK (stopped after a data span: call again with the rest),
 * VD_DONE (the body ended; input beyond *consumed belongs to the next
 * message), VD_ERR (why set).  *data_off and *data_len: the data span within
 * the consumed bytes (len 0 when none).
 */
int	http_chunk_decode(struct http_chunk *, const char *in, size_t len,
	    size_t *consumed, size_t *data_off, size_t *data_len);

/* "<hex>\r\n" for a chunk of n > 0 bytes into buf (>= 20 bytes); its length. */
size_t	http_chunk_header(char *buf, uint64_t n);

#define HTTP_CHUNK_LAST	"0\r\n\r\n"

#endif
