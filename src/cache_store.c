/*
 * cache_store.c — the shared cache index (LMDB) and its body files.
 *
 * Design note.
 *   <cache-path>/data.mdb, lock.mdb   one LMDB environment, database "objects":
 *                                     16-byte key (cache_key.h) -> record
 *   <cache-path>/bodies/xx/<id>       large bodies; xx = first two hex digits
 *   <cache-path>/bodies/tmp/<pid>.<id> bodies being written
 *
 *   Every process opens its own environment after fork (MDB_NOTLS: one read
 *   txn per connection slot, reset/renewed, never freed on the hot path).
 *   A record is a fixed little-endian part (CACHE_REC_FIXED bytes, version
 *   CACHE_REC_VERSION) followed by url, head, vary, etag, last-modified and
 *   the inline body; LMDB gives no alignment, so the fixed part is decoded
 *   byte by byte and the variable parts are returned as pointers into the map.
 *   A body file is complete before its rename and the rename happens before
 *   the index commit, so a reader never sees a partial body: a crash leaves
 *   at worst a temp file or an unreferenced body file, which the cache
 *   manager removes.  Replacing or deleting a record unlinks its body file
 *   after the commit; a reader that already opened it keeps reading it.
 *   The map size is fixed at open (sparse), since growth is per process
 *   (STYLE.md pitfall 6).  A full map or file system is made room in by
 *   the inserting process (make_room: a sampled LRU in its own write txn,
 *   then one retry; cache_store.h), so the hit path stays write-free and no
 *   insert waits for the cache manager.  The "meta" database holds the
 *   store's byte count ("used"), changed in the same txn as every insert,
 *   replacement and deletion, and the cache manager's cumulative statistics.
 *
 * Measured (t/bench_cache_store.c, Debian 12 VM, 2 vCPU, AMD EPYC, /dev/shm,
 * gcc -O2; 250-byte records; 2,000,000 lookups per figure, each = renew
 * txn + mdb_get + decode + URL compare + reset), quiet machine (load < 1):
 *                       uniform over all keys    hot set of 1,000 keys
 *       1,000 entries        261 ns                    255 ns
 *   1,000,000 entries      2,284 ns                    707 ns
 * (with other builds running, load ~4: 447/684 ns and 2,137/608 ns.)
 * The uniform case at 1M touches a cold 4 KiB leaf per lookup (map ~270 MB,
 * ~66,000 leaves of ~15 records, ~440 branch pages above them): a page walk
 * and some 15 cache misses, which no record layout removes; the hot set's
 * 1,000 keys still sit in 1,000 different leaves (4 MB of pages, beyond
 * L2).  Cost follows the working set, not the store size.  Tried for the
 * ratio: MDB_NORDAHEAD (already set; a no-op on tmpfs), denser keys (the
 * keys are uniform hashes, so a leaf holds unrelated objects whatever the
 * fill), txn renew + reset (the bench's "txn kept" pass: 260 -> 210 ns at
 * 1,000, 604 -> 542 ns at 1M: ~55 ns, the same at both sizes, so keeping
 * txns would not change the ratio and would pin old pages); huge pages
 * would cut the page walk but tmpfs THP is off on this host.
 * Inserts (one write txn each, MDB_NOSYNC, with the "used" update):
 * 13-18 us at 1,000 entries, ~20 us at 1,000,000.
 */
#include "config.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "stats.h"
#include "cache_store.h"

#define REC_MAGIC	0x31434456u	/* "VDC1" little-endian */

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Offsets of the fixed part. */
enum {
	R_MAGIC = 0, R_VERSION = 4, R_FLAGS = 6, R_STATUS = 8, R_CCFLAGS = 12,
	R_REQ_TIME = 16, R_RESP_TIME = 24, R_DATE = 32, R_EXPIRES = 40, R_LASTMOD = 48,
	R_AGE = 56, R_MAX_AGE = 64, R_S_MAXAGE = 72, R_SWR = 80, R_SIE = 88,
	R_LAST_ACCESS = 96, R_BODY_SIZE = 104, R_BODY_FILE = 112, R_LENS = 120,
};
#define NSTR	6

static const struct vd_str *
obj_strs(const struct cache_obj *o, const struct vd_str *s[NSTR])
{
	s[0] = &o->url, s[1] = &o->head, s[2] = &o->vary;
	s[3] = &o->etag, s[4] = &o->last_modified;
	s[5] = (o->flags & CACHE_OBJ_BODY_FILE) ? NULL : &o->body;
	return s[0];
}

size_t
cache_rec_size(const struct cache_obj *o)
{
	const struct vd_str *s[NSTR];
	size_t n = CACHE_REC_FIXED;
	int i;

	obj_strs(o, s);
	for (i = 0; i < NSTR; i++)
		if (s[i] != NULL)
			n += s[i]->len;
	return n;
}

