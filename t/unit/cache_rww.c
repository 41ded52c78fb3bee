/* t/unit/cache_rww.c — read-while-writer's head file: its codec, the end
 * word, chunked framing, and the store's head file beside a temp body (a
 * reader keeps what it opened across the commit's rename and an abort). */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "viaduct.h"
#include "cache_rww.h"
#include "tap.h"

static struct cache_obj
obj(void)
{
	struct cache_obj o;

	memset(&o, 0, sizeof(o));
	o.resp.status = 200;
	o.resp.request_time = 1700000000;
	o.resp.response_time = 1700000001;
	o.resp.date = 1700000000;
	o.resp.expires = CACHE_TIME_UNSET;
	o.resp.last_modified = CACHE_TIME_UNSET;
	cache_cc_init(&o.resp.cc);
	cache_cc_parse(&o.resp.cc, "max-age=300", 11);
	o.url = VD_STR("http://o.example/big");
	o.head = VD_STR("Content-Type: text/plain\r\nETag: \"v1\"\r\n");
	o.etag = VD_STR("\"v1\"");
	o.vary = VD_STR("accept-encoding");
	o.flags = CACHE_OBJ_BODY_FILE;
	o.body_file = 0x1234;
	o.body_size = 300000;
	return o;
}

static void
test_codec(void)
{
	struct cache_obj o = obj();
	struct cache_rww_head h;
	struct cache_key k;
	uint8_t buf[4096], end[16];
	size_t n = cache_rww_head_size(&o);
	uint64_t size;

	memset(k.b, 0x5a, sizeof(k.b));
	ok(n > CACHE_RWW_FIXED && n < sizeof(buf), "head size");
	cache_rww_head_encode(&o, &k, 300000, buf);
	is_int(cache_rww_head_decode(buf, n, &h), VD_OK, "decodes");
	is_int(h.length, 300000, "... the Content-Length");
	ok(memcmp(h.key.b, k.b, sizeof(k.b)) == 0, "... the key it will be stored at");
	ok(h.obj.url.len == o.url.len && memcmp(h.obj.url.p, o.url.p, o.url.len) == 0,
	    "... the URL");
	ok(h.obj.head.len == o.head.len && memcmp(h.obj.head.p, o.head.p, o.head.len) == 0,
	    "... the stored head");
	ok(h.obj.vary.len == o.vary.len && h.obj.etag.len == o.etag.len, "... Vary and ETag");
	is_int(h.obj.resp.cc.max_age, 300, "... the directives");
	is_int(h.obj.resp.response_time, 1700000001, "... the times");
	is_int(h.obj.body_file, 0x1234, "... the file");
	is_int(cache_rww_head_decode(buf, n - 1, &h), VD_ERR, "one byte short: refused");
	is_int(cache_rww_head_decode(buf, CACHE_RWW_FIXED - 1, &h), VD_ERR, "no fixed part: refused");
	buf[1] ^= 1;
	is_int(cache_rww_head_decode(buf, n, &h), VD_ERR, "another magic: refused");
	buf[1] ^= 1;
	o.flags = 0;
	o.body_file = 0;
	o.body_size = 0;
	cache_rww_head_encode(&o, &k, CACHE_RWW_UNKNOWN, buf);
	is_int(cache_rww_head_decode(buf, cache_rww_head_size(&o), &h), VD_ERR,
	    "an object without a body file: refused");

	is_int(cache_rww_end_decode(buf + CACHE_RWW_END_OFF, &size), VD_DECLINED,
	    "end word of a fresh head file: not complete");
	cache_rww_end_encode(987654321, end);
	is_int(cache_rww_end_decode(end, &size), VD_OK, "end word: complete");
	is_int(size, 987654321, "... with its size");
}

static void
chunk_is(uint64_t n, bool after, const char *want, const char *name)
{
	char b[CACHE_RWW_CHUNK_MAX + 1];
	size_t len = cache_rww_chunk(b, n, after);

	b[len] = '\0';
	is_str(b, want, name);
}

