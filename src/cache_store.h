/*
 * cache_store.h — the LMDB index and the body files (see the note at the
 * top of cache_store.c for the layout and the measurements; the index is
 * cache_index.c, the record codec cache_record.c, the body files
 * cache_body.c).
 *
 * Contract:
 *   - Each process that uses the cache (workers, the cache manager,
 *     viaductctl) calls cache_store_open() itself, AFTER fork; the master
 *     never does (STYLE.md pitfalls 1 and 2).  A struct cache_store is
 *     never used across fork().
 *   - Reads: one struct cache_reader per connection slot, made once at
 *     worker start (cache_reader_init, it allocates), then
 *     cache_store_lookup() / cache_reader_reset() per request: no
 *     allocation, no write lock.  What a lookup returns points into the
 *     map and stays valid until cache_reader_reset() on that reader.  A
 *     reader held while a slow client drains a hit keeps old pages alive
 *     (pitfall 5): the caller bounds that time and copies/switches to the
 *     body file before resetting.
 *   - Writes: short write transactions (one per insert/delete); bodies
 *     larger than the inline threshold go to a temp file (cache_body_*),
 *     renamed when complete, and the index entry is committed only after
 *     that, so an interrupted insert is never visible.
 *   - Errors on the request path are statuses, never fatal: CACHE_STORE_FULL
 *     (MDB_MAP_FULL, ENOSPC, EDQUOT) means "evict and retry or skip the
 *     insert" (the cache manager's job), VD_AGAIN "try later / treat as a
 *     miss" (readers table full, map resized under active readers).
 *
 * How the request path is meant to call it (next session):
 *   worker start:  cache_store_open(&w->cache, &conf); for each conn slot
 *                  cache_reader_init(&w->cache, &c->cache_rd)
 *   hit path:      rc = cache_store_lookup(&c->cache_rd, &key, url, ulen, &obj);
 *                  VD_OK -> cache_policy.h decisions on obj.resp; inline body
 *                  obj.body goes to writev(); a body file is opened with
 *                  cache_store_body_open() and sent with sendfile(); ENOENT
 *                  there (replaced meanwhile) is a miss;
 *                  after the response: cache_reader_reset(&c->cache_rd)
 *   miss path:     small body: buffer it, cache_store_put(); large body:
 *                  cache_body_begin(), cache_body_write() per chunk as it
 *                  streams, cache_body_commit() at the end of a complete
 *                  body, cache_body_abort() if the origin fails
 *   invalidation:  cache_store_delete()
 *   cache manager: cache_store_reader_check() at start, per reaped worker and
 *                  on VD_AGAIN from readers; cache_store_iter() for sweeps
 *                  and `viaductctl cache-contents`; cache_store_tmp_sweep().
 */
#ifndef VD_CACHE_STORE_H
#define VD_CACHE_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "viaduct.h"
#include "cache_key.h"
#include "cache_policy.h"

/* Statuses beyond viaduct.h's. */
#define CACHE_STORE_FULL	(-16)	/* map full / disk full: evict and retry, or skip */
#define CACHE_STORE_COLLISION	(-17)	/* same key, different URL: treat as a miss */

#define CACHE_REC_VERSION	1
#define CACHE_REC_FIXED		144	/* bytes of the fixed part of a record */

/* struct cache_obj.flags */
#define CACHE_OBJ_BODY_FILE	0x0001	/* body in bodies/xx/<body_file>, not inline */
#define CACHE_OBJ_VARY		0x0002	/* Vary marker: look up cache_key_variant() */
#define CACHE_OBJ_VARY_STAR	0x0004	/* resp.vary_star */
/* A Vary marker whose URL was invalidated: its variants that were stored
 * in or before the second resp.request_time are void (cache_store_invalidate) */
#define CACHE_OBJ_VARY_VOID	0x0008
#define CACHE_OBJ_HTTP10	0x0010	/* the response came as HTTP/1.0 (the hit's Via) */
#define CACHE_OBJ_FLAGS		0x001f

