/*
 * Unit tests for src/cache_store.c against a real LMDB environment in a
 * temp directory: records, inline and file bodies, collisions, crash
 * safety, fork, stale readers, map full, map resized by another process.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache_store.h"
#include "tap.h"

#define T0	1700000000LL

static char dir[256];

static struct cache_store_conf
conf(const char *path, size_t map)
{
	struct cache_store_conf c = { path, map, 126, 16384, false };
	return c;
}

static struct cache_obj
obj(const char *url, const char *body, size_t blen)
{
	struct cache_obj o;

	memset(&o, 0, sizeof(o));
	o.resp.status = 200;
	o.resp.request_time = T0 - 1;
	o.resp.response_time = T0;
	o.resp.date = T0;
	o.resp.expires = CACHE_TIME_UNSET;
	o.resp.last_modified = T0 - 3600;
	o.resp.age_value = 5;
	cache_cc_init(&o.resp.cc);
	cache_cc_parse(&o.resp.cc, "public, max-age=60, stale-if-error=9", 36);
	o.url = (struct vd_str){ url, strlen(url) };
	o.head = VD_STR("Content-Type: text/plain\r\nETag: \"e1\"\r\n");
	o.etag = VD_STR("\"e1\"");
	o.last_modified = VD_STR("Tue, 14 Nov 2023 21:13:20 GMT");
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
str_eq(struct vd_str a, struct vd_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static int
count_files(const char *sub)
{
	char p[512];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	if ((d = opendir(p)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
test_codec(void)
{
	struct cache_obj o = obj("http://a/x", "hello", 5), d;
	uint8_t buf[1024];
	size_t n;

	o.flags = CACHE_OBJ_VARY;
	o.vary = VD_STR("accept-encoding");
	o.resp.vary_star = false;
	n = cache_rec_size(&o);
	cache_rec_encode(&o, buf);
	ok(cache_rec_decode(buf, n, &d) == VD_OK && d.resp.status == 200 &&
	    d.resp.request_time == T0 - 1 && d.resp.response_time == T0 && d.resp.date == T0 &&
	    d.resp.expires == CACHE_TIME_UNSET && d.resp.last_modified == T0 - 3600 &&
	    d.resp.age_value == 5 && d.resp.cc.max_age == 60 && d.resp.cc.s_maxage == -1 &&
	    d.resp.cc.stale_if_error == 9 && d.resp.cc.flags == CACHE_CC_PUBLIC &&
	    d.flags == CACHE_OBJ_VARY && str_eq(d.url, o.url) && str_eq(d.head, o.head) &&
	    str_eq(d.vary, o.vary) && str_eq(d.etag, o.etag) &&
	    str_eq(d.last_modified, o.last_modified) && str_eq(d.body, o.body),
	    "record: encode/decode round trip keeps every field");
	ok(cache_rec_decode(buf, n - 1, &d) == VD_ERR, "record: truncated -> rejected");
	buf[n] = 0;
	ok(cache_rec_decode(buf, n + 1, &d) == VD_ERR, "record: trailing byte -> rejected");
	buf[0] ^= 1;
	ok(cache_rec_decode(buf, n, &d) == VD_ERR, "record: bad magic -> rejected");
	buf[0] ^= 1;
	buf[4] = 2;
	ok(cache_rec_decode(buf, n, &d) == VD_ERR, "record: unknown version -> rejected");
	buf[4] = 1;
	buf[CACHE_REC_FIXED - 4] = 0xff;	/* inline body length */
	ok(cache_rec_decode(buf, n, &d) == VD_ERR, "record: lengths beyond the value -> rejected");
	ok(cache_rec_decode(buf, 10, &d) == VD_ERR, "record: shorter than the fixed part -> rejected");
	is_int(cache_store_map_size(0), 0, "map size: max-cache-size=none -> no cache");
	is_int(cache_store_map_size(INT64_MAX), 64LL << 30, "map size: unlimited -> 64 GiB sparse");
	is_int(cache_store_map_size(100 << 20), (200 << 20) + (16 << 20), "map size: 2x + 16 MiB");
}

