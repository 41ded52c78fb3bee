/*
 * cache_rww.h — read-while-writer (issue 6): a request that waits for
 * another request's fetch of the same object (cache_collapse.h), in any
 * worker, streams the body from the fetch's temp body file as it is
 * written instead of waiting for the whole object to be stored.
 *
 * The writer (the fetcher, in cache_wait.c), once its body goes to a file:
 *   - creates the head file beside the temp body (cache_body_head_create)
 *     and writes it whole: a fixed part (magic, the end word, the origin's
 *     Content-Length or unknown, the key the object will be stored at)
 *     followed by the object's record (cache_rec_encode: status, stored
 *     head, times, directives, URL, Vary);
 *   - then publishes the file in its collapse entry (collapse_stream) and
 *     raises the count of bytes written as it writes (collapse_progress);
 *   - at the end of a complete body writes the end word (complete, size)
 *     into the head file, says DONE (collapse_complete) and commits.  An
 *     abort writes nothing: the entry vanishes, the end word stays "not
 *     complete".
 * A waiter opens both files (the descriptors stay valid after the rename
 * or the unlink), checks that the object is the one its own request would
 * be served, sends the head and then whatever is published, with sendfile,
 * sleeping while it has caught up until the writer's next move wakes it
 * (cache_collapse.h).  When the entry
 * vanishes, the end word read from its own descriptor says whether the
 * body was complete; if not, a response already started is cut (the
 * caller closes the connection), never padded.
 *
 * Framing of the waiter's response: Content-Length when the origin gave
 * one (and then a Range is answered as on a hit: 206 with the bytes as
 * they come, or 416); else chunked to an HTTP/1.1 client and
 * close-delimited to 1.0.
 *
 * The codec is pure; the send runs in a worker's loop and never blocks.
 */
#ifndef VD_CACHE_RWW_H
#define VD_CACHE_RWW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache_collapse.h"
#include "cache_key.h"
#include "cache_store.h"

#define CACHE_RWW_FIXED		48	/* bytes before the record */
#define CACHE_RWW_END_OFF	8	/* the end word: 16 bytes here */
#define CACHE_RWW_UNKNOWN	UINT64_MAX	/* no Content-Length */
#define CACHE_RWW_CHUNK_MAX	24	/* "\r\n" + 16 hex digits + "\r\n\r\n" */

struct cache_rww_head {
	uint64_t	 length;	/* Content-Length, or CACHE_RWW_UNKNOWN */
	struct cache_key key;		/* where the object will be stored */
	struct cache_obj obj;		/* its slices point into the decoded bytes */
};

/* The head file of obj (to be stored at key).  size: bytes needed. */
size_t	cache_rww_head_size(const struct cache_obj *);
void	cache_rww_head_encode(const struct cache_obj *, const struct cache_key *,
	    uint64_t length, uint8_t *buf);
/* VD_OK, or VD_ERR for anything that is not a whole head file. */
int	cache_rww_head_decode(const uint8_t *, size_t, struct cache_rww_head *);
/* The end word: complete, size bytes.  decode: VD_OK complete (*size), VD_DECLINED not. */
void	cache_rww_end_encode(uint64_t size, uint8_t b[16]);
int	cache_rww_end_decode(const uint8_t b[16], uint64_t *size);
/*
 * Chunked framing: the header of a chunk of n > 0 bytes, or for n == 0 the
 * last chunk and the empty trailer; after: a chunk before it needs its
 * CRLF.  buf holds CACHE_RWW_CHUNK_MAX bytes; returns the length.
 */
size_t	cache_rww_chunk(char *buf, uint64_t n, bool after);

/* The writer's side: the whole head file at its start; the end word. VD_OK, VD_ERR. */
int	cache_rww_write_head(int fd, const uint8_t *, size_t);
int	cache_rww_write_end(int fd, uint64_t size);
/* A waiter's: VD_OK complete (*size), VD_DECLINED not (aborted, or not yet). */
int	cache_rww_read_end(int fd, uint64_t *size);

/* A waiter streaming one response. */
struct cache_rww {
	bool		 on;
	struct collapse_watch w;
	int		 fd;		/* the temp body, -1 */
	int		 hfd;		/* the head file (its end word), -1 */
	uint64_t	 off;		/* body bytes sent */
	uint64_t	 avail;		/* ... may be sent: [off, avail) is in the file */
	uint64_t	 stop;		/* ... up to here: a range's end, else UINT64_MAX */
	uint64_t	 length;	/* the Content-Length we sent, or CACHE_RWW_UNKNOWN */
	bool		 chunked;	/* we frame it chunked */
	bool		 end;		/* nothing more to queue: done when sent */
};

void	cache_rww_init(struct cache_rww *);
/* Close what it holds; ready for the next request. */
void	cache_rww_close(struct cache_rww *);

struct conn;
/*
 * Send the rest of c->out (the head, or a chunk header), then the body as
 * it is published.  VD_DONE all sent; VD_AGAIN blocked: the client (then
 * c->cl.wr is false) or the writer (nothing new: look again later);
 * VD_DECLINED the fetch ended without a complete body; VD_ERR the client
 * failed.  *out: bytes sent.
 */
int	cache_rww_send(struct conn *, struct cache_rww *, const struct collapse *,
	    uint64_t *out);

#endif
