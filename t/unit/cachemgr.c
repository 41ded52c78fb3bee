/*
 * Unit tests for src/cachemgr.c: the decisions (pure) and the pass driven
 * step by step against a real LMDB store in a temp directory: eviction to
 * size oldest first, the expiry sweep, orphan body files, temp files,
 * conditional eviction, stale reader slots.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cachemgr.h"
#include "tap.h"

#define T0	1700000000LL

static char dir[256];

static struct cache_obj
mkobj(const char *url, int64_t t, const char *cc, const char *body, size_t blen)
{
	struct cache_obj o;

	memset(&o, 0, sizeof(o));
	o.resp.status = 200;
	o.resp.request_time = t;
	o.resp.response_time = t;
	o.resp.date = t;
	o.resp.expires = CACHE_TIME_UNSET;
	o.resp.last_modified = CACHE_TIME_UNSET;
	cache_cc_init(&o.resp.cc);
	cache_cc_parse(&o.resp.cc, cc, strlen(cc));
	o.url = (struct vd_str){ url, strlen(url) };
	o.head = VD_STR("Content-Type: text/plain\r\n");
	o.body = (struct vd_str){ body, blen };
	o.body_size = blen;
	return o;
}

static void
key(const char *url, struct cache_key *k)
{
	cache_key_primary(url, strlen(url), k);
}

static bool
present(struct cache_store *cs, const char *url)
{
	struct cache_reader r;
	struct cache_key k;
	struct cache_obj o;
	int rc;

	key(url, &k);
	if (cache_reader_init(cs, &r) != VD_OK)
		return false;
	rc = cache_store_lookup(&r, &k, url, strlen(url), &o);
	cache_reader_free(&r);
	return rc == VD_OK;
}

/* Steps until the pass is done (bounded); returns the number of steps or -1. */
static int
run_pass(struct cachemgr *m, int64_t now)
{
	for (int i = 0; i < 100000; i++) {
		int rc = cachemgr_step(m, now);
		if (rc == VD_DONE)
			return i + 1;
		if (rc != VD_AGAIN)
			return -1;
	}
	return -1;
}

static void
test_decisions(void)
{
	struct cache_obj o = mkobj("http://a/", T0, "max-age=100", "xyz", 3);
	struct cache_obj f;
	int64_t mft = 3 * 86400;

	is_int(cachemgr_obj_bytes(&o), 16 + cache_rec_size(&o), "bytes: key + record (inline body)");
	f = o;
	f.flags = CACHE_OBJ_BODY_FILE;
	f.body = (struct vd_str){ NULL, 0 };
	f.body_size = 1000000;
	f.body_file = 42;
	is_int(cachemgr_obj_bytes(&f), 16 + cache_rec_size(&f) + 1000000,
	    "bytes: key + record + body file");
	is_int(cachemgr_access_time(&o), T0, "access time: the store time when never accessed");
	o.last_access = T0 + 50;
	is_int(cachemgr_access_time(&o), T0 + 50, "access time: last_access when recorded");

	ok(!cachemgr_expired(&o, T0 + 99, mft), "expiry: fresh -> kept");
	ok(cachemgr_expired(&o, T0 + 100, mft), "expiry: stale, no validator, no window -> removed");
	o = mkobj("http://a/", T0, "max-age=100, stale-while-revalidate=50", "", 0);
	ok(!cachemgr_expired(&o, T0 + 149, mft), "expiry: within stale-while-revalidate -> kept");
	ok(cachemgr_expired(&o, T0 + 150, mft), "expiry: beyond stale-while-revalidate -> removed");
	o = mkobj("http://a/", T0, "max-age=100, stale-if-error=500", "", 0);
	ok(!cachemgr_expired(&o, T0 + 599, mft), "expiry: within stale-if-error -> kept");
	ok(cachemgr_expired(&o, T0 + 600, mft), "expiry: beyond stale-if-error -> removed");
	o = mkobj("http://a/", T0, "max-age=100", "", 0);
	o.etag = VD_STR("\"v1\"");
	ok(!cachemgr_expired(&o, T0 + 100 + mft - 1, mft),
	    "expiry: stale with an ETag is kept for max-fresh-time (revalidation)");
	ok(cachemgr_expired(&o, T0 + 100 + mft, mft), "expiry: ... then removed");
	o = mkobj("http://a/", T0, "max-age=1000000", "", 0);
	ok(!cachemgr_expired(&o, T0 + mft - 1, mft), "expiry: max-fresh-time caps the lifetime (fresh)");
	ok(cachemgr_expired(&o, T0 + mft, mft), "expiry: max-fresh-time caps the lifetime (stale)");
	o = mkobj("http://a/", T0, "", "", 0);
	o.resp.age_value = 30;
	o.resp.cc.max_age = 60;
	ok(cachemgr_expired(&o, T0 + 30, mft), "expiry: the Age header counts (RFC 9111 4.2.3)");
	o.flags = CACHE_OBJ_VARY;
	ok(!cachemgr_expired(&o, T0 + 1000000, mft), "expiry: Vary markers are left to LRU");

	is_int(cachemgr_low_water(16000), 15000, "low water: 15/16 of max");
	ok(cachemgr_low_water(INT64_MAX) == UINT64_MAX, "low water: unlimited never evicts");
}