static void
test_basic(struct cache_store *cs)
{
	struct cache_reader r, r2;
	struct cache_obj o = obj("http://a/x", "hello", 5), got, got2;
	struct cache_key k, k2;
	uint64_t n = 0;
	int rc;

	key("http://a/x", &k);
	ok(cache_reader_init(cs, &r) == VD_OK, "reader: init");
	is_int(cache_store_lookup(&r, &k, "http://a/x", 10, &got), VD_DECLINED, "lookup: empty store -> miss");
	cache_reader_reset(&r);
	is_int(cache_store_put(cs, &k, &o), VD_OK, "put: inline object");
	rc = cache_store_lookup(&r, &k, "http://a/x", 10, &got);
	ok(rc == VD_OK && str_eq(got.body, o.body) && str_eq(got.head, o.head) &&
	    !(got.flags & CACHE_OBJ_BODY_FILE) && got.body_size == 5,
	    "lookup: inline body and head returned");
	/* zero-copy: the body points into the map, not into our buffer */
	ok(rc == VD_OK && got.body.p != o.body.p, "lookup: pointers into the map");
	/* a second reader in the same thread at the same time (MDB_NOTLS) */
	key("http://a/y", &k2);
	ok(cache_reader_init(cs, &r2) == VD_OK &&
	    cache_store_lookup(&r2, &k, "http://a/x", 10, &got2) == VD_OK && got2.body.p == got.body.p,
	    "MDB_NOTLS: two read txns at once in one thread");
	cache_reader_reset(&r2);
	cache_reader_reset(&r);

	o = obj("http://a/x", "world!", 6);
	is_int(cache_store_put(cs, &k, &o), VD_OK, "put: replace");
	rc = cache_store_lookup(&r, &k, "http://a/x", 10, &got);
	ok(rc == VD_OK && got.body.len == 6 && memcmp(got.body.p, "world!", 6) == 0,
	    "lookup: sees the replacement");
	is_int(cache_store_lookup(&r, &k, "http://a/z", 10, &got), CACHE_STORE_COLLISION,
	    "collision: same key, different URL is not served");
	cache_reader_reset(&r);

	ok(cache_store_count(cs, &n) == VD_OK && n == 1, "count: one entry");
	is_int(cache_store_delete(cs, &k), VD_OK, "delete");
	is_int(cache_store_lookup(&r, &k, "http://a/x", 10, &got), VD_DECLINED, "lookup after delete -> miss");
	cache_reader_reset(&r);
	is_int(cache_store_delete(cs, &k), VD_DECLINED, "delete of a missing key -> VD_DECLINED");
	cache_reader_free(&r);
	cache_reader_free(&r2);
}

/* RFC 9111 §4.4 with Vary: invalidating a URL voids its variants through
 * the marker, and a rewritten marker keeps the later invalidation. */
static void
test_invalidate(struct cache_store *cs)
{
	struct cache_reader r;
	struct cache_obj m = obj("http://a/v", "", 0), got;
	struct cache_key k;
	int rc;

	key("http://a/v", &k);
	m.flags = CACHE_OBJ_VARY;
	m.head = m.etag = m.last_modified = (struct vd_str){ NULL, 0 };
	m.vary = VD_STR("accept-language");
	ok(cache_reader_init(cs, &r) == VD_OK, "invalidate: reader");
	is_int(cache_store_put(cs, &k, &m), VD_OK, "invalidate: a Vary marker stored");
	is_int(cache_store_invalidate(cs, &k, T0 + 100), VD_OK, "invalidate: the marker's URL");
	rc = cache_store_lookup(&r, &k, "http://a/v", 10, &got);
	ok(rc == VD_OK && (got.flags & CACHE_OBJ_VARY) && (got.flags & CACHE_OBJ_VARY_VOID) &&
	    got.resp.request_time == T0 + 100 && str_eq(got.vary, m.vary),
	    "invalidate: the marker stays, marked with the second");
	cache_reader_reset(&r);
	is_int(cache_store_put(cs, &k, &m), VD_OK, "invalidate: the marker written again, unmarked");
	rc = cache_store_lookup(&r, &k, "http://a/v", 10, &got);
	ok(rc == VD_OK && (got.flags & CACHE_OBJ_VARY_VOID) && got.resp.request_time == T0 + 100,
	    "invalidate: ... keeps the mark");
	cache_reader_reset(&r);
	m.flags |= CACHE_OBJ_VARY_VOID;
	m.resp.request_time = T0 + 50;
	is_int(cache_store_put(cs, &k, &m), VD_OK, "invalidate: written with an older mark");
	rc = cache_store_lookup(&r, &k, "http://a/v", 10, &got);
	ok(rc == VD_OK && got.resp.request_time == T0 + 100, "invalidate: ... the later one stays");
	cache_reader_reset(&r);
	m = obj("http://a/p", "plain", 5);
	key("http://a/p", &k);
	is_int(cache_store_put(cs, &k, &m), VD_OK, "invalidate: a plain object stored");
	is_int(cache_store_invalidate(cs, &k, T0 + 100), VD_OK, "invalidate: a plain object");
	is_int(cache_store_lookup(&r, &k, "http://a/p", 10, &got), VD_DECLINED, "invalidate: ... is deleted");
	cache_reader_reset(&r);
	is_int(cache_store_invalidate(cs, &k, T0 + 100), VD_DECLINED, "invalidate: nothing there");
	cache_reader_free(&r);
}

