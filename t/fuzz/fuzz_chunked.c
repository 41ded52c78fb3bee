/* fuzz_chunked.c — the chunked decoder: consumed bytes and data spans stay
 * inside the input, data never exceeds the input, feeding the input in two
 * pieces gives the same data and the same verdict as feeding it whole, and
 * a request's decoder only ever refuses more than a response's. */
#include "config.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "viaduct.h"
#include "http_chunk.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run(const char *in, size_t size, size_t split, bool req, char *data, size_t *dlen,
    size_t *used)
{
	struct http_chunk c;
	size_t pos = 0;
	int rc = VD_AGAIN;

	memset(&c, 0, sizeof(c));
	c.request = req;
	*dlen = 0;
	while (pos < size) {
		size_t end = pos < split ? split : size, cons, off, len;
		rc = http_chunk_decode(&c, in + pos, end - pos, &cons, &off, &len);
		assert(cons <= end - pos);
		assert(len == 0 || off + len <= cons);
		assert(rc == VD_ERR || cons > 0);
		memcpy(data + *dlen, in + pos + off, len);
		*dlen += len;
		pos += cons;
		if (rc == VD_DONE || rc == VD_ERR)
			break;
	}
	*used = pos;
	return rc == VD_OK ? VD_AGAIN : rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char d1[1 << 20], d2[1 << 20];
	size_t l1, l2, u1, u2;
	int r1, r2;

	if (size > sizeof(d1))
		return 0;
	r1 = run((const char *)data, size, size, false, d1, &l1, &u1);
	r2 = run((const char *)data, size, size / 3, false, d2, &l2, &u2);
	assert(l1 <= size);
	assert(r1 == r2);
	if (r1 != VD_ERR) {
		assert(l1 == l2 && memcmp(d1, d2, l1) == 0);
		assert(u1 == u2);
	}
	/* the request's check only looks at trailer names: what it accepts,
	 * the response's decoder accepts the same way */
	r2 = run((const char *)data, size, size / 2, true, d2, &l2, &u2);
	if (r2 != VD_ERR) {
		assert(r2 == r1);
		assert(l1 == l2 && memcmp(d1, d2, l1) == 0 && u1 == u2);
	}
	return 0;
}