void
cache_rec_encode(const struct cache_obj *o, uint8_t *b)
{
	static const int toff[] = { R_REQ_TIME, R_RESP_TIME, R_DATE, R_EXPIRES, R_LASTMOD,
	    R_AGE, R_MAX_AGE, R_S_MAXAGE, R_SWR, R_SIE, R_LAST_ACCESS };
	const struct cache_resp *r = &o->resp;
	const int64_t tv[] = { r->request_time, r->response_time, r->date, r->expires,
	    r->last_modified, r->age_value, r->cc.max_age, r->cc.s_maxage,
	    r->cc.stale_while_revalidate, r->cc.stale_if_error, o->last_access };
	const struct vd_str *s[NSTR];
	unsigned flags = o->flags & ~CACHE_OBJ_VARY_STAR;
	size_t off = CACHE_REC_FIXED;
	int i;

	if (r->vary_star)
		flags |= CACHE_OBJ_VARY_STAR;
	memset(b, 0, CACHE_REC_FIXED);
	put32(b + R_MAGIC, REC_MAGIC);
	put16(b + R_VERSION, CACHE_REC_VERSION);
	put16(b + R_FLAGS, (uint16_t)flags);
	put16(b + R_STATUS, (uint16_t)r->status);
	put32(b + R_CCFLAGS, r->cc.flags);
	for (i = 0; i < (int)VD_ARRLEN(toff); i++)
		put64(b + toff[i], (uint64_t)tv[i]);
	put64(b + R_BODY_SIZE, o->body_size);
	put64(b + R_BODY_FILE, (flags & CACHE_OBJ_BODY_FILE) ? o->body_file : 0);
	obj_strs(o, s);
	for (i = 0; i < NSTR; i++) {
		size_t len = s[i] != NULL ? s[i]->len : 0;
		put32(b + R_LENS + 4 * i, (uint32_t)len);
		if (len > 0)
			memcpy(b + off, s[i]->p, len);
		off += len;
	}
}

int
cache_rec_decode(const uint8_t *b, size_t len, struct cache_obj *o)
{
	struct vd_str *s[NSTR] = { &o->url, &o->head, &o->vary, &o->etag,
	    &o->last_modified, &o->body };
	struct cache_resp *r = &o->resp;
	uint64_t total = CACHE_REC_FIXED;
	size_t off = CACHE_REC_FIXED;
	int i;

	if (len < CACHE_REC_FIXED || get32(b + R_MAGIC) != REC_MAGIC ||
	    get16(b + R_VERSION) != CACHE_REC_VERSION)
		return VD_ERR;
	for (i = 0; i < NSTR; i++)
		total += get32(b + R_LENS + 4 * i);
	if (total != len)
		return VD_ERR;
	o->flags = get16(b + R_FLAGS);
	r->status = get16(b + R_STATUS);
	if ((o->flags & ~CACHE_OBJ_FLAGS) || r->status < 100 || r->status > 999)
		return VD_ERR;
	r->cc.flags = get32(b + R_CCFLAGS);
	r->request_time = (int64_t)get64(b + R_REQ_TIME);
	r->response_time = (int64_t)get64(b + R_RESP_TIME);
	r->date = (int64_t)get64(b + R_DATE);
	r->expires = (int64_t)get64(b + R_EXPIRES);
	r->last_modified = (int64_t)get64(b + R_LASTMOD);
	r->age_value = (int64_t)get64(b + R_AGE);
	r->cc.max_age = (int64_t)get64(b + R_MAX_AGE);
	r->cc.s_maxage = (int64_t)get64(b + R_S_MAXAGE);
	r->cc.stale_while_revalidate = (int64_t)get64(b + R_SWR);
	r->cc.stale_if_error = (int64_t)get64(b + R_SIE);
	r->cc.max_stale = r->cc.min_fresh = -1;	/* request-only directives */
	r->vary_star = (o->flags & CACHE_OBJ_VARY_STAR) != 0;
	o->last_access = (int64_t)get64(b + R_LAST_ACCESS);
	o->body_size = get64(b + R_BODY_SIZE);
	o->body_file = get64(b + R_BODY_FILE);
	for (i = 0; i < NSTR; i++) {
		s[i]->len = get32(b + R_LENS + 4 * i);
		s[i]->p = (const char *)b + off;
		off += s[i]->len;
	}
	if (o->url.len == 0)
		return VD_ERR;
	if (o->flags & CACHE_OBJ_BODY_FILE) {
		if (o->body.len != 0)
			return VD_ERR;
	} else if (o->body.len != o->body_size || o->body_file != 0)
		return VD_ERR;
	return VD_OK;
}

size_t
cache_store_map_size(int64_t max_cache_size)
{
	const uint64_t lo = 16ULL << 20, hi = 1ULL << 40;
	uint64_t m;

	if (max_cache_size <= 0)
		return 0;
	if (max_cache_size == INT64_MAX)
		return (size_t)(64ULL << 30);	/* sparse: costs address space only */
	/* free pages kept by readers and half-full B-tree pages: twice the data */
	m = (uint64_t)max_cache_size * 2 + lo;
	return (size_t)(m > hi ? hi : m);
}

static int
mkdir_p1(const char *path)
{
	if (mkdir(path, 0750) == -1 && errno != EEXIST) {
		log_warn("cache: mkdir %s", path);
		return VD_ERR;
	}
	return VD_OK;
}

static int
store_dirs(struct cache_store *cs)
{
	char p[PATH_MAX + 16];

	if (mkdir_p1(cs->path) != VD_OK)
		return VD_ERR;
	snprintf(p, sizeof(p), "%s/bodies", cs->path);
	if (mkdir_p1(p) != VD_OK)
		return VD_ERR;
	snprintf(p, sizeof(p), "%s/bodies/tmp", cs->path);
	return mkdir_p1(p);
}

