/*
 * cache_index.c — the store's "objects" database (see cache_store.h and the
 * design note in cache_store.c): lookup, insert and delete, each insert or
 * delete with its "used" update in one write txn; iteration; and making
 * room in a full store by evicting a sampled least recently used few.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stats.h"
#include "cache_store_priv.h"

int
cache_store_lookup(struct cache_reader *r, const struct cache_key *k, const char *url,
    size_t ulen, struct cache_obj *o)
{
	MDB_val kv, dv;
	int rc;

	if ((rc = cache_store_renew(r)) != VD_OK)
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

/*
 * A Vary marker written over one whose URL was invalidated keeps the later
 * of the two invalidations (cache_store_invalidate), whoever writes it: a
 * request that never looked the marker up must not bring the void
 * variants back.  o, or *m set from it.
 */
static const struct cache_obj *
marker_keeps_void(struct cache_store *cs, MDB_txn *txn, MDB_val *kv, const struct cache_obj *o,
    struct cache_obj *m)
{
	struct cache_obj old;
	MDB_val dv;

	if (mdb_get(txn, cs->dbi, kv, &dv) != 0 ||
	    cache_rec_decode(dv.mv_data, dv.mv_size, &old) != VD_OK ||
	    !(old.flags & CACHE_OBJ_VARY_VOID) ||
	    ((o->flags & CACHE_OBJ_VARY_VOID) && o->resp.request_time >= old.resp.request_time))
		return o;
	*m = *o;
	m->flags |= CACHE_OBJ_VARY_VOID;
	m->resp.request_time = old.resp.request_time;
	return m;
}