static void
test_chunk(void)
{
	chunk_is(1, false, "1\r\n", "first chunk of 1");
	chunk_is(0x2f0, true, "\r\n2f0\r\n", "a chunk after another");
	chunk_is(UINT64_MAX, true, "\r\nffffffffffffffff\r\n", "the largest");
	chunk_is(0, true, "\r\n0\r\n\r\n", "the last chunk after data");
	chunk_is(0, false, "0\r\n\r\n", "the last chunk of an empty body");
}

static void
test_store(const char *dir)
{
	struct cache_store_conf scf = { dir, 1 << 24, 126, 16384, false };
	struct cache_store cs;
	struct cache_body b;
	struct cache_obj o = obj();
	struct cache_key k;
	char rb[16];
	uint64_t size;
	int fd, hfd;

	if (!ok(cache_store_open(&cs, &scf) == VD_OK, "store opened"))
		return;
	memset(k.b, 7, sizeof(k.b));
	is_int(cache_body_begin(&cs, &b), VD_OK, "body begun");
	is_int(b.hfd, -1, "... without a head file");
	is_int(cache_body_head_create(&b), VD_OK, "head file created");
	is_int(cache_rww_write_head(b.hfd, (const uint8_t *)"VDRWW001", 8), VD_OK, "... written");
	is_int(cache_body_write(&b, "0123456789", 10), VD_OK, "body written");
	fd = cache_body_tmp_open(&cs, getpid(), b.id, false);
	hfd = cache_body_tmp_open(&cs, getpid(), b.id, true);
	ok(fd >= 0 && hfd >= 0, "another process opens both by pid and id");
	ok(fd >= 0 && pread(fd, rb, 10, 0) == 10 && memcmp(rb, "0123456789", 10) == 0,
	    "... reads the body so far");
	is_int(cache_rww_read_end(hfd, &size), VD_DECLINED, "... not complete yet");
	is_int(cache_rww_write_end(b.hfd, 10), VD_OK, "the writer says complete");
	is_int(cache_rww_read_end(hfd, &size), VD_OK, "... the reader sees it");
	is_int(size, 10, "... with the size");
	o.vary = (struct vd_str){ NULL, 0 };
	o.body_size = 10;
	is_int(cache_body_commit(&cs, &b, &k, &o), VD_OK, "committed");
	ok(cache_body_tmp_open(&cs, getpid(), b.id, true) == -1 && errno == ENOENT,
	    "the head file is gone with the temp name");
	ok(cache_body_tmp_open(&cs, getpid(), b.id, false) == -1 && errno == ENOENT,
	    "the temp body name too");
	ok(fd >= 0 && pread(fd, rb, 10, 0) == 10 && cache_rww_read_end(hfd, &size) == VD_OK,
	    "what the reader opened still reads");
	if (fd >= 0)
		close(fd);
	if (hfd >= 0)
		close(hfd);

	is_int(cache_body_begin(&cs, &b), VD_OK, "second body begun");
	is_int(cache_body_head_create(&b), VD_OK, "... with a head file");
	hfd = cache_body_tmp_open(&cs, getpid(), b.id, true);
	cache_body_abort(&cs, &b);
	ok(cache_body_tmp_open(&cs, getpid(), b.id, true) == -1, "abort removes the head file");
	is_int(cache_rww_read_end(hfd, &size), VD_DECLINED, "a reader sees it never completed");
	if (hfd >= 0)
		close(hfd);
	cache_store_close(&cs);
}

int
main(void)
{
	char dir[] = "/tmp/vd-unit-rww-XXXXXX";
	char cmd[600];

	test_codec();
	test_chunk();
	if (mkdtemp(dir) != NULL) {
		test_store(dir);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			note("could not remove %s", dir);
	}
	return done_testing();
}
