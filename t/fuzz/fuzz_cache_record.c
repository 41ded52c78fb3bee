/* fuzz_cache_record.c — the stored-record decoder on arbitrary bytes: it
 * rejects or accepts, never reads outside the input, and whatever it
 * accepts re-encodes to exactly the same bytes. */
#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct.h"
#include "cache_store.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
inside(struct vd_str s, const uint8_t *data, size_t size)
{
	assert(s.len <= size);
	assert(s.len == 0 || ((const uint8_t *)s.p >= data &&
	    (const uint8_t *)s.p + s.len <= data + size));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cache_obj o;
	uint8_t *copy;

	if (cache_rec_decode(data, size, &o) != VD_OK)
		return 0;
	inside(o.url, data, size);
	inside(o.head, data, size);
	inside(o.vary, data, size);
	inside(o.etag, data, size);
	inside(o.last_modified, data, size);
	inside(o.body, data, size);
	assert(o.url.len > 0);
	assert((o.flags & CACHE_OBJ_BODY_FILE) ? o.body.len == 0 : o.body.len == o.body_size);
	assert(cache_rec_size(&o) == size);
	copy = malloc(size);
	assert(copy != NULL);
	cache_rec_encode(&o, copy);
	/* reserved bytes of the fixed part are zero on encode; the decoder ignores them */
	assert(memcmp(copy + CACHE_REC_FIXED, data + CACHE_REC_FIXED, size - CACHE_REC_FIXED) == 0);
	free(copy);
	return 0;
}