/*
 * A stored object.  For a lookup every vd_str points into the map (valid
 * until the reader is reset); for a put the caller's buffers.  head: the
 * stored header block, "Name: value\r\n" lines (cache_field_storable()
 * only); vary: canonical names (cache_key_vary_names); etag and
 * last_modified: the raw field values, for cache_conditional_fields().
 */
struct cache_obj {
	struct cache_resp resp;
	unsigned	 flags;
	int64_t		 last_access;	/* approximate, written by the cache manager */
	uint64_t	 body_size;
	uint64_t	 body_file;	/* CACHE_OBJ_BODY_FILE */
	struct vd_str	 url;		/* normalised; detects key collisions */
	struct vd_str	 head;
	struct vd_str	 vary;
	struct vd_str	 etag;
	struct vd_str	 last_modified;
	struct vd_str	 body;		/* inline body */
};

/* Record codec (pure; the fuzzer's target).  encode: bytes needed. */
size_t	cache_rec_size(const struct cache_obj *);
void	cache_rec_encode(const struct cache_obj *, uint8_t *buf);
/* VD_OK, or VD_ERR for anything that is not a whole, consistent record. */
int	cache_rec_decode(const uint8_t *p, size_t len, struct cache_obj *);

struct cache_store_conf {
	const char	*path;		/* directory, created if missing (not read-only) */
	size_t		 map_size;	/* cache_store_map_size() */
	unsigned	 max_readers;	/* >= workers x readers per worker + manager + tools */
	size_t		 inline_max;	/* bodies up to this size live in the index */
	bool		 read_only;	/* viaductctl */
};

struct cache_store {
	MDB_env		*env;
	MDB_dbi		 dbi;
	MDB_dbi		 meta;		/* "meta": bytes used, cumulative statistics */
	uint64_t	 rng;		/* where eviction on a full store samples */
	bool		 meta_ok;	/* false: read-only open of a store without it */
	size_t		 inline_max;
	unsigned	 active;	/* read txns in use: map resize needs 0 */
	size_t		 map_cap;	/* the map may grow to this (cache_store_grow) */
	uint64_t	 next_file;
	bool		 read_only;
	char		 path[PATH_MAX - 64];	/* room for "/bodies/tmp/<pid>.<id>" */
};

struct cache_reader {
	struct cache_store *cs;
	MDB_txn		*txn;
	bool		 active;
};

struct cache_body {
	struct cache_store *cs;		/* set by cache_body_begin: room on ENOSPC */
	unsigned	 room;		/* evictions this body made (bounded) */
	int		 fd;
	int		 hfd;		/* the head file beside it (cache_rww.h), -1 */
	uint64_t	 id;
	uint64_t	 size;
	char		 tmp[PATH_MAX];
};

/*
 * A full store (MDB_MAP_FULL; ENOSPC, EDQUOT, or the EIO that LMDB makes of
 * a short write, from the commit; ENOSPC or EDQUOT writing a body file):
 * the inserting process evicts in its own write transaction (it holds the
 * write lock for the insert anyway; hits never write) and retries once.
 * Eviction samples up to CACHE_ROOM_SAMPLE consecutive keys from a random
 * point (keys are hashes: a random sample, and a contiguous one, so that
 * deleting them empties whole B+tree pages), and deletes the least recently
 * accessed of them, at most CACHE_ROOM_BATCH, until twice the insert's
 * bytes are freed (a body file: what it has written so far, at most
 * CACHE_BODY_ROOM_MAX times per body).  Counted in the caller's stats slot:
 * cache-full (each time), cache-evicted (objects removed).  When the retry
 * fails too, the status is CACHE_STORE_FULL and the insert is skipped.
 */
#define CACHE_ROOM_SAMPLE	64
#define CACHE_ROOM_BATCH	16
#define CACHE_BODY_ROOM_MAX	4

/* What an object occupies: key, record, body file (the "used" total's unit). */
uint64_t	cache_store_obj_bytes(const struct cache_obj *);

/* Map size from max-cache-size (bytes; 0 none -> 0, INT64_MAX unlimited). */
size_t	cache_store_map_size(int64_t max_cache_size);