/* A new store starts with used = 0; an old one stays unknown until a scan. */
static int
meta_setup(struct cache_store *cs, MDB_txn *txn, bool read_only)
{
	MDB_val kv = { 4, (void *)(uintptr_t)"used" }, dv;
	uint8_t zero[8] = { 0 };
	MDB_stat st;
	int rc;

	rc = mdb_dbi_open(txn, "meta", read_only ? 0 : MDB_CREATE, &cs->meta);
	if (rc == MDB_NOTFOUND && read_only)
		return 0;
	if (rc != 0)
		return rc;
	cs->meta_ok = true;
	if (read_only || (rc = mdb_get(txn, cs->meta, &kv, &dv)) != MDB_NOTFOUND)
		return rc == MDB_NOTFOUND ? 0 : rc;
	if ((rc = mdb_stat(txn, cs->dbi, &st)) != 0 || st.ms_entries != 0)
		return rc;
	dv = (MDB_val){ sizeof(zero), zero };
	return mdb_put(txn, cs->meta, &kv, &dv, 0);
}

static int
env_setup(struct cache_store *cs, const struct cache_store_conf *c)
{
	unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_env_create(&cs->env)) != 0)
		goto fail;
	if ((rc = mdb_env_set_mapsize(cs->env, c->map_size)) != 0 ||
	    (rc = mdb_env_set_maxreaders(cs->env, c->max_readers ? c->max_readers : 126)) != 0 ||
	    (rc = mdb_env_set_maxdbs(cs->env, 4)) != 0)
		goto fail;
	if (c->read_only)
		flags |= MDB_RDONLY;
	else
		flags |= MDB_NOSYNC;	/* no flush in a worker's loop: cache_state.h */
	if ((rc = mdb_env_open(cs->env, cs->path, flags, 0640)) != 0)
		goto fail;
	if ((rc = mdb_txn_begin(cs->env, NULL, c->read_only ? MDB_RDONLY : 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "objects", c->read_only ? 0 : MDB_CREATE, &cs->dbi)) != 0 ||
	    (rc = meta_setup(cs, txn, c->read_only)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	return VD_OK;
fail:
	log_warnx("cache: %s: %s", cs->path, mdb_strerror(rc));
	if (cs->env != NULL)
		mdb_env_close(cs->env);
	cs->env = NULL;
	return VD_ERR;
}

int
cache_store_open(struct cache_store *cs, const struct cache_store_conf *c)
{
	memset(cs, 0, sizeof(*cs));
	if (strlen(c->path) >= sizeof(cs->path)) {
		log_warnx("cache: path too long: %s", c->path);
		return VD_ERR;
	}
	memcpy(cs->path, c->path, strlen(c->path) + 1);
	cs->inline_max = c->inline_max;
	cs->read_only = c->read_only;
	if (!c->read_only && store_dirs(cs) != VD_OK)
		return VD_ERR;
	if (getrandom(&cs->next_file, sizeof(cs->next_file), 0) != sizeof(cs->next_file))
		cs->next_file = ((uint64_t)getpid() << 40) ^ (uint64_t)time(NULL);
	cs->rng = cs->next_file * 0x9e3779b97f4a7c15ULL | 1;
	return env_setup(cs, c);
}

void
cache_store_close(struct cache_store *cs)
{
	if (cs->env != NULL)
		mdb_env_close(cs->env);
	cs->env = NULL;
}

int
cache_reader_init(struct cache_store *cs, struct cache_reader *r)
{
	int rc;

	r->cs = cs;
	r->active = false;
	/* begin once to own a reader slot for good (MDB_NOTLS), then park it */
	if ((rc = mdb_txn_begin(cs->env, NULL, MDB_RDONLY, &r->txn)) != 0) {
		log_warnx("cache: read txn: %s", mdb_strerror(rc));
		r->txn = NULL;
		return rc == MDB_READERS_FULL ? VD_AGAIN : VD_ERR;
	}
	mdb_txn_reset(r->txn);
	return VD_OK;
}

void
cache_reader_reset(struct cache_reader *r)
{
	if (r->active) {
		mdb_txn_reset(r->txn);
		r->active = false;
		r->cs->active--;
	}
}

void
cache_reader_free(struct cache_reader *r)
{
	cache_reader_reset(r);
	if (r->txn != NULL)
		mdb_txn_abort(r->txn);
	r->txn = NULL;
}

/* Adopt a map grown by another process; only legal with no txn active here. */
static bool
adopt_mapsize(struct cache_store *cs)
{
	if (cs->active != 0)
		return false;
	return mdb_env_set_mapsize(cs->env, 0) == 0;
}

static int
reader_renew(struct cache_reader *r)
{
	int rc;

	if (r->active)
		return VD_OK;
	if (r->txn == NULL)
		return VD_ERR;
	rc = mdb_txn_renew(r->txn);
	if (rc == MDB_MAP_RESIZED && adopt_mapsize(r->cs))
		rc = mdb_txn_renew(r->txn);
	if (rc != 0) {
		if (rc != MDB_MAP_RESIZED)
			log_warnx("cache: renew: %s", mdb_strerror(rc));
		return rc == MDB_MAP_RESIZED || rc == MDB_READERS_FULL ? VD_AGAIN : VD_ERR;
	}
	r->active = true;
	r->cs->active++;
	return VD_OK;
}

static void
key_val(const struct cache_key *k, MDB_val *v)
{
	v->mv_size = sizeof(k->b);
	v->mv_data = (void *)(uintptr_t)k->b;
}

int
cache_store_lookup(struct cache_reader *r, const struct cache_key *k, const char *url,
    size_t ulen, struct cache_obj *o)
{
	MDB_val kv, dv;
	int rc;

	if ((rc = reader_renew(r)) != VD_OK)
		return rc;
	key_val(k, &kv);
	rc = mdb_get(r->txn, r->cs->dbi, &kv, &dv);
	if (rc == MDB_NOTFOUND)
		return VD_DECLINED;
	if (rc != 0) {
		log_warnx("cache: get: %s", mdb_strerror(rc));
		return VD_ERR;
	}
	if (cache_rec_decode(dv.mv_data, dv.mv_size, o) != VD_OK) {
		char hex[CACHE_KEY_HEXLEN + 1];
		log_warnx("cache: damaged record %s", cache_key_hex(k, hex));
		return VD_ERR;
	}
	if (url != NULL && (o->url.len != ulen || memcmp(o->url.p, url, ulen) != 0))
		return CACHE_STORE_COLLISION;
	return VD_OK;
}

static int
write_begin(struct cache_store *cs, MDB_txn **txn)
{
	int rc;

	if (cs->read_only)
		return VD_ERR;
	rc = mdb_txn_begin(cs->env, NULL, 0, txn);
	if (rc == MDB_MAP_RESIZED && adopt_mapsize(cs))
		rc = mdb_txn_begin(cs->env, NULL, 0, txn);
	if (rc == MDB_MAP_RESIZED)
		return VD_AGAIN;
	if (rc != 0) {
		log_warnx("cache: write txn: %s", mdb_strerror(rc));
		return VD_ERR;
	}
	return VD_OK;
}

/*
 * A full map, or a full file system under data.mdb: LMDB returns the errno
 * of the failed write from the commit, and EIO for a short write ("short
 * write, filesystem full?" in mdb_page_flush).
 */
static int
mdb_status(int rc, const char *what)
{
	if (rc == MDB_MAP_FULL || rc == ENOSPC || rc == EDQUOT || rc == EIO)
		return CACHE_STORE_FULL;
	log_warnx("cache: %s: %s", what, mdb_strerror(rc));
	return VD_ERR;
}

static void
unlink_body(const struct cache_store *cs, uint64_t id)
{
	char p[PATH_MAX];

	cache_store_body_path(cs, id, p, sizeof(p));
	if (unlink(p) == -1 && errno != ENOENT)
		log_warn("cache: unlink %s", p);
}

uint64_t
cache_store_obj_bytes(const struct cache_obj *o)
{
	uint64_t n = sizeof(((struct cache_key *)0)->b) + cache_rec_size(o);

	if (o->flags & CACHE_OBJ_BODY_FILE)
		n += o->body_size;
	return n;
}

/* The record at kv: its body file (0: none) and its bytes (0: none). */
static uint64_t
old_body_file(struct cache_store *cs, MDB_txn *txn, MDB_val *kv, uint64_t *bytes)
{
	struct cache_obj old;
	MDB_val dv;

	*bytes = 0;
	if (mdb_get(txn, cs->dbi, kv, &dv) != 0 ||
	    cache_rec_decode(dv.mv_data, dv.mv_size, &old) != VD_OK)
		return 0;
	*bytes = cache_store_obj_bytes(&old);
	return (old.flags & CACHE_OBJ_BODY_FILE) ? old.body_file : 0;
}

static const MDB_val meta_used_key = { 4, (void *)(uintptr_t)"used" };

/* used += delta in this txn; an unknown total stays unknown.  An mdb status. */
static int
used_add(struct cache_store *cs, MDB_txn *txn, int64_t delta)
{
	MDB_val kv = meta_used_key, dv;
	uint8_t b[8];
	uint64_t v;
	int rc;

	if (delta == 0 || !cs->meta_ok)
		return 0;
	if ((rc = mdb_get(txn, cs->meta, &kv, &dv)) != 0 || dv.mv_size != sizeof(b))
		return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
	v = get64(dv.mv_data);
	if (delta < 0)
		v = (uint64_t)-delta > v ? 0 : v - (uint64_t)-delta;
	else
		v += (uint64_t)delta;
	put64(b, v);
	dv = (MDB_val){ sizeof(b), b };
	return mdb_put(txn, cs->meta, &kv, &dv, 0);
}

static int
put_once(struct cache_store *cs, const struct cache_key *k, const struct cache_obj *o,
    uint64_t *old)
{
	MDB_txn *txn;
	MDB_val kv, dv;
	uint64_t oldbytes;
	int rc;

	if ((rc = write_begin(cs, &txn)) != VD_OK)
		return rc;
	key_val(k, &kv);
	*old = old_body_file(cs, txn, &kv, &oldbytes);
	dv.mv_size = cache_rec_size(o);
	dv.mv_data = NULL;
	/* MDB_RESERVE: encode straight into the map, no intermediate copy */
	if ((rc = mdb_put(txn, cs->dbi, &kv, &dv, MDB_RESERVE)) != 0)
		goto fail;
	cache_rec_encode(o, dv.mv_data);
	if ((rc = used_add(cs, txn,
	    (int64_t)cache_store_obj_bytes(o) - (int64_t)oldbytes)) != 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0)
		return mdb_status(rc, "commit");
	return VD_OK;
fail:
	mdb_txn_abort(txn);
	return mdb_status(rc, "put");
}

/* ------------------------------------------------------------ room */

struct room_cand {
	struct cache_key key;
	int64_t		 atime;
	uint64_t	 bytes;
	uint64_t	 body_file;
};

static uint64_t
rng_next(struct cache_store *cs)
{
	uint64_t x = cs->rng;	/* xorshift64: where to sample, nothing more */

	x ^= x << 13, x ^= x >> 7, x ^= x << 17;
	return cs->rng = x;
}

static int
cand_cmp(const void *a, const void *b)
{
	const struct room_cand *x = a, *y = b;

	return x->atime < y->atime ? -1 : x->atime > y->atime;
}

/* Up to CACHE_ROOM_SAMPLE candidates from a random key on, wrapping once. */
static size_t
room_sample(struct cache_store *cs, MDB_txn *txn, bool files_only, struct room_cand *c)
{
	uint8_t start[sizeof(((struct cache_key *)0)->b)];
	struct cache_obj o;
	MDB_cursor *cur;
	MDB_val kv = { sizeof(start), start }, dv;
	size_t n = 0, seen = 0;
	bool wrapped = false;
	int rc, op = MDB_SET_RANGE;

	put64(start, rng_next(cs));
	put64(start + 8, rng_next(cs));
	if (mdb_cursor_open(txn, cs->dbi, &cur) != 0)
		return 0;
	while (n < CACHE_ROOM_SAMPLE && seen++ < 8 * CACHE_ROOM_SAMPLE) {
		if ((rc = mdb_cursor_get(cur, &kv, &dv, op)) == MDB_NOTFOUND && !wrapped) {
			wrapped = true;
			op = MDB_FIRST;
			continue;
		}
		op = MDB_NEXT;
		/* back where we began: the store is smaller than the sample */
		if (rc != 0 || kv.mv_size != sizeof(start) ||
		    (wrapped && memcmp(kv.mv_data, start, sizeof(start)) >= 0))
			break;
		if (cache_rec_decode(dv.mv_data, dv.mv_size, &o) != VD_OK ||
		    (o.flags & CACHE_OBJ_VARY) ||
		    (files_only && !(o.flags & CACHE_OBJ_BODY_FILE)))
			continue;
		memcpy(c[n].key.b, kv.mv_data, sizeof(start));
		c[n].atime = o.last_access > 0 ? o.last_access : o.resp.response_time;
		c[n].bytes = cache_store_obj_bytes(&o);
		c[n].body_file = (o.flags & CACHE_OBJ_BODY_FILE) ? o.body_file : 0;
		n++;
	}
	mdb_cursor_close(cur);
	return n;
}

/*
 * LMDB reuses the pages a txn freed only two txns later (mdb_page_alloc
 * takes freelist records older than the oldest snapshot, which is the last
 * commit when nobody reads): so the eviction is followed by a tiny commit
 * (the "used" record rewritten as it is) and the retry can use what it freed.
 */
static void
room_tick(struct cache_store *cs)
{
	MDB_val kv = meta_used_key, dv;
	uint8_t b[8];
	MDB_txn *txn;

	if (!cs->meta_ok || write_begin(cs, &txn) != VD_OK)
		return;
	if (mdb_get(txn, cs->meta, &kv, &dv) != 0 || dv.mv_size != sizeof(b)) {
		put64(b, 0);	/* unknown total: a marker that used_add leaves alone */
		kv = (MDB_val){ 4, (void *)(uintptr_t)"tick" };
	} else
		memcpy(b, dv.mv_data, sizeof(b));
	dv = (MDB_val){ sizeof(b), b };
	if (mdb_put(txn, cs->meta, &kv, &dv, 0) != 0)
		mdb_txn_abort(txn);
	else
		(void)mdb_txn_commit(txn);
}

/*
 * Evict the least recently accessed of a sample until `need` bytes are
 * freed (see cache_store.h).  VD_OK something was removed, else a status.
 */
static int
make_room(struct cache_store *cs, uint64_t need, bool files_only)
{
	struct room_cand c[CACHE_ROOM_SAMPLE];
	uint64_t freed = 0;
	size_t n, i, nd = 0;
	MDB_txn *txn;
	MDB_val kv;
	int rc = 0;

	STATS_INC(cache_full, 1);
	if ((rc = write_begin(cs, &txn)) != VD_OK)
		return rc;
	n = room_sample(cs, txn, files_only, c);
	qsort(c, n, sizeof(*c), cand_cmp);
	for (i = 0; i < n && nd < CACHE_ROOM_BATCH && freed < need; i++, nd++) {
		key_val(&c[i].key, &kv);
		if ((rc = mdb_del(txn, cs->dbi, &kv, NULL)) != 0)
			break;
		freed += c[i].bytes;
	}
	if (rc == 0 && nd > 0)
		rc = used_add(cs, txn, -(int64_t)freed);
	if (rc != 0 || nd == 0) {
		mdb_txn_abort(txn);
		return rc != 0 ? mdb_status(rc, "evict") : CACHE_STORE_FULL;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return mdb_status(rc, "commit");
	room_tick(cs);
	for (i = 0; i < nd; i++)
		if (c[i].body_file != 0)
			unlink_body(cs, c[i].body_file);
	STATS_INC(cache_evicted, nd);
	log_debug("cache: full: evicted %zu objects, %llu bytes", nd,
	    (unsigned long long)freed);
	return VD_OK;
}

static int
put_rec(struct cache_store *cs, const struct cache_key *k, const struct cache_obj *o)
{
	uint64_t old;
	int rc;

	rc = put_once(cs, k, o, &old);
	if (rc == CACHE_STORE_FULL &&
	    make_room(cs, 2 * cache_store_obj_bytes(o), false) == VD_OK)
		rc = put_once(cs, k, o, &old);
	if (rc != VD_OK)
		return rc;
	if (old != 0 && !((o->flags & CACHE_OBJ_BODY_FILE) && o->body_file == old))
		unlink_body(cs, old);
	return VD_OK;
}

int
cache_store_put(struct cache_store *cs, const struct cache_key *k, const struct cache_obj *o)
{
	if ((o->flags & CACHE_OBJ_BODY_FILE) || o->url.len == 0)
		return VD_ERR;
	if (o->body.len != o->body_size)
		return VD_ERR;
	return put_rec(cs, k, o);
}

int
cache_store_delete(struct cache_store *cs, const struct cache_key *k)
{
	MDB_txn *txn;
	MDB_val kv;
	uint64_t old, bytes;
	int rc;

	if ((rc = write_begin(cs, &txn)) != VD_OK)
		return rc;
	key_val(k, &kv);
	old = old_body_file(cs, txn, &kv, &bytes);
	rc = mdb_del(txn, cs->dbi, &kv, NULL);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return VD_DECLINED;
	}
	if (rc == 0)
		rc = used_add(cs, txn, -(int64_t)bytes);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return mdb_status(rc, "del");
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return mdb_status(rc, "commit");
	if (old != 0)
		unlink_body(cs, old);
	return VD_OK;
}

char *
cache_store_body_path(const struct cache_store *cs, uint64_t id, char *buf, size_t size)
{
	snprintf(buf, size, "%s/bodies/%02x/%016llx", cs->path, (unsigned)(id >> 56),
	    (unsigned long long)id);
	return buf;
}

int
cache_store_body_open(struct cache_store *cs, const struct cache_obj *o)
{
	char p[PATH_MAX];

	if (!(o->flags & CACHE_OBJ_BODY_FILE)) {
		errno = EINVAL;
		return -1;
	}
	return open(cache_store_body_path(cs, o->body_file, p, sizeof(p)),
	    O_RDONLY | O_CLOEXEC | O_NOATIME);
}

static int
errno_status(void)
{
	return errno == ENOSPC || errno == EDQUOT ? CACHE_STORE_FULL : VD_ERR;
}

/*
 * ENOSPC/EDQUOT writing a body: evict objects with body files (what frees
 * the file system) and say whether to try again; errno is kept.
 */
static bool
body_room(struct cache_body *b, uint64_t need)
{
	int saved = errno;
	bool again;

	if ((saved != ENOSPC && saved != EDQUOT) || b->cs == NULL ||
	    b->room >= CACHE_BODY_ROOM_MAX)
		return false;
	b->room++;
	again = make_room(b->cs, need, true) == VD_OK;
	errno = saved;
	return again;
}

int
cache_body_begin(struct cache_store *cs, struct cache_body *b)
{
	b->cs = cs;
	b->room = 0;
	b->hfd = -1;
	b->id = cs->next_file++;
	if (b->id == 0)
		b->id = cs->next_file++;	/* 0 means "no body file" */
	b->size = 0;
	snprintf(b->tmp, sizeof(b->tmp), "%s/bodies/tmp/%ld.%016llx", cs->path,
	    (long)getpid(), (unsigned long long)b->id);
	do
		b->fd = open(b->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	while (b->fd == -1 && body_room(b, 1));
	if (b->fd == -1) {
		log_warn("cache: create %s", b->tmp);
		return errno_status();
	}
	return VD_OK;
}

int
cache_body_write(struct cache_body *b, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(b->fd, c, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			/* room for what this body has reached, once more */
			if (body_room(b, b->size + n))
				continue;
			return errno_status();
		}
		c += w, n -= (size_t)w;
		b->size += (uint64_t)w;
	}
	return VD_OK;
}

/* The head file goes with the temp name (a reader that opened it keeps it). */
static void
body_head_drop(struct cache_body *b)
{
	char p[PATH_MAX + 8];

	if (b->hfd == -1)
		return;
	close(b->hfd);
	b->hfd = -1;
	snprintf(p, sizeof(p), "%s.head", b->tmp);
	unlink(p);
}

int
cache_body_head_create(struct cache_body *b)
{
	char p[PATH_MAX + 8];

	if (b->hfd != -1 || b->fd == -1)
		return VD_ERR;
	snprintf(p, sizeof(p), "%s.head", b->tmp);
	b->hfd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	return b->hfd == -1 ? VD_ERR : VD_OK;
}

int
cache_body_tmp_open(const struct cache_store *cs, int64_t pid, uint64_t id, bool head)
{
	char p[PATH_MAX + 64];

	snprintf(p, sizeof(p), "%s/bodies/tmp/%ld.%016llx%s", cs->path, (long)pid,
	    (unsigned long long)id, head ? ".head" : "");
	return open(p, O_RDONLY | O_CLOEXEC | O_NOATIME);
}

void
cache_body_abort(struct cache_store *cs, struct cache_body *b)
{
	(void)cs;
	body_head_drop(b);
	if (b->fd != -1)
		close(b->fd);
	b->fd = -1;
	unlink(b->tmp);
}

/* bodies/xx exists, or is made now. */
static int
body_dir(const struct cache_store *cs, uint64_t id)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/bodies/%02x", cs->path, (unsigned)(id >> 56));
	return mkdir_p1(p);
}

