/*
 * t/71-ctl-cache.t's helper: store objects through cache_store's API (the
 * cache is not wired into the request path yet).
 *   ctl_cache_fill DIR URL SIZE ATIME LASTMOD EXPIRES [URL SIZE ...]
 * times are unix seconds, 0 = unset; bodies are SIZE bytes of 'b', inline.
 * The objects have no Date, as a version before Date was added on storing
 * (RFC 9110 §6.6.1) kept them: the hit adds one.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "viaduct.h"
#include "cache_key.h"
#include "cache_store.h"

int
main(int argc, char **argv)
{
	struct cache_store_conf c = { 0 };
	struct cache_store cs;
	struct cache_obj o;
	struct cache_key k;
	char nurl[4096], *body;
	size_t nlen, size;

	if (argc < 7 || (argc - 2) % 5 != 0) {
		fprintf(stderr, "usage: ctl_cache_fill DIR URL SIZE ATIME LASTMOD EXPIRES ...\n");
		return 2;
	}
	c.path = argv[1];
	c.map_size = 64 << 20;
	c.max_readers = 126;
	c.inline_max = 1 << 20;
	if (cache_store_open(&cs, &c) != VD_OK)
		return 2;
	for (int i = 2; i + 4 < argc; i += 5) {
		int64_t at = atoll(argv[i + 2]), lm = atoll(argv[i + 3]), ex = atoll(argv[i + 4]);

		size = (size_t)atol(argv[i + 1]);
		if (cache_key_url_norm(argv[i], strlen(argv[i]), nurl, sizeof(nurl), &nlen) != VD_OK ||
		    (body = malloc(size + 1)) == NULL)
			return 2;
		memset(body, 'b', size);
		memset(&o, 0, sizeof(o));
		o.resp.status = 200;
		o.resp.request_time = o.resp.response_time = time(NULL);
		o.resp.date = CACHE_TIME_UNSET;
		o.resp.expires = ex > 0 ? ex : CACHE_TIME_UNSET;
		o.resp.last_modified = lm > 0 ? lm : CACHE_TIME_UNSET;
		cache_cc_init(&o.resp.cc);
		o.resp.cc.max_age = 86400;
		o.last_access = at;
		o.url = (struct vd_str){ nurl, nlen };
		o.body = (struct vd_str){ body, size };
		o.body_size = size;
		cache_key_primary(nurl, nlen, &k);
		if (cache_store_put(&cs, &k, &o) != VD_OK)
			return 1;
		free(body);
	}
	cache_store_close(&cs);
	return 0;
}
