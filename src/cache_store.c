/*
 * cache_store.c — the shared cache index (LMDB) and its body files: the
 * environment, its transactions and the "meta" database.  The store's
 * other parts share cache_store_priv.h: cache_index.c (the "objects"
 * database: lookup, insert, delete, iteration, eviction), cache_record.c
 * (the record codec) and cache_body.c (body files: temp, rename, sweep).
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
 *   the inserting process (cache_index_room: a sampled LRU in its own write txn,
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

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "cache_store_priv.h"

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

int
cache_store_mkdir(const char *path)
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

	if (cache_store_mkdir(cs->path) != VD_OK)
		return VD_ERR;
	snprintf(p, sizeof(p), "%s/bodies", cs->path);
	if (cache_store_mkdir(p) != VD_OK)
		return VD_ERR;
	snprintf(p, sizeof(p), "%s/bodies/tmp", cs->path);
	return cache_store_mkdir(p);
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

/* What growing the map by one step gives, from `size`: a quarter more,
 * and at least a MiB. */
static size_t
grown(size_t size)
{
	return size + size / 4 + (1U << 20);
}

bool
cache_store_grow(struct cache_store *cs)
{
	MDB_envinfo info;
	size_t to;

	if (cs->active != 0 || mdb_env_info(cs->env, &info) != 0 ||
	    (to = grown(info.me_mapsize)) > cs->map_cap ||
	    mdb_env_set_mapsize(cs->env, to) != 0)
		return false;
	log_info("cache: the index map grows to %zu MiB so that objects can be removed",
	    to >> 20);
	return true;
}

/*
 * A store whose data fills the configured map, or more (max-cache-size was
 * lowered, or inserts outran eviction): LMDB maps the file as it is, with
 * no free page, and then not even a delete can commit.  Room beyond the
 * data, so that the cache manager can evict down to the new bound.
 */
static void
room_over_data(struct cache_store *cs)
{
	MDB_envinfo info;
	MDB_stat st;
	size_t used, to;

	if (mdb_env_info(cs->env, &info) != 0 || mdb_env_stat(cs->env, &st) != 0)
		return;
	used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
	/* a quarter of the map free is room enough to remove objects */
	if (used <= info.me_mapsize - info.me_mapsize / 4 || (to = grown(used)) <= info.me_mapsize)
		return;
	if (mdb_env_set_mapsize(cs->env, to) == 0) {
		log_info("cache: the index (%zu MiB) fills its map: mapped with %zu MiB",
		    used >> 20, to >> 20);
		if (to > cs->map_cap)
			cs->map_cap = to;
	}
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
	cs->map_cap = c->map_size * 2;
	if (!c->read_only)
		room_over_data(cs);
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

int
cache_store_renew(struct cache_reader *r)
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

int
cache_store_write_begin(struct cache_store *cs, MDB_txn **txn)
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
int
cache_store_mdb_status(int rc, const char *what)
{
	if (rc == MDB_MAP_FULL || rc == ENOSPC || rc == EDQUOT || rc == EIO)
		return CACHE_STORE_FULL;
	log_warnx("cache: %s: %s", what, mdb_strerror(rc));
	return VD_ERR;
}

/* used += delta in this txn; an unknown total stays unknown.  An mdb status. */
int
cache_store_used_add(struct cache_store *cs, MDB_txn *txn, int64_t delta)
{
	MDB_val kv = CACHE_META_USED, dv;
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
	if ((rc = cache_store_renew(&r)) == VD_OK) {
		rc = mdb_stat(r.txn, cs->dbi, &st) == 0 ? VD_OK : VD_ERR;
		*n = st.ms_entries;
	}
	cache_reader_free(&r);
	return rc;
}

int
cache_store_used(struct cache_reader *r, uint64_t *used)
{
	MDB_val kv = CACHE_META_USED, dv;
	int rc;

	if (!r->cs->meta_ok)
		return VD_DECLINED;
	if ((rc = cache_store_renew(r)) != VD_OK)
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
	if ((rc = cache_store_write_begin(cs, &txn)) != VD_OK)
		return rc;
	if ((rc = mdb_put(txn, cs->meta, kv, dv, flags)) != 0) {
		mdb_txn_abort(txn);
		return rc == MDB_KEYEXIST ? VD_DECLINED : cache_store_mdb_status(rc, "meta");
	}
	return (rc = mdb_txn_commit(txn)) == 0 ? VD_OK : cache_store_mdb_status(rc, "commit");
}

int
cache_store_used_init(struct cache_store *cs, uint64_t used)
{
	MDB_val kv = CACHE_META_USED, dv;
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
	if ((rc = cache_store_renew(r)) != VD_OK)
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