static void
test_lru(void)
{
	struct cache_victim buf[10], v;
	struct cachemgr_lru l = { buf, 0, 10, 0 };
	bool sorted = true;
	int i;

	memset(&v, 0, sizeof(v));
	for (i = 0; i < 1000; i++) {
		/* a permutation of 0..999: the 10 oldest are 0..9 */
		v.atime = (i * 619) % 1000;
		cachemgr_lru_offer(&l, &v);
	}
	is_int(l.n, 10, "lru: keeps at most cap candidates");
	cachemgr_lru_sort(&l);
	for (i = 0; i < 10; i++)
		sorted = sorted && buf[i].atime == i;
	ok(sorted, "lru: the cap oldest, oldest first");
}

static void
open_store(struct cache_store *cs, size_t map)
{
	struct cache_store_conf c = { dir, map, 126, 16384, false };

	if (cache_store_open(cs, &c) != VD_OK) {
		printf("Bail out! cannot open store in %s\n", dir);
		exit(1);
	}
}

/* 40 objects of ~1 KiB stored at T0+i; room for about 20. */
static void
test_evict(struct cache_store *cs)
{
	static char urls[40][32];
	char body[1000];
	struct cachemgr m;
	struct cache_key k;
	uint64_t per, n;
	bool oldest_gone = true, newest_kept = true;
	int i, kept = 0;

	memset(body, 'b', sizeof(body));
	for (i = 0; i < 40; i++) {
		snprintf(urls[i], sizeof(urls[i]), "http://evict.test/%02d", i);
		struct cache_obj o = mkobj(urls[i], T0 + i, "max-age=100000", body, sizeof(body));
		key(urls[i], &k);
		if (cache_store_put(cs, &k, &o) != VD_OK)
			break;
	}
	is_int(i, 40, "evict: 40 objects stored");
	{
		struct cache_obj o = mkobj(urls[0], T0, "max-age=100000", body, sizeof(body));
		per = cachemgr_obj_bytes(&o);
	}
	ok(cachemgr_init(&m, cs, (int64_t)(20 * per + per / 2), 3 * 86400) == VD_OK, "evict: init");
	ok(run_pass(&m, T0 + 100) > 0, "evict: a pass completes in steps");
	ok(m.used <= 20 * per + per / 2, "evict: within max-cache-size after the pass");
	ok(m.used <= cachemgr_low_water(m.max_size), "evict: down to low water");
	ok(m.c.evicted >= 20 && m.c.evicted <= 22, "evict: only what was needed was evicted");
	for (i = 0; i < 40; i++) {
		bool p = present(cs, urls[i]);
		kept += p;
		if (i < (int)m.c.evicted && p)
			oldest_gone = false;
		if (i >= (int)m.c.evicted && !p)
			newest_kept = false;
	}
	ok(oldest_gone, "evict: the least recently used went first");
	ok(newest_kept, "evict: the most recently used stayed");
	is_int(kept, 40 - (int)m.c.evicted, "evict: index count matches");
	ok(cache_store_count(cs, &n) == VD_OK && n == (uint64_t)kept, "evict: store count agrees");
	is_int(m.used, (uint64_t)kept * per, "evict: cache-used is the sum of what is left");
	/* a second pass over a store within size removes nothing */
	uint64_t before = m.c.evicted;
	ok(run_pass(&m, T0 + 100) > 0 && m.c.evicted == before, "evict: nothing more when within size");
	cachemgr_free(&m);

	/* last_access wins over the store time: touch the oldest remaining */
	{
		int first = 40 - kept;
		struct cache_obj o = mkobj(urls[first], T0 + first, "max-age=100000", body,
		    sizeof(body));
		o.last_access = T0 + 1000;
		key(urls[first], &k);
		cache_store_put(cs, &k, &o);
		ok(cachemgr_init(&m, cs, (int64_t)(kept - 1) * (int64_t)per, 3 * 86400) == VD_OK &&
		    run_pass(&m, T0 + 100) > 0, "lru: pass with a smaller size");
		ok(present(cs, urls[first]), "lru: a recently accessed old object survives");
		ok(!present(cs, urls[first + 1]), "lru: the next oldest goes instead");
		cachemgr_free(&m);
	}
	for (i = 0; i < 40; i++) {
		key(urls[i], &k);
		cache_store_delete(cs, &k);
	}
}