/* Logs the reason on failure; VD_OK / VD_ERR. */
int	cache_store_open(struct cache_store *, const struct cache_store_conf *);
void	cache_store_close(struct cache_store *);

int	cache_reader_init(struct cache_store *, struct cache_reader *);
void	cache_reader_reset(struct cache_reader *);
void	cache_reader_free(struct cache_reader *);

/*
 * VD_OK with *obj filled (zero-copy); VD_DECLINED not found;
 * CACHE_STORE_COLLISION the key holds another URL (url NULL: not checked);
 * VD_AGAIN readers full / map resized; VD_ERR damaged record or LMDB error.
 */
int	cache_store_lookup(struct cache_reader *, const struct cache_key *,
	    const char *url, size_t ulen, struct cache_obj *);

/*
 * Insert or replace (the replaced object's body file is removed after the
 * commit).  obj->body inline; obj->flags must not have CACHE_OBJ_BODY_FILE
 * (cache_body_commit does that).  VD_OK, CACHE_STORE_FULL, VD_AGAIN, VD_ERR.
 */
int	cache_store_put(struct cache_store *, const struct cache_key *, const struct cache_obj *);
/* VD_OK, VD_DECLINED (nothing there), VD_AGAIN, VD_ERR. */
int	cache_store_delete(struct cache_store *, const struct cache_key *);
/*
 * RFC 9111 §4.4: invalidate a URL, given its primary key.  A plain object
 * is deleted; a Vary marker stays, marked CACHE_OBJ_VARY_VOID with `now`,
 * so that every variant stored until then -- whichever request headers
 * selected it -- is a miss from now on, also once the marker is rewritten
 * by a new variant (which carries the mark on).  Statuses as delete's;
 * VD_DECLINED also for a marker void already, with no variant since.
 */
int	cache_store_invalidate(struct cache_store *, const struct cache_key *, int64_t now);

int	cache_body_begin(struct cache_store *, struct cache_body *);
int	cache_body_write(struct cache_body *, const void *p, size_t n);
/* Renames the file into place, then commits obj with body_file set. */
int	cache_body_commit(struct cache_store *, struct cache_body *, const struct cache_key *,
	    const struct cache_obj *);
void	cache_body_abort(struct cache_store *, struct cache_body *);
/*
 * Read-while-writer (cache_rww.h): a head file beside the temp body,
 * bodies/tmp/<pid>.<id>.head, that other workers read while the body is
 * written.  Created empty (O_RDWR, fd in b->hfd, the caller writes it);
 * commit and abort close and remove it with the temp name.  VD_OK, VD_ERR.
 */
int	cache_body_head_create(struct cache_body *);
/* Another process's temp body file (head: its head file) by the writer's
 * pid and id, O_RDONLY|O_CLOEXEC, or -1 with errno (ENOENT: renamed or gone). */
int	cache_body_tmp_open(const struct cache_store *, int64_t pid, uint64_t id, bool head);
/* O_RDONLY|O_CLOEXEC fd of a stored body file, or -1 with errno. */
int	cache_store_body_open(struct cache_store *, const struct cache_obj *);
/* "<path>/bodies/xx/<16 hex>" into buf; returns buf. */
char	*cache_store_body_path(const struct cache_store *, uint64_t id, char *buf, size_t size);

/* mdb_reader_check: *dead slots cleared.  VD_OK / VD_ERR. */
int	cache_store_reader_check(struct cache_store *, int *dead);
/* Entries in the index. */
int	cache_store_count(struct cache_store *, uint64_t *n);

/*
 * Bytes used by the whole store (cache_store_obj_bytes of every object),
 * kept in the "meta" database by every write transaction, so exact and
 * current.  VD_OK; VD_DECLINED when unknown (a store written before this
 * record existed: cache_store_used_init() sets it once from a full scan);
 * VD_AGAIN / VD_ERR.  The reader is reset afterwards.
 */
int	cache_store_used(struct cache_reader *, uint64_t *used);
/* Set the total if it is still unknown.  VD_OK, VD_DECLINED (already known). */
int	cache_store_used_init(struct cache_store *, uint64_t used);