int
cache_body_commit(struct cache_store *cs, struct cache_body *b, const struct cache_key *k,
    const struct cache_obj *o)
{
	struct cache_obj rec = *o;
	char final[PATH_MAX];
	int rc;

	if (o->body_size != b->size || close(b->fd) == -1) {
		b->fd = -1;
		cache_body_abort(cs, b);
		return VD_ERR;
	}
	b->fd = -1;
	body_head_drop(b);
	cache_store_body_path(cs, b->id, final, sizeof(final));
	if (body_dir(cs, b->id) != VD_OK || rename(b->tmp, final) == -1) {
		rc = errno_status();
		cache_body_abort(cs, b);
		return rc;
	}
	rec.flags |= CACHE_OBJ_BODY_FILE;
	rec.body_file = b->id;
	rec.body = (struct vd_str){ NULL, 0 };
	if ((rc = put_rec(cs, k, &rec)) != VD_OK)
		unlink(final);	/* never referenced: nobody can have it open */
	return rc;
}

int
cache_store_reader_check(struct cache_store *cs, int *dead)
{
	int rc;

	*dead = 0;
	if ((rc = mdb_reader_check(cs->env, dead)) != 0) {
		log_warnx("cache: reader check: %s", mdb_strerror(rc));
		return VD_ERR;
	}
	return VD_OK;
}