static void
test_body_file(struct cache_store *cs)
{
	static char big[300000];
	char rb[sizeof(big) + 1], path[4096];
	struct cache_reader r;
	struct cache_body b;
	struct cache_obj o = obj("http://a/big", NULL, 0), got;
	struct cache_key k;
	struct stat sb;
	size_t i;
	ssize_t n;
	int fd, rc;
	uint64_t id;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	key("http://a/big", &k);
	cache_reader_init(cs, &r);
	is_int(cache_body_begin(cs, &b), VD_OK, "body file: begin");
	for (i = 0; i < sizeof(big); i += 65536)
		cache_body_write(&b, big + i, sizeof(big) - i < 65536 ? sizeof(big) - i : 65536);
	is_int(count_files("bodies/tmp"), 1, "body file: written under a temp name");
	is_int(cache_store_lookup(&r, &k, "http://a/big", 12, &got), VD_DECLINED,
	    "body file: not visible before commit");
	cache_reader_reset(&r);
	o.body_size = sizeof(big);
	is_int(cache_body_commit(cs, &b, &k, &o), VD_OK, "body file: commit");
	is_int(count_files("bodies/tmp"), 0, "body file: temp name gone after rename");
	rc = cache_store_lookup(&r, &k, "http://a/big", 12, &got);
	ok(rc == VD_OK && (got.flags & CACHE_OBJ_BODY_FILE) && got.body.len == 0 &&
	    got.body_size == sizeof(big), "body file: record points to a file");
	fd = cache_store_body_open(cs, &got);
	n = fd >= 0 ? read(fd, rb, sizeof(rb)) : -1;
	ok(n == (ssize_t)sizeof(big) && memcmp(rb, big, sizeof(big)) == 0,
	    "body file: content read back complete");
	id = got.body_file;
	cache_reader_reset(&r);
	/* replaced by an inline object: the old file goes, an open fd keeps reading */
	o = obj("http://a/big", "small", 5);
	is_int(cache_store_put(cs, &k, &o), VD_OK, "body file: replaced inline");
	cache_store_body_path(cs, id, path, sizeof(path));
	ok(stat(path, &sb) == -1 && errno == ENOENT, "body file: replaced object's file removed");
	ok(fd >= 0 && pread(fd, rb, 10, 0) == 10 && memcmp(rb, big, 10) == 0,
	    "body file: a reader holding it open still reads it");
	if (fd >= 0)
		close(fd);

	/* origin fails mid-body */
	is_int(cache_body_begin(cs, &b), VD_OK, "abort: begin");
	cache_body_write(&b, big, 1000);
	cache_body_abort(cs, &b);
	is_int(count_files("bodies/tmp"), 0, "abort: temp file removed");
	/* size mismatch at commit: nothing stored */
	key("http://a/short", &k);
	o = obj("http://a/short", NULL, 0);
	o.body_size = 5000;
	cache_body_begin(cs, &b);
	cache_body_write(&b, big, 1000);
	is_int(cache_body_commit(cs, &b, &k, &o), VD_ERR, "commit with a short body is refused");
	is_int(cache_store_lookup(&r, &k, "http://a/short", 14, &got), VD_DECLINED,
	    "short body: nothing visible");
	cache_reader_reset(&r);
	is_int(count_files("bodies/tmp"), 0, "short body: temp file removed");
	cache_reader_free(&r);
}