static void
test_expiry(struct cache_store *cs)
{
	struct cache_key k;
	struct cache_obj o;
	struct cachemgr m;

	o = mkobj("http://exp.test/stale", T0, "max-age=10", "x", 1);
	key("http://exp.test/stale", &k);
	cache_store_put(cs, &k, &o);
	o = mkobj("http://exp.test/fresh", T0, "max-age=1000", "x", 1);
	key("http://exp.test/fresh", &k);
	cache_store_put(cs, &k, &o);
	o = mkobj("http://exp.test/etag", T0, "max-age=10", "x", 1);
	o.etag = VD_STR("\"e\"");
	key("http://exp.test/etag", &k);
	cache_store_put(cs, &k, &o);
	o = mkobj("http://exp.test/sie", T0, "max-age=10, stale-if-error=3600", "x", 1);
	key("http://exp.test/sie", &k);
	cache_store_put(cs, &k, &o);

	ok(cachemgr_init(&m, cs, INT64_MAX, 3 * 86400) == VD_OK && run_pass(&m, T0 + 100) > 0,
	    "expiry: pass (unlimited size)");
	is_int(m.c.expired, 1, "expiry: one object removed");
	ok(!present(cs, "http://exp.test/stale"), "expiry: stale without validator or window: gone");
	ok(present(cs, "http://exp.test/fresh"), "expiry: fresh: kept");
	ok(present(cs, "http://exp.test/etag"), "expiry: stale with a validator: kept");
	ok(present(cs, "http://exp.test/sie"), "expiry: within stale-if-error: kept");
	is_int(m.c.evicted, 0, "expiry: unlimited size never evicts");
	cachemgr_free(&m);
	key("http://exp.test/fresh", &k), cache_store_delete(cs, &k);
	key("http://exp.test/etag", &k), cache_store_delete(cs, &k);
	key("http://exp.test/sie", &k), cache_store_delete(cs, &k);
}

static bool
exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