int
cache_store_count(struct cache_store *cs, uint64_t *n)
{
	struct cache_reader r;
	MDB_stat st;
	int rc;

	if ((rc = cache_reader_init(cs, &r)) != VD_OK)
		return rc;
	if ((rc = reader_renew(&r)) == VD_OK) {
		rc = mdb_stat(r.txn, cs->dbi, &st) == 0 ? VD_OK : VD_ERR;
		*n = st.ms_entries;
	}
	cache_reader_free(&r);
	return rc;
}

int
cache_store_used(struct cache_reader *r, uint64_t *used)
{
	MDB_val kv = meta_used_key, dv;
	int rc;

	if (!r->cs->meta_ok)
		return VD_DECLINED;
	if ((rc = reader_renew(r)) != VD_OK)
		return rc;
	rc = mdb_get(r->txn, r->cs->meta, &kv, &dv);
	if (rc == 0 && dv.mv_size == 8)
		*used = get64(dv.mv_data);
	cache_reader_reset(r);
	if (rc == MDB_NOTFOUND || (rc == 0 && dv.mv_size != 8))
		return VD_DECLINED;
	return rc == 0 ? VD_OK : VD_ERR;
}

/* One meta record in its own write txn; MDB_NOOVERWRITE: VD_DECLINED if present. */
static int
meta_write(struct cache_store *cs, MDB_val *kv, MDB_val *dv, unsigned flags)
{
	MDB_txn *txn;
	int rc;

	if (!cs->meta_ok)
		return VD_ERR;
	if ((rc = write_begin(cs, &txn)) != VD_OK)
		return rc;
	if ((rc = mdb_put(txn, cs->meta, kv, dv, flags)) != 0) {
		mdb_txn_abort(txn);
		return rc == MDB_KEYEXIST ? VD_DECLINED : mdb_status(rc, "meta");
	}
	return (rc = mdb_txn_commit(txn)) == 0 ? VD_OK : mdb_status(rc, "commit");
}

