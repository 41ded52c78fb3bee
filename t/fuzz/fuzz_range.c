/* fuzz_range.c — the Range and If-Range evaluators on arbitrary bytes: they
 * never read outside the input, and a range they accept lies inside the
 * object (first + count <= size, count >= 1). */
#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct.h"
#include "cache_policy.h"
#include "cache_range.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t sizes[] = { 0, 1, 100, 65536, UINT64_MAX / 2 };
	struct vd_str etag = VD_STR("\"v1\"");
	char *copy;

	/* an exact-size copy, so that ASan sees any read past the end */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t f = 0, n = 0;
		enum cache_range r = cache_range_eval(copy, size, sizes[i], &f, &n);

		assert(r >= CACHE_RANGE_NONE && r <= CACHE_RANGE_UNSATISFIABLE);
		if (r == CACHE_RANGE_ONE || r == CACHE_RANGE_MULTI) {
			assert(n >= 1 && f < sizes[i] && n <= sizes[i] - f);
		}
	}
	(void)cache_if_range_ok(copy, size, &etag, 1700000000, 1700000010, 1700000100);
	free(copy);
	return 0;
}