/* A writer killed mid-body leaves a temp file and no visible object. */
static void
test_crash(struct cache_store *cs)
{
	struct cache_store_conf c = conf(dir, 64 << 20);
	struct cache_reader r;
	struct cache_obj got;
	struct cache_key k;
	int st, p[2];
	pid_t pid;
	char ch;

	key("http://a/crash", &k);
	cache_store_close(cs);
	if (pipe(p) == -1)
		return;
	if ((pid = fork()) == 0) {
		struct cache_store s;
		struct cache_body b;
		close(p[0]);
		if (cache_store_open(&s, &c) != VD_OK || cache_body_begin(&s, &b) != VD_OK)
			_exit(1);
		cache_body_write(&b, "partial", 7);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	ok(read(p[0], &ch, 1) == 1, "crash: child is writing a body");
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	close(p[0]);
	ok(WIFSIGNALED(st), "crash: child killed -9 mid-body");
	ok(cache_store_open(cs, &c) == VD_OK, "crash: reopen");
	cache_reader_init(cs, &r);
	is_int(cache_store_lookup(&r, &k, "http://a/crash", 14, &got), VD_DECLINED,
	    "crash: no partial object visible");
	cache_reader_free(&r);
	is_int(count_files("bodies/tmp"), 1, "crash: the temp file is left behind");
	is_int(cache_store_tmp_sweep(cs), 1, "crash: tmp sweep removes the dead writer's file");
	is_int(count_files("bodies/tmp"), 0, "crash: nothing left after the sweep");
}

/* Parent closes, child opens its own env after fork, reads and writes. */
static void
test_fork(struct cache_store *cs)
{
	struct cache_store_conf c = conf(dir, 64 << 20);
	struct cache_obj o = obj("http://a/parent", "P", 1), got;
	struct cache_reader r;
	struct cache_key kp, kc;
	pid_t pid;
	int st;

	key("http://a/parent", &kp);
	key("http://a/child", &kc);
	cache_store_put(cs, &kp, &o);
	cache_store_close(cs);	/* as the master: no env across fork */
	if ((pid = fork()) == 0) {
		struct cache_store s;
		struct cache_reader cr;
		struct cache_obj co = obj("http://a/child", "C", 1), g;
		if (cache_store_open(&s, &c) != VD_OK || cache_reader_init(&s, &cr) != VD_OK)
			_exit(1);
		if (cache_store_lookup(&cr, &kp, "http://a/parent", 15, &g) != VD_OK ||
		    g.body.len != 1 || g.body.p[0] != 'P')
			_exit(2);
		cache_reader_reset(&cr);
		if (cache_store_put(&s, &kc, &co) != VD_OK)
			_exit(3);
		cache_reader_free(&cr);
		cache_store_close(&s);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork: child opens its own env, reads and writes");
	ok(cache_store_open(cs, &c) == VD_OK, "fork: parent reopens (restart warm)");
	cache_reader_init(cs, &r);
	ok(cache_store_lookup(&r, &kc, "http://a/child", 14, &got) == VD_OK && got.body.p[0] == 'C',
	    "fork: the child's insert is visible to the parent");
	cache_reader_free(&r);
}

/* A reader slot left by a SIGKILLed process is cleared by mdb_reader_check. */
static void
test_reader_check(struct cache_store *cs)
{
	struct cache_store_conf c = conf(dir, 64 << 20);
	struct cache_key kp;
	int st, dead = -1, p[2];
	pid_t pid;
	char ch;

	key("http://a/parent", &kp);
	cache_store_close(cs);
	if (pipe(p) == -1)
		return;
	if ((pid = fork()) == 0) {
		struct cache_store s;
		struct cache_reader cr;
		struct cache_obj g;
		close(p[0]);
		if (cache_store_open(&s, &c) != VD_OK || cache_reader_init(&s, &cr) != VD_OK ||
		    cache_store_lookup(&cr, &kp, "http://a/parent", 15, &g) != VD_OK)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();	/* holds an active read txn */
		_exit(0);
	}
	close(p[1]);
	ok(read(p[0], &ch, 1) == 1, "reader check: child holds a read txn");
	close(p[0]);
	ok(cache_store_open(cs, &c) == VD_OK, "reader check: open");
	ok(cache_store_reader_check(cs, &dead) == VD_OK && dead == 0,
	    "reader check: a live reader is not cleared");
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	ok(cache_store_reader_check(cs, &dead) == VD_OK && dead >= 1,
	    "reader check: the killed child's slot is cleared");
	note("dead slots cleared: %d", dead);
	ok(cache_store_reader_check(cs, &dead) == VD_OK && dead == 0, "reader check: idempotent");
}

static int
iter_cb(void *arg, const struct cache_key *k, const struct cache_obj *o)
{
	(void)k;
	if (o->url.len > 0)
		(*(int *)arg)++;
	return VD_OK;
}

static void
test_iter(struct cache_store *cs)
{
	struct cache_reader r;
	uint64_t n = 0;
	int seen = 0;

	cache_reader_init(cs, &r);
	ok(cache_store_iter(&r, iter_cb, &seen) == VD_OK && cache_store_count(cs, &n) == VD_OK &&
	    (uint64_t)seen == n && n >= 2, "iterator: visits every entry");
	ok(!r.active, "iterator: resets its read txn");
	cache_reader_free(&r);
}

static int
sum_cb(void *arg, const struct cache_key *k, const struct cache_obj *o)
{
	(void)k;
	*(uint64_t *)arg += cache_store_obj_bytes(o);
	return VD_OK;
}

/* The store's "used" total against a walk of every object. */
static bool
used_exact(struct cache_store *s)
{
	struct cache_reader r;
	uint64_t used = 1, sum = 0;
	bool same;

	if (cache_reader_init(s, &r) != VD_OK)
		return false;
	same = cache_store_used(&r, &used) == VD_OK && !r.active &&
	    cache_store_iter(&r, sum_cb, &sum) == VD_OK && sum == used;
	if (!same)
		note("used %llu, objects sum to %llu", (unsigned long long)used,
		    (unsigned long long)sum);
	cache_reader_free(&r);
	return same;
}

/*
 * MDB_MAP_FULL: the inserting process evicts the least recently stored of
 * a sample in its own write txn and retries; the newest objects are kept.
 */
static void
test_map_full(void)
{
	static char blob[60000];
	char d2[300];
	struct cache_store s;
	struct cache_store_conf c;
	struct cache_reader r;
	struct cache_obj o, got;
	struct cache_key k, k0;
	char url[64];
	uint64_t n = 0;
	int i, rc = VD_OK, bad = 0;

	snprintf(d2, sizeof(d2), "%s/full", dir);
	c = conf(d2, 1 << 20);
	c.inline_max = sizeof(blob);
	ok(cache_store_open(&s, &c) == VD_OK, "map full: open a 1 MiB map");
	for (i = 0; i < 100; i++) {
		snprintf(url, sizeof(url), "http://full/%d", i);
		o = obj(url, blob, sizeof(blob));
		o.resp.response_time = T0 + i;	/* stored in this order: LRU order */
		key(url, &k);
		if (i == 0)
			k0 = k;
		if ((rc = cache_store_put(&s, &k, &o)) != VD_OK && bad++ == 0)
			note("insert %d: %d", i, rc);
	}
	is_int(bad, 0, "map full: 100 inserts of 60 KB into a 1 MiB map all succeed (evict, retry)");
	cache_reader_init(&s, &r);
	ok(cache_store_lookup(&r, &k, url, strlen(url), &got) == VD_OK &&
	    got.body.len == sizeof(blob), "map full: the newest object is stored whole");
	cache_reader_reset(&r);
	is_int(cache_store_lookup(&r, &k0, "http://full/0", 13, &got), VD_DECLINED,
	    "map full: the oldest was evicted");
	cache_reader_reset(&r);
	ok(cache_store_count(&s, &n) == VD_OK && n >= 5 && n < 17,
	    "map full: the store holds what fits (about a map's worth)");
	note("%llu objects kept", (unsigned long long)n);
	ok(used_exact(&s), "map full: the used total matches the objects after evictions");
	cache_reader_free(&r);
	cache_store_close(&s);
}

/* "used" follows put, replace, delete, evict; meta blobs; an old store. */
static void
test_used(void)
{
	static char big[100000];
	char d2[300], url[64];
	struct cache_store s;
	struct cache_store_conf c;
	struct cache_reader r;
	struct cache_body b;
	struct cache_obj o;
	struct cache_key k;
	struct cache_victim v;
	struct vd_str val;
	uint64_t used = 1;

	snprintf(d2, sizeof(d2), "%s/used", dir);
	c = conf(d2, 64 << 20);
	ok(cache_store_open(&s, &c) == VD_OK && cache_reader_init(&s, &r) == VD_OK,
	    "used: open a new store");
	ok(cache_store_used(&r, &used) == VD_OK && used == 0, "used: a new store holds 0 bytes");
	for (int i = 0; i < 20; i++) {
		snprintf(url, sizeof(url), "http://used/%d", i);
		o = obj(url, big, (size_t)(i * 100));
		key(url, &k);
		cache_store_put(&s, &k, &o);
	}
	ok(used_exact(&s), "used: after 20 inline inserts");
	o = obj(url, big, 5);			/* replace the last one, smaller */
	cache_store_put(&s, &k, &o);
	ok(used_exact(&s), "used: after a replacement");
	o = obj(url, NULL, 0);
	o.body_size = sizeof(big);
	ok(cache_body_begin(&s, &b) == VD_OK && cache_body_write(&b, big, sizeof(big)) == VD_OK &&
	    cache_body_commit(&s, &b, &k, &o) == VD_OK, "used: a body file replaces it");
	ok(used_exact(&s), "used: counts the body file");
	cache_store_used(&r, &used);
	ok(used > sizeof(big), "used: includes the body file's bytes");
	cache_store_delete(&s, &k);
	ok(used_exact(&s), "used: after a delete");
	snprintf(url, sizeof(url), "http://used/3");
	key(url, &k);
	v = (struct cache_victim){ .key = k, .response_time = T0 };
	ok(cache_store_evict(&s, &v, 1) == VD_OK && v.removed, "used: evict one");
	ok(used_exact(&s), "used: after an eviction");
	is_int(cache_store_used_init(&s, 7), VD_DECLINED, "used: init leaves a known total alone");
	is_int(cache_store_meta_get(&r, "totals", &val), VD_DECLINED, "meta: absent at first");
	cache_reader_reset(&r);
	is_int(cache_store_meta_put(&s, "totals", "abc\n", 4), VD_OK, "meta: put");
	ok(cache_store_meta_get(&r, "totals", &val) == VD_OK && str_eq(val, VD_STR("abc\n")),
	    "meta: get what was put");
	cache_reader_reset(&r);
	cache_store_count(&s, &used);
	is_int((int64_t)used, 18, "meta: its records are not objects");
	cache_reader_free(&r);
	cache_store_close(&s);
}

/* Another process grows the map: MDB_MAP_RESIZED is adopted, not fatal. */
static void
test_resized(void)
{
	static char blob[200000];
	char d3[300];
	struct cache_store s;
	struct cache_store_conf c;
	struct cache_reader r;
	struct cache_obj got;
	struct cache_key k;
	pid_t pid;
	int st;

	snprintf(d3, sizeof(d3), "%s/resize", dir);
	if ((pid = fork()) == 0) {
		struct cache_store cs;
		struct cache_store_conf cc = conf(d3, 1 << 20);
		cs.env = NULL;
		if (cache_store_open(&cs, &cc) != VD_OK)
			_exit(1);
		cache_store_close(&cs);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	c = conf(d3, 1 << 20);
	ok(cache_store_open(&s, &c) == VD_OK, "resize: open with a 1 MiB map");
	cache_reader_init(&s, &r);
	if ((pid = fork()) == 0) {
		/* a new generation with a bigger max-cache-size */
		struct cache_store cs;
		struct cache_store_conf cc = conf(d3, 16 << 20);
		char url[64];
		struct cache_key kk;
		int i;
		if (cache_store_open(&cs, &cc) != VD_OK)
			_exit(1);
		for (i = 0; i < 20; i++) {
			struct cache_obj o;
			snprintf(url, sizeof(url), "http://rs/%d", i);
			o = obj(url, blob, sizeof(blob));
			key(url, &kk);
			if (cache_store_put(&cs, &kk, &o) != VD_OK)
				_exit(2);
		}
		cache_store_close(&cs);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "resize: another process grew the data past our map");
	key("http://rs/19", &k);
	ok(cache_store_lookup(&r, &k, "http://rs/19", 12, &got) == VD_OK &&
	    got.body.len == sizeof(blob), "resize: MDB_MAP_RESIZED adopted, lookup succeeds");
	cache_reader_free(&r);
	cache_store_close(&s);
}

int
main(void)
{
	struct cache_store cs;
	struct cache_store_conf c;
	char cmd[400];

	snprintf(dir, sizeof(dir), "%s/vd-cache-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	c = conf(dir, 64 << 20);
	test_codec();
	ok(cache_store_open(&cs, &c) == VD_OK, "open: env in a temp directory");
	test_basic(&cs);
	test_invalidate(&cs);
	test_body_file(&cs);
	test_crash(&cs);
	test_fork(&cs);
	test_reader_check(&cs);
	test_iter(&cs);
	cache_store_close(&cs);
	test_map_full();
	test_used();
	test_resized();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		note("could not remove %s", dir);
	return done_testing();
}