int
cache_store_used_init(struct cache_store *cs, uint64_t used)
{
	MDB_val kv = meta_used_key, dv;
	uint8_t b[8];

	put64(b, used);
	dv = (MDB_val){ sizeof(b), b };
	return meta_write(cs, &kv, &dv, MDB_NOOVERWRITE);
}

int
cache_store_meta_get(struct cache_reader *r, const char *name, struct vd_str *val)
{
	MDB_val kv = { strlen(name), (void *)(uintptr_t)name }, dv;
	int rc;

	if (!r->cs->meta_ok)
		return VD_DECLINED;
	if ((rc = reader_renew(r)) != VD_OK)
		return rc;
	if ((rc = mdb_get(r->txn, r->cs->meta, &kv, &dv)) == MDB_NOTFOUND)
		return VD_DECLINED;
	if (rc != 0) {
		log_warnx("cache: meta %s: %s", name, mdb_strerror(rc));
		return VD_ERR;
	}
	*val = (struct vd_str){ dv.mv_data, dv.mv_size };
	return VD_OK;
}

int
cache_store_meta_put(struct cache_store *cs, const char *name, const void *p, size_t len)
{
	MDB_val kv = { strlen(name), (void *)(uintptr_t)name };
	MDB_val dv = { len, (void *)(uintptr_t)p };

	return meta_write(cs, &kv, &dv, 0);
}

