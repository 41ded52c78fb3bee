/*
 * cache_collapse.c — one origin fetch per cache key across workers (see
 * cache_collapse.h for the protocol).  The entries live in the shared stats
 * segment; each is written by its slot's worker only, with atomic word
 * stores, and read by every other worker with atomic word loads.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "viaduct.h"
#include "cache_collapse.h"
#include "cache_key.h"
#include "stats.h"

enum { CO_FREE, CO_CLAIM, CO_FETCH };

struct co_key {
	uint64_t	 w[2];
};

static struct co_key
co_key(const struct cache_key *k)
{
	struct co_key c;

	memcpy(c.w, k->b, sizeof(c.w));
	return c;
}

static struct stats_collapse *
own(const struct collapse *co)
{
	return co->hdr->slots[co->self].collapse;
}

/* The state of e if it holds k, else CO_FREE.  A torn read (the owner
 * reusing the entry meanwhile) can only miss or mismatch, never invent k. */
static uint64_t
entry_state(const struct stats_collapse *e, struct co_key k)
{
	uint64_t st = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);

	if (st == CO_FREE ||
	    __atomic_load_n(&e->key[0], __ATOMIC_RELAXED) != k.w[0] ||
	    __atomic_load_n(&e->key[1], __ATOMIC_RELAXED) != k.w[1])
		return CO_FREE;
	return st;
}

void
collapse_off(struct collapse *co)
{
	co->hdr = NULL;
	co->self = 0;
}

int
collapse_init(struct collapse *co, struct stats_hdr *hdr, uint32_t self)
{
	collapse_off(co);
	if (hdr == NULL || self >= hdr->nslots)
		return VD_ERR;
	co->hdr = hdr;
	co->self = self;
	return VD_OK;
}

int
collapse_attach(struct collapse *co, struct stats_slot *mine, const char *run_dir)
{
	const struct stats_hdr *ro;
	struct stats_hdr *hdr;
	char path[4096];
	size_t len;
	int64_t idx = -1;

	collapse_off(co);
	if (mine == NULL || run_dir == NULL)
		return VD_DECLINED;
	/* our index, from the file (as connstat.c finds it) */
	snprintf(path, sizeof(path), "%s/stats", run_dir);
	if ((ro = stats_open_ro(path, &len)) == NULL)
		return VD_DECLINED;
	for (uint32_t i = 0; i < ro->nslots; i++)
		if (ro->slots[i].pid == (int64_t)getpid())
			idx = i;
	stats_unmap(ro, len);
	if (idx < 0)
		return VD_DECLINED;
	/* our own writable map of the segment starts idx slots before ours */
	hdr = (struct stats_hdr *)(void *)((char *)mine - offsetof(struct stats_hdr, slots) -
	    (size_t)idx * sizeof(struct stats_slot));
	if (hdr->magic != STATS_MAGIC || collapse_init(co, hdr, (uint32_t)idx) != VD_OK)
		return VD_DECLINED;
	return VD_OK;
}

bool
collapse_busy(const struct collapse *co, const struct cache_key *key)
{
	struct co_key k = co_key(key);

	if (co->hdr == NULL)
		return false;
	for (uint32_t s = 0; s < co->hdr->nslots; s++)
		for (int i = 0; i < STATS_COLLAPSE_MAX; i++)
			if (entry_state(&co->hdr->slots[s].collapse[i], k) != CO_FREE)
				return true;
	return false;
}

static void
withdraw(struct collapse *co, int h)
{
	__atomic_store_n(&own(co)[h].state, (uint64_t)CO_FREE, __ATOMIC_RELEASE);
}

/* Our entry h is published as CLAIM: decide (the answers of collapse_claim). */
static int
decide(struct collapse *co, int h)
{
	struct stats_collapse *e = &own(co)[h];
	struct co_key k = { { e->key[0], e->key[1] } };
	bool higher = false;

	/* our CLAIM must be visible before we look at anybody else's */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (uint32_t s = 0; s < co->hdr->nslots; s++) {
		if (s == co->self)
			continue;
		for (int i = 0; i < STATS_COLLAPSE_MAX; i++) {
			uint64_t st = entry_state(&co->hdr->slots[s].collapse[i], k);

			if (st == CO_FREE)
				continue;
			if (st == CO_FETCH || s < co->self) {
				withdraw(co, h);
				return VD_AGAIN;
			}
			higher = true;
		}
	}
	if (higher)
		return VD_DECLINED;
	__atomic_store_n(&e->state, (uint64_t)CO_FETCH, __ATOMIC_RELEASE);
	return VD_OK;
}

int
collapse_claim(struct collapse *co, const struct cache_key *key, int *h)
{
	struct co_key k = co_key(key);
	struct stats_collapse *tbl;
	int fr = -1, rc;

	*h = -1;
	if (co->hdr == NULL)
		return VD_ERR;
	tbl = own(co);
	/* this worker first: one thread, so the table cannot change under us */
	for (int i = 0; i < STATS_COLLAPSE_MAX; i++) {
		if (tbl[i].state == CO_FREE) {
			if (fr < 0)
				fr = i;
		} else if (tbl[i].key[0] == k.w[0] && tbl[i].key[1] == k.w[1]) {
			return VD_AGAIN;
		}
	}
	if (fr < 0)
		return VD_ERR;
	__atomic_store_n(&tbl[fr].key[0], k.w[0], __ATOMIC_RELAXED);
	__atomic_store_n(&tbl[fr].key[1], k.w[1], __ATOMIC_RELAXED);
	__atomic_store_n(&tbl[fr].state, (uint64_t)CO_CLAIM, __ATOMIC_RELEASE);
	rc = decide(co, fr);
	if (rc != VD_AGAIN)
		*h = fr;
	return rc;
}

int
collapse_recheck(struct collapse *co, int h)
{
	if (co->hdr == NULL || h < 0 || h >= STATS_COLLAPSE_MAX ||
	    own(co)[h].state != CO_CLAIM)
		return VD_ERR;
	return decide(co, h);
}

void
collapse_release(struct collapse *co, int h)
{
	if (co->hdr == NULL || h < 0 || h >= STATS_COLLAPSE_MAX)
		return;
	withdraw(co, h);
}
