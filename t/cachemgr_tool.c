/*
 * cachemgr_tool — t/62-cachemgr.t's helper; opens the cache store in DIR as
 * any process would (its own LMDB environment, after no fork).
 *
 *   cachemgr_tool hold DIR         begin a read txn, hold it, print
 *                                  "ready <pid>", wait to be killed (a
 *                                  SIGKILL leaves a stale reader slot)
 *   cachemgr_tool fill DIR N SIZE  store N objects http://fill.test/<i> of
 *                                  SIZE body bytes, object i stored at
 *                                  now - N + i (so 0 is the least recent)
 *   cachemgr_tool has DIR URL      exit 0 if URL is in the index, 1 if not
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache_store.h"
#include "viaduct.h"

static int
hold(struct cache_store *cs)
{
	struct cache_reader r;
	struct cache_key k;
	struct cache_obj o;
	int rc;

	if (cache_reader_init(cs, &r) != VD_OK)
		return 1;
	memset(&k, 0, sizeof(k));
	rc = cache_store_lookup(&r, &k, NULL, 0, &o);	/* the txn stays active */
	if (rc != VD_OK && rc != VD_DECLINED)
		return 1;
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}

static int
fill(struct cache_store *cs, int n, size_t size)
{
	int64_t now = time(NULL);
	struct cache_obj o;
	struct cache_key k;
	char url[64], *body;

	if ((body = malloc(size + 1)) == NULL)
		return 1;
	memset(body, 'f', size);
	for (int i = 0; i < n; i++) {
		snprintf(url, sizeof(url), "http://fill.test/%d", i);
		memset(&o, 0, sizeof(o));
		o.resp.status = 200;
		o.resp.request_time = o.resp.response_time = o.resp.date = now - n + i;
		o.resp.expires = o.resp.last_modified = CACHE_TIME_UNSET;
		cache_cc_init(&o.resp.cc);
		o.resp.cc.max_age = 86400;
		o.url = (struct vd_str){ url, strlen(url) };
		o.body = (struct vd_str){ body, size };
		o.body_size = size;
		cache_key_primary(url, strlen(url), &k);
		if (cache_store_put(cs, &k, &o) != VD_OK)
			return 1;
	}
	free(body);
	return 0;
}

static int
has(struct cache_store *cs, const char *url)
{
	struct cache_reader r;
	struct cache_key k;
	struct cache_obj o;
	int rc;

	if (cache_reader_init(cs, &r) != VD_OK)
		return 2;
	cache_key_primary(url, strlen(url), &k);
	rc = cache_store_lookup(&r, &k, url, strlen(url), &o) == VD_OK ? 0 : 1;
	cache_reader_free(&r);
	return rc;
}

int
main(int argc, char **argv)
{
	struct cache_store_conf c = { 0 };
	struct cache_store cs;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: cachemgr_tool hold|fill|has DIR ...\n");
		return 2;
	}
	c.path = argv[2];
	c.map_size = 64 << 20;		/* an existing, larger map is adopted */
	c.inline_max = 1 << 20;
	c.read_only = strcmp(argv[1], "fill") != 0;
	if (cache_store_open(&cs, &c) != VD_OK)
		return 2;
	if (strcmp(argv[1], "hold") == 0)
		return hold(&cs);
	if (strcmp(argv[1], "fill") == 0 && argc == 5)
		rc = fill(&cs, atoi(argv[3]), (size_t)atol(argv[4]));
	else if (strcmp(argv[1], "has") == 0 && argc == 4)
		rc = has(&cs, argv[3]);
	else
		rc = 2;
	cache_store_close(&cs);
	return rc;
}
