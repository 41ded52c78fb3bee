/*
 * cache_store_priv.h — private to the store's implementation: cache_store.c
 * (the environment, transactions, the "meta" database), cache_index.c (the
 * "objects" database: lookup, insert, delete, iteration, eviction),
 * cache_record.c (the record codec) and cache_body.c (body files).  The
 * contract for everyone else is cache_store.h; nothing else includes this.
 */
#ifndef VD_CACHE_STORE_PRIV_H
#define VD_CACHE_STORE_PRIV_H

#include <stdint.h>

#include <lmdb.h>

#include "cache_store.h"

/* The "meta" record that holds the store's byte count. */
#define CACHE_META_USED	{ 4, (void *)(uintptr_t)"used" }

/* Little-endian integers at any alignment (LMDB gives none). */
static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void
put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static inline void
key_val(const struct cache_key *k, MDB_val *v)
{
	v->mv_size = sizeof(k->b);
	v->mv_data = (void *)(uintptr_t)k->b;
}

/* cache_store.c.  A directory made if missing (VD_OK, VD_ERR logged). */
int	cache_store_mkdir(const char *path);
/* The reader's txn renewed if it is parked: VD_OK, VD_AGAIN (map resized
 * elsewhere, or no reader slot), VD_ERR. */
int	cache_store_renew(struct cache_reader *);
/* A write txn: VD_OK, VD_AGAIN (map resized elsewhere), VD_ERR. */
int	cache_store_write_begin(struct cache_store *, MDB_txn **);
/* MDB_MAP_FULL: a delete needs free pages too, and a map that the data
 * fills exactly could then never be made room in.  Grow the map by a
 * quarter (and a MiB) up to map_cap; other processes adopt it
 * (MDB_MAP_RESIZED).  true when it grew; only with no read txn active here. */
bool	cache_store_grow(struct cache_store *);
/* An LMDB error as a status: CACHE_STORE_FULL for a full map or file
 * system, else VD_ERR (logged with what). */
int	cache_store_mdb_status(int rc, const char *what);
/* used += delta in txn; an unknown total stays unknown.  An mdb status. */
int	cache_store_used_add(struct cache_store *, MDB_txn *, int64_t delta);

/* cache_index.c.  The record of o at k in its own txn, room made once when
 * the store is full; a replaced record's body file is unlinked.  A status. */
int	cache_index_put(struct cache_store *, const struct cache_key *k,
	    const struct cache_obj *o);
/* Evict the least recently accessed of a sample until need bytes are
 * freed, of objects with body files only if files_only (cache_store.h).
 * VD_OK something was removed, else a status. */
int	cache_index_room(struct cache_store *, uint64_t need, bool files_only);

/* cache_body.c.  Body file id removed (after the commit that dropped it). */
void	cache_body_unlink(const struct cache_store *, uint64_t id);

#endif