static void
test_files(struct cache_store *cs)
{
	char big[100000], orphan[512], tmp[512], fp[512];
	struct cache_body b;
	struct cache_key k;
	struct cache_obj o;
	struct cachemgr m;
	int64_t now = time(NULL);
	pid_t pid;
	int fd;

	memset(big, 'B', sizeof(big));
	o = mkobj("http://files.test/big", now, "max-age=100000", NULL, 0);
	o.body_size = sizeof(big);
	key("http://files.test/big", &k);
	ok(cache_body_begin(cs, &b) == VD_OK && cache_body_write(&b, big, sizeof(big)) == VD_OK &&
	    cache_body_commit(cs, &b, &k, &o) == VD_OK, "files: a body file committed");
	cache_store_body_path(cs, b.id, fp, sizeof(fp));

	/* an orphan in the same bucket and one in another, as a dead writer leaves them */
	snprintf(orphan, sizeof(orphan), "%s/bodies/%02x/%016llx", dir, (unsigned)(b.id >> 56),
	    (unsigned long long)(b.id ^ 1));
	fd = open(orphan, O_WRONLY | O_CREAT | O_EXCL, 0640);
	ok(fd != -1 && write(fd, "orphan", 6) == 6 && close(fd) == 0, "files: an orphan body file");
	/* a temp file of a dead writer, and of a live one (us) */
	if ((pid = fork()) == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	snprintf(tmp, sizeof(tmp), "%s/bodies/tmp/%d.0000000000000001", dir, (int)pid);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0640);
	ok(fd != -1 && close(fd) == 0, "files: a dead writer's temp file");

	/* a pass now: the orphan is younger than the grace period */
	ok(cachemgr_init(&m, cs, INT64_MAX, 3 * 86400) == VD_OK && run_pass(&m, now) > 0,
	    "files: pass right away");
	ok(exists(orphan), "files: a just-renamed file is not an orphan yet (grace)");
	ok(!exists(tmp), "files: the dead writer's temp file is removed");
	is_int(m.c.tmp_files, 1, "files: counted");
	/* a pass later: it is */
	ok(run_pass(&m, now + CACHEMGR_ORPHAN_GRACE_S + 5) > 0, "files: pass after the grace period");
	ok(!exists(orphan), "files: the orphan body file is removed");
	ok(exists(fp), "files: the referenced body file stays");
	is_int(m.c.orphans, 1, "files: one orphan counted");
	ok(present(cs, "http://files.test/big"), "files: the object is still served");
	cachemgr_free(&m);

	/* eviction of a body-file object removes its file */
	{
		struct cache_victim v;
		struct cache_reader r;
		struct cache_obj got;

		cache_reader_init(cs, &r);
		cache_store_lookup(&r, &k, NULL, 0, &got);
		memset(&v, 0, sizeof(v));
		v.key = k;
		v.response_time = got.resp.response_time + 1;	/* not what is stored */
		v.body_file = got.body_file;
		cache_reader_free(&r);
		ok(cache_store_evict(cs, &v, 1) == VD_OK && !v.removed && exists(fp),
		    "conditional evict: a replaced object is not removed");
		v.response_time--;
		ok(cache_store_evict(cs, &v, 1) == VD_OK && v.removed && !exists(fp) &&
		    !present(cs, "http://files.test/big"), "evict: record and body file removed");
	}
}

/* More entries than one step visits: the scan resumes by key, sees each once. */
static void
test_chunks(struct cache_store *cs)
{
	int n = 3 * CACHEMGR_SCAN_CHUNK + 7, i, steps;
	struct cache_key k;
	struct cache_obj o;
	struct cachemgr m;
	char url[64];

	for (i = 0; i < n; i++) {
		snprintf(url, sizeof(url), "http://chunk.test/%d", i);
		o = mkobj(url, T0, "max-age=100000", "c", 1);
		key(url, &k);
		if (cache_store_put(cs, &k, &o) != VD_OK)
			break;
	}
	is_int(i, n, "chunks: stored");
	ok(cachemgr_init(&m, cs, INT64_MAX, 0) == VD_OK, "chunks: init");
	steps = run_pass(&m, T0 + 1);
	is_int(m.objects, n, "chunks: every object counted once across steps");
	ok(steps >= 4 + 256, "chunks: the scan took several bounded steps");
	cachemgr_free(&m);
	for (i = 0; i < n; i++) {
		snprintf(url, sizeof(url), "http://chunk.test/%d", i);
		key(url, &k);
		cache_store_delete(cs, &k);
	}
}

