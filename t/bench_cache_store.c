/*
 * bench_cache_store.c — lookup cost of the LMDB index at 1,000 and at
 * 1,000,000 entries (issue 6: within 1.3x).  Built by hand only:
 *   make t/bench_cache_store && t/bench_cache_store [dir]
 * dir defaults to /dev/shm (cache-on-disk=no).  Each lookup is what a
 * hit costs in a worker: renew the read txn, mdb_get, decode the record,
 * compare the URL, reset.  Keys are looked up in random order.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache_store.h"

#define LOOKUPS	2000000

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
run(const char *base, int n)
{
	static const char head[] = "Content-Type: text/html\r\nETag: \"abcdef\"\r\n"
	    "Cache-Control: max-age=3600\r\n";
	char dir[512], url[64], cmd[600];
	struct cache_store cs;
	struct cache_store_conf c = { dir, (size_t)4 << 30, 126, 16384, false };
	struct cache_reader r;
	struct cache_obj o, got;
	struct cache_key k, *keys;
	int *idx, i, miss = 0, pass;
	double t0, ins, look = 0;

	snprintf(dir, sizeof(dir), "%s/vd-bench-%d-%d", base, (int)getpid(), n);
	if (cache_store_open(&cs, &c) != VD_OK)
		return 1;
	keys = calloc((size_t)n, sizeof(*keys));
	idx = calloc(LOOKUPS, sizeof(*idx));
	memset(&o, 0, sizeof(o));
	o.resp.status = 200;
	cache_cc_init(&o.resp.cc);
	o.head = (struct vd_str){ head, sizeof(head) - 1 };
	o.body = VD_STR("0123456789");
	o.body_size = o.body.len;
	t0 = now();
	for (i = 0; i < n; i++) {
		int len = snprintf(url, sizeof(url), "http://bench.example/obj/%d", i);
		o.url = (struct vd_str){ url, (size_t)len };
		cache_key_primary(url, (size_t)len, &keys[i]);
		if (cache_store_put(&cs, &keys[i], &o) != VD_OK)
			return 1;
	}
	ins = now() - t0;
	cache_reader_init(&cs, &r);
	/*
	 * pass 0: uniform over all n keys (worst case: every lookup a fresh
	 * leaf page); pass 1: a hot set of 1,000 keys spread over the whole
	 * store (the skewed popularity a cache actually sees); pass 2: the
	 * same with one read txn kept (what renew + reset cost).
	 */
	for (pass = 0; pass < 3; pass++) {
	srandom(42);
	for (i = 0; i < LOOKUPS; i++)
		idx[i] = pass == 0 ? (int)(random() % n) :
		    (int)((random() % 1000) * (n / 1000));
	miss = 0;
	t0 = now();
	for (i = 0; i < LOOKUPS; i++) {
		/* the URL is rebuilt per lookup as the request path would have it */
		int len = snprintf(url, sizeof(url), "http://bench.example/obj/%d", idx[i]);
		k = keys[idx[i]];
		if (cache_store_lookup(&r, &k, url, (size_t)len, &got) != VD_OK)
			miss++;
		if (pass < 2)
			cache_reader_reset(&r);
	}
	cache_reader_reset(&r);
	look = now() - t0;
	printf("%9d entries: insert %.2f us/op, lookup %.0f ns/op %s (%d misses)\n", n,
	    ins / n * 1e6, look / LOOKUPS * 1e9, pass == 0 ? "uniform" :
	    pass == 1 ? "hot set of 1,000" : "hot set, txn kept",
	    miss);
	}
	cache_reader_free(&r);
	cache_store_close(&cs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	free(keys);
	free(idx);
	return system(cmd) != 0 || miss != 0;
}

int
main(int argc, char **argv)
{
	const char *base = argc > 1 ? argv[1] : "/dev/shm";

	return run(base, 1000) || run(base, 1000000);
}