int
cache_store_iter(struct cache_reader *r,
    int (*cb)(void *, const struct cache_key *, const struct cache_obj *), void *arg)
{
	struct cache_key k;
	struct cache_obj o;
	MDB_cursor *cur;
	MDB_val kv, dv;
	int rc, op = MDB_FIRST, st = VD_OK;

	if ((rc = reader_renew(r)) != VD_OK)
		return rc;
	if (mdb_cursor_open(r->txn, r->cs->dbi, &cur) != 0) {
		cache_reader_reset(r);
		return VD_ERR;
	}
	while ((rc = mdb_cursor_get(cur, &kv, &dv, op)) == 0) {
		op = MDB_NEXT;
		if (kv.mv_size != sizeof(k.b) ||
		    cache_rec_decode(dv.mv_data, dv.mv_size, &o) != VD_OK)
			continue;
		memcpy(k.b, kv.mv_data, sizeof(k.b));
		if ((st = cb(arg, &k, &o)) != VD_OK)
			break;
	}
	mdb_cursor_close(cur);
	cache_reader_reset(r);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return VD_ERR;
	return st;
}

int
cache_store_tmp_sweep(struct cache_store *cs)
{
	char dir[PATH_MAX], p[PATH_MAX + 300];
	struct dirent *de;
	DIR *d;
	long pid;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/bodies/tmp", cs->path);
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		pid = strtol(de->d_name, NULL, 10);
		/* a live writer's file stays; pids are checked, not trusted */
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (unlink(p) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Bodies up to this size live in the index and are served from the map. */
#define STORE_INLINE_MAX	(64 * 1024)

int
cache_store_conf_init(struct cache_store_conf *c, const struct vd_conf *conf,
    char *path, size_t size)
{
	int workers = conf->workers > 0 ? conf->workers : 1;
	int n;

	memset(c, 0, sizeof(*c));
	if (conf->max_cache_size == CONF_SIZE_NONE)
		return VD_DECLINED;
	if (conf->cache_on_disk)
		n = snprintf(path, size, "%s", conf->cache_path != NULL ? conf->cache_path : "");
	else
		n = snprintf(path, size, "%s/cache", conf->run_dir != NULL ? conf->run_dir : ".");
	if (n <= 0 || (size_t)n >= size)
		return VD_ERR;
	c->path = path;
	c->map_size = cache_store_map_size(conf->max_cache_size);
	/* a reader slot per connection slot, for up to four worker generations
	 * draining at once (master.h), plus the manager and viaductctl */
	c->max_readers = 4 * (unsigned)(conf->max_client_connections + workers) + 64;
	c->inline_max = STORE_INLINE_MAX;
	return VD_OK;
}

int
cache_store_iter_from(struct cache_reader *r, const struct cache_key *from, size_t max,
    int (*cb)(void *, const struct cache_key *, const struct cache_obj *), void *arg,
    struct cache_key *next)
{
	struct cache_key k;
	struct cache_obj o;
	MDB_cursor *cur;
	MDB_val kv, dv;
	size_t seen = 0;
	int rc, op = MDB_FIRST, st = VD_DONE;

	if ((rc = reader_renew(r)) != VD_OK)
		return rc;
	if (mdb_cursor_open(r->txn, r->cs->dbi, &cur) != 0) {
		cache_reader_reset(r);
		return VD_ERR;
	}
	if (from != NULL) {
		key_val(from, &kv);
		op = MDB_SET_RANGE;
	}
	while ((rc = mdb_cursor_get(cur, &kv, &dv, op)) == 0) {
		op = MDB_NEXT;
		if (kv.mv_size != sizeof(k.b))
			continue;
		memcpy(k.b, kv.mv_data, sizeof(k.b));
		if (seen++ == max) {
			*next = k;
			st = VD_OK;
			break;
		}
		if (cache_rec_decode(dv.mv_data, dv.mv_size, &o) != VD_OK)
			continue;
		if ((st = cb(arg, &k, &o)) != VD_OK)
			break;
		st = VD_DONE;
	}
	mdb_cursor_close(cur);
	cache_reader_reset(r);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return VD_ERR;
	return st;
}

/* Does the record at kv still hold the victim's object?  Its bytes if so. */
static bool
victim_same(struct cache_store *cs, MDB_txn *txn, MDB_val *kv, const struct cache_victim *v,
    uint64_t *bytes)
{
	struct cache_obj o;
	MDB_val dv;

	if (mdb_get(txn, cs->dbi, kv, &dv) != 0 ||
	    cache_rec_decode(dv.mv_data, dv.mv_size, &o) != VD_OK)
		return false;
	*bytes = cache_store_obj_bytes(&o);
	return o.resp.response_time == v->response_time &&
	    ((o.flags & CACHE_OBJ_BODY_FILE) ? o.body_file : 0) == v->body_file;
}

int
cache_store_evict(struct cache_store *cs, struct cache_victim *v, size_t n)
{
	MDB_txn *txn;
	MDB_val kv;
	uint64_t bytes, freed = 0;
	size_t i;
	int rc = 0;

	for (i = 0; i < n; i++)
		v[i].removed = false;
	if (n > CACHE_EVICT_MAX)
		return VD_ERR;
	if ((rc = write_begin(cs, &txn)) != VD_OK)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		key_val(&v[i].key, &kv);
		if (!victim_same(cs, txn, &kv, &v[i], &bytes))
			continue;
		if ((rc = mdb_del(txn, cs->dbi, &kv, NULL)) == 0) {
			v[i].removed = true;
			freed += bytes;
		}
	}
	if (rc == 0)
		rc = used_add(cs, txn, -(int64_t)freed);
	if (rc == 0 && (rc = mdb_txn_commit(txn)) != 0)
		txn = NULL;		/* a failed commit has freed it */
	if (rc != 0) {
		if (txn != NULL)
			mdb_txn_abort(txn);
		for (i = 0; i < n; i++)
			v[i].removed = false;
		return mdb_status(rc, "evict");
	}
	for (i = 0; i < n; i++)
		if (v[i].removed && v[i].body_file != 0)
			unlink_body(cs, v[i].body_file);
	return VD_OK;
}

/* "0123456789abcdef" (16 lowercase hex digits) -> id; false for anything else. */
static bool
body_name_id(const char *name, uint64_t *id)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 16; i++) {
		char c = name[i];
		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return false;
	}
	if (name[16] != '\0')
		return false;
	*id = v;
	return true;
}

int
cache_store_body_sweep(struct cache_store *cs, unsigned bucket,
    bool (*referenced)(void *, uint64_t), void *arg, int64_t before)
{
	char dir[PATH_MAX];
	struct dirent *de;
	struct stat st;
	uint64_t id;
	DIR *d;
	int dfd, n = 0;

	snprintf(dir, sizeof(dir), "%s/bodies/%02x", cs->path, bucket & 0xff);
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		/* not ours (or not a body): leave it alone */
		if (!body_name_id(de->d_name, &id) || (id >> 56) != (bucket & 0xff))
			continue;
		if (referenced(arg, id))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) || (int64_t)st.st_ctime >= before)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}