static void
test_readers(struct cache_store *cs)
{
	struct cachemgr m;
	int p[2], st;
	pid_t pid;
	char c;

	ok(cachemgr_init(&m, cs, INT64_MAX, 0) == VD_OK, "readers: init");
	ok(pipe(p) == 0, "readers: pipe");
	if ((pid = fork()) == 0) {
		struct cache_store ccs;
		struct cache_reader r;
		struct cache_key k;
		struct cache_obj o;

		open_store(&ccs, 64 << 20);
		memset(&k, 0, sizeof(k));
		if (cache_reader_init(&ccs, &r) != VD_OK)
			_exit(1);
		cache_store_lookup(&r, &k, NULL, 0, &o);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	ok(read(p[0], &c, 1) == 1, "readers: a child holds a read txn");
	is_int(cachemgr_reader_check(&m), 0, "readers: a live reader is not cleared");
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	ok(cachemgr_reader_check(&m) >= 1, "readers: the SIGKILLed child's slot is cleared");
	is_int(cachemgr_reader_check(&m), 0, "readers: and only once");
	ok(m.c.readers_cleared >= 1, "readers: counted");
	close(p[0]);
	cachemgr_free(&m);
}

/* Cumulative statistics: the snapshot codec and the fold across segments. */
static void
test_totals(void)
{
	struct cachemgr_totals t, d;
	uint64_t sum[CACHEMGR_NSTATS] = { 0 }, out[CACHEMGR_NSTATS];
	const int req = CACHEMGR_STAT_requests, used = CACHEMGR_STAT_cache_used;
	char buf[8192];
	size_t len;

	ok(cachemgr_stat_counter(req) && !cachemgr_stat_counter(used) &&
	    strcmp(cachemgr_stat_name(req), "requests") == 0, "totals: the table's names and kinds");
	memset(&t, 0, sizeof(t));
	sum[req] = 10, sum[used] = 4096;
	cachemgr_totals_update(&t, 100, T0, sum);	/* first segment, first write */
	cachemgr_totals_since_install(&t, 100, T0, sum, out);
	ok(out[req] == 10 && out[used] == 4096, "totals: first start: since install = live");
	sum[req] = 25;
	cachemgr_totals_update(&t, 100, T0, sum);	/* same segment (a reload): no rebase */
	ok(t.base[req] == 0 && t.last[req] == 25, "totals: same segment: last follows the sums");
	len = cachemgr_totals_encode(&t, buf, sizeof(buf));
	ok(len > 0 && cachemgr_totals_decode(buf, len, &d) == VD_OK &&
	    memcmp(&t, &d, sizeof(t)) == 0, "totals: encode/decode round trip");
	ok(strstr(buf, "\nrequests 0 25\n") != NULL && strstr(buf, "cache-used") == NULL,
	    "totals: counters by name, gauges not kept");
	sum[req] = 3;				/* a restart: new segment */
	cachemgr_totals_since_install(&d, 200, T0 + 60, sum, out);
	is_int((int64_t)out[req], 28, "totals: after a restart: old segment's 25 + live 3");
	cachemgr_totals_update(&d, 200, T0 + 60, sum);
	ok(d.base[req] == 25 && d.last[req] == 3 && d.seg_pid == 200,
	    "totals: rebased onto the new segment once");
	cachemgr_totals_update(&d, 200, T0 + 60, sum);
	is_int((int64_t)d.base[req], 25, "totals: and not again");
	ok(cachemgr_totals_decode("viaduct-totals 1\nsegment 1 2\nno-such 5 6\n", 41, &d) == VD_OK,
	    "totals: an unknown counter name is skipped");
	ok(cachemgr_totals_decode("viaduct-totals 2\nsegment 1 2\n", 29, &d) == VD_ERR &&
	    cachemgr_totals_decode("viaduct-totals 1\nsegment x\n", 27, &d) == VD_ERR &&
	    cachemgr_totals_decode("viaduct-totals 1\nsegment 1 2", 28, &d) == VD_ERR &&
	    cachemgr_totals_decode("", 0, &d) == VD_ERR, "totals: damaged snapshots are refused");
	ok(cachemgr_totals_encode(&t, buf, 20) == 0, "totals: a small buffer is refused");
}

int
main(void)
{
	struct cache_store cs;
	char cmd[300];

	snprintf(dir, sizeof(dir), "/tmp/vd-cachemgr-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_decisions();
	test_lru();
	test_totals();
	open_store(&cs, 64 << 20);
	test_evict(&cs);
	test_expiry(&cs);
	test_files(&cs);
	test_chunks(&cs);
	test_readers(&cs);
	cache_store_close(&cs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		note("could not remove %s", dir);
	return done_testing();
}