/*
 * Small named blobs in the "meta" database (cumulative statistics).  get:
 * *val points into the map until cache_reader_reset(); VD_OK, VD_DECLINED
 * (absent), VD_AGAIN, VD_ERR.  put: VD_OK, CACHE_STORE_FULL, VD_AGAIN, VD_ERR.
 */
int	cache_store_meta_get(struct cache_reader *, const char *name, struct vd_str *val);
int	cache_store_meta_put(struct cache_store *, const char *name, const void *p, size_t len);

/*
 * Walk the index in key order within one read snapshot; cb returns VD_OK
 * to go on, anything else stops (and is returned).  Damaged records are
 * skipped.  Pointers in obj are valid only during the callback.
 */
int	cache_store_iter(struct cache_reader *,
	    int (*cb)(void *arg, const struct cache_key *, const struct cache_obj *), void *arg);

/* Remove temp body files left by dead writers (cache manager start). Count or -1. */
int	cache_store_tmp_sweep(struct cache_store *);

/*
 * For the cache manager (cachemgr.h) and every process that opens the
 * store: one place that derives the environment from the configuration,
 * so that all processes open it alike.  The directory is cache-path with
 * cache-on-disk=yes, and <run-dir>/cache with cache-on-disk=no (run-dir is
 * on tmpfs, /run; no fsync then).  VD_DECLINED when max-cache-size=none
 * (no cache at all), VD_ERR when the path does not fit in path[size].
 */
struct vd_conf;
int	cache_store_conf_init(struct cache_store_conf *, const struct vd_conf *,
	    char *path, size_t size);

/*
 * Like cache_store_iter() but bounded: starts at the first key >= *from
 * (NULL: the first key), visits at most max entries within one snapshot,
 * and stores the first key not visited in *next.  VD_OK more remain,
 * VD_DONE the end was reached, else cb's status, VD_AGAIN or VD_ERR.
 */
int	cache_store_iter_from(struct cache_reader *, const struct cache_key *from, size_t max,
	    int (*cb)(void *arg, const struct cache_key *, const struct cache_obj *), void *arg,
	    struct cache_key *next);

/*
 * Eviction, in one short write transaction: each victim is deleted only if
 * its key still holds the object seen (same response_time and body_file),
 * so an object replaced since the scan survives.  Sets v[i].removed; body
 * files are unlinked after the commit.  n <= CACHE_EVICT_MAX.
 * VD_OK, CACHE_STORE_FULL, VD_AGAIN, VD_ERR (nothing removed then).
 */
/*
 * Access times from the workers' hits (cache_atime.h), applied by the
 * cache manager: each record of t[i].key whose last_access is older gets
 * t[i].atime, in one write transaction (records gone or replaced meanwhile
 * are left as they are; sizes and the byte count do not change).
 * VD_OK, CACHE_STORE_FULL, VD_AGAIN, VD_ERR (nothing written then).
 */
struct cache_touch {
	struct cache_key key;
	int64_t		 atime;
};
int	cache_store_touch(struct cache_store *, const struct cache_touch *t, size_t n);

#define CACHE_EVICT_MAX		512
struct cache_victim {
	struct cache_key key;
	int64_t		 atime;		/* ordering only: approximate last access */
	int64_t		 response_time;	/* identity of the object seen */
	uint64_t	 body_file;
	uint64_t	 bytes;		/* what removing it frees (cachemgr_obj_bytes) */
	bool		 removed;
};
int	cache_store_evict(struct cache_store *, struct cache_victim *, size_t n);

/*
 * Orphan body files: in bodies/<bucket as 2 hex digits>, unlink every file
 * whose id referenced() denies and whose ctime is before `before` (a body
 * renamed into place just before its index commit is not an orphan yet).
 * Returns the number removed, or -1 (errno) if the bucket cannot be read;
 * a missing bucket is 0.
 */
int	cache_store_body_sweep(struct cache_store *, unsigned bucket,
	    bool (*referenced)(void *arg, uint64_t id), void *arg, int64_t before);

#endif