static int
put_once(struct cache_store *cs, const struct cache_key *k, const struct cache_obj *o,
    uint64_t *old)
{
	struct cache_obj m;
	MDB_txn *txn;
	MDB_val kv, dv;
	uint64_t oldbytes;
	int rc;

	if ((rc = cache_store_write_begin(cs, &txn)) != VD_OK)
		return rc;
	key_val(k, &kv);
	*old = old_body_file(cs, txn, &kv, &oldbytes);
	if (o->flags & CACHE_OBJ_VARY)
		o = marker_keeps_void(cs, txn, &kv, o, &m);
	dv.mv_size = cache_rec_size(o);
	dv.mv_data = NULL;
	/* MDB_RESERVE: encode straight into the map, no intermediate copy */
	if ((rc = mdb_put(txn, cs->dbi, &kv, &dv, MDB_RESERVE)) != 0)
		goto fail;
	cache_rec_encode(o, dv.mv_data);
	if ((rc = cache_store_used_add(cs, txn,
	    (int64_t)cache_store_obj_bytes(o) - (int64_t)oldbytes)) != 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0)
		return cache_store_mdb_status(rc, "commit");
	return VD_OK;
fail:
	mdb_txn_abort(txn);
	return cache_store_mdb_status(rc, "put");
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
	MDB_val kv = CACHE_META_USED, dv;
	uint8_t b[8];
	MDB_txn *txn;

	if (!cs->meta_ok || cache_store_write_begin(cs, &txn) != VD_OK)
		return;
	if (mdb_get(txn, cs->meta, &kv, &dv) != 0 || dv.mv_size != sizeof(b)) {
		put64(b, 0);	/* unknown total: a marker cache_store_used_add leaves alone */
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
int
cache_index_room(struct cache_store *cs, uint64_t need, bool files_only)
{
	struct room_cand c[CACHE_ROOM_SAMPLE];
	uint64_t freed = 0;
	size_t n, i, nd = 0;
	MDB_txn *txn;
	MDB_val kv;
	int rc = 0;

	STATS_INC(cache_full, 1);
	if ((rc = cache_store_write_begin(cs, &txn)) != VD_OK)
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
		rc = cache_store_used_add(cs, txn, -(int64_t)freed);
	if (rc != 0 || nd == 0) {
		mdb_txn_abort(txn);
		return rc != 0 ? cache_store_mdb_status(rc, "evict") : CACHE_STORE_FULL;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return cache_store_mdb_status(rc, "commit");
	room_tick(cs);
	for (i = 0; i < nd; i++)
		if (c[i].body_file != 0)
			cache_body_unlink(cs, c[i].body_file);
	STATS_INC(cache_evicted, nd);
	log_debug("cache: full: evicted %zu objects, %llu bytes", nd,
	    (unsigned long long)freed);
	return VD_OK;
}

int
cache_index_put(struct cache_store *cs, const struct cache_key *k, const struct cache_obj *o)
{
	uint64_t old;
	int rc;

	rc = put_once(cs, k, o, &old);
	if (rc == CACHE_STORE_FULL &&
	    cache_index_room(cs, 2 * cache_store_obj_bytes(o), false) == VD_OK)
		rc = put_once(cs, k, o, &old);
	if (rc != VD_OK)
		return rc;
	if (old != 0 && !((o->flags & CACHE_OBJ_BODY_FILE) && o->body_file == old))
		cache_body_unlink(cs, old);
	return VD_OK;
}

int
cache_store_put(struct cache_store *cs, const struct cache_key *k, const struct cache_obj *o)
{
	if ((o->flags & CACHE_OBJ_BODY_FILE) || o->url.len == 0)
		return VD_ERR;
	if (o->body.len != o->body_size)
		return VD_ERR;
	return cache_index_put(cs, k, o);
}

int
cache_store_delete(struct cache_store *cs, const struct cache_key *k)
{
	MDB_txn *txn;
	MDB_val kv;
	uint64_t old, bytes;
	int rc;

	if ((rc = cache_store_write_begin(cs, &txn)) != VD_OK)
		return rc;
	key_val(k, &kv);
	old = old_body_file(cs, txn, &kv, &bytes);
	rc = mdb_del(txn, cs->dbi, &kv, NULL);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return VD_DECLINED;
	}
	if (rc == 0)
		rc = cache_store_used_add(cs, txn, -(int64_t)bytes);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return cache_store_mdb_status(rc, "del");
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return cache_store_mdb_status(rc, "commit");
	if (old != 0)
		cache_body_unlink(cs, old);
	return VD_OK;
}

int
cache_store_invalidate(struct cache_store *cs, const struct cache_key *k, int64_t now)
{
	struct cache_obj o;
	MDB_txn *txn;
	MDB_val kv, dv;
	uint8_t *rec;
	int rc;

	if ((rc = cache_store_write_begin(cs, &txn)) != VD_OK)
		return rc;
	key_val(k, &kv);
	if (mdb_get(txn, cs->dbi, &kv, &dv) != 0 ||
	    cache_rec_decode(dv.mv_data, dv.mv_size, &o) != VD_OK || !(o.flags & CACHE_OBJ_VARY)) {
		mdb_txn_abort(txn);
		return cache_store_delete(cs, k);
	}
	/* void already, and no variant stored since (the marker carries the
	 * last one's response time): nothing is removed (a PURGE says 404) */
	if ((o.flags & CACHE_OBJ_VARY_VOID) && o.resp.response_time <= o.resp.request_time) {
		mdb_txn_abort(txn);
		return VD_DECLINED;
	}
	o.flags |= CACHE_OBJ_VARY_VOID;
	o.resp.request_time = now;
	/* encoded apart: o points into the pages the put may rewrite */
	if ((rec = malloc(cache_rec_size(&o))) == NULL) {
		mdb_txn_abort(txn);
		return VD_ERR;
	}
	cache_rec_encode(&o, rec);
	dv = (MDB_val){ cache_rec_size(&o), rec };
	rc = mdb_put(txn, cs->dbi, &kv, &dv, 0);
	free(rec);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return cache_store_mdb_status(rc, "put");
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return cache_store_mdb_status(rc, "commit");
	return VD_OK;
}

/* A cursor over the objects in the reader's renewed txn.  A status. */
static int
cursor_begin(struct cache_reader *r, MDB_cursor **cur)
{
	int rc;

	if ((rc = cache_store_renew(r)) != VD_OK)
		return rc;
	if (mdb_cursor_open(r->txn, r->cs->dbi, cur) != 0) {
		cache_reader_reset(r);
		return VD_ERR;
	}
	return VD_OK;
}

/* The walk is over (rc: the last mdb_cursor_get): st, or VD_ERR if the
 * cursor failed. */
static int
cursor_end(struct cache_reader *r, MDB_cursor *cur, int rc, int st)
{
	mdb_cursor_close(cur);
	cache_reader_reset(r);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return VD_ERR;
	return st;
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

	if ((rc = cursor_begin(r, &cur)) != VD_OK)
		return rc;
	while ((rc = mdb_cursor_get(cur, &kv, &dv, op)) == 0) {
		op = MDB_NEXT;
		if (kv.mv_size != sizeof(k.b) ||
		    cache_rec_decode(dv.mv_data, dv.mv_size, &o) != VD_OK)
			continue;
		memcpy(k.b, kv.mv_data, sizeof(k.b));
		if ((st = cb(arg, &k, &o)) != VD_OK)
			break;
	}
	return cursor_end(r, cur, rc, st);
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

	if ((rc = cursor_begin(r, &cur)) != VD_OK)
		return rc;
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
	return cursor_end(r, cur, rc, st);
}

int
cache_store_touch(struct cache_store *cs, const struct cache_touch *t, size_t n)
{
	MDB_txn *txn;
	MDB_val kv, dv;
	struct cache_obj o;
	uint8_t *buf = NULL, *nb;
	size_t cap = 0, len;
	int rc;

	if ((rc = cache_store_write_begin(cs, &txn)) != VD_OK)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		key_val(&t[i].key, &kv);
		if (mdb_get(txn, cs->dbi, &kv, &dv) != 0 ||
		    cache_rec_decode(dv.mv_data, dv.mv_size, &o) != VD_OK ||
		    o.last_access >= t[i].atime)
			continue;
		o.last_access = t[i].atime;
		if ((len = cache_rec_size(&o)) != dv.mv_size)
			continue;	/* not the record it decoded from: leave it */
		if (len > cap) {
			if ((nb = realloc(buf, len)) == NULL) {
				rc = ENOMEM;
				break;
			}
			buf = nb;
			cap = len;
		}
		cache_rec_encode(&o, buf);	/* reads the map: before the put */
		dv = (MDB_val){ len, buf };
		rc = mdb_put(txn, cs->dbi, &kv, &dv, 0);
	}
	if (rc == 0 && (rc = mdb_txn_commit(txn)) != 0)
		txn = NULL;		/* a failed commit has freed it */
	if (rc != 0 && txn != NULL)
		mdb_txn_abort(txn);
	free(buf);
	return rc == 0 ? VD_OK : cache_store_mdb_status(rc, "touch");
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

static int evict_once(struct cache_store *, struct cache_victim *, size_t);

int
cache_store_evict(struct cache_store *cs, struct cache_victim *v, size_t n)
{
	int rc = evict_once(cs, v, n);

	/* a map the data fills exactly has no page for the deletes either */
	if (rc == CACHE_STORE_FULL && cache_store_grow(cs))
		rc = evict_once(cs, v, n);
	return rc;
}

static int
evict_once(struct cache_store *cs, struct cache_victim *v, size_t n)
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
	if ((rc = cache_store_write_begin(cs, &txn)) != VD_OK)
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
		rc = cache_store_used_add(cs, txn, -(int64_t)freed);
	if (rc == 0 && (rc = mdb_txn_commit(txn)) != 0)
		txn = NULL;		/* a failed commit has freed it */
	if (rc != 0) {
		if (txn != NULL)
			mdb_txn_abort(txn);
		for (i = 0; i < n; i++)
			v[i].removed = false;
		return cache_store_mdb_status(rc, "evict");
	}
	for (i = 0; i < n; i++)
		if (v[i].removed && v[i].body_file != 0)
			cache_body_unlink(cs, v[i].body_file);
	return VD_OK;
}
