/*
 * cache_collapse.c — one origin fetch per cache key across workers (see
 * cache_collapse.h for the protocol).  The entries live in the shared stats
 * segment; each is written by its slot's worker only, with atomic word
 * stores, and read by every other worker with atomic word loads -- but for
 * the waiters word, which siblings set and the owner takes, atomically.
 */
#include "config.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "viaduct.h"
#include "cache_collapse.h"
#include "cache_key.h"
#include "stats.h"

/* CLAIM is 1 and FETCH 2 for good (the unit test publishes raw claims). */
enum { CO_FREE, CO_CLAIM, CO_FETCH, CO_STREAM, CO_DONE };

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

/* The slots to scan: those the master has handed out.  (Scanning all of
 * them, 4 per possible worker, made a miss's claim cost 117,000
 * instructions; a slot handed out a moment ago and missed costs at most a
 * second fetch of one key.) */
static uint32_t
live_slots(const struct collapse *co)
{
	return stats_slots_used(co->hdr);
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
	for (uint32_t s = 0, used = live_slots(co); s < used; s++)
		for (int i = 0; i < STATS_COLLAPSE_MAX; i++)
			if (entry_state(&co->hdr->slots[s].collapse[i], k) != CO_FREE)
				return true;
	return false;
}

/* Bit of slot s in a waiters word: slots 64 apart share one, and each of
 * them is signalled (a spare wake-up only makes a worker look again). */
static uint64_t
slot_bit(uint32_t s)
{
	return 1ULL << (s % 64);
}

/* SIGWINCH to the live slots of bits m. */
static void
signal_bits(const struct collapse *co, uint64_t m)
{
	uint32_t used = stats_slots_used(co->hdr);

	for (; m != 0; m &= m - 1)
		for (uint32_t s = (uint32_t)__builtin_ctzll(m); s < used; s += 64) {
			int64_t pid = __atomic_load_n(&co->hdr->slots[s].pid, __ATOMIC_RELAXED);

			if (pid > 0 && kill((pid_t)pid, SIGWINCH) == 0)
				STATS_INC(collapsed_wakeups, 1);
		}
}

/*
 * Our entry e moved (its state or written, stored just before): signal the
 * workers that asked, once each.  The fence pairs with subscribe()'s: a
 * waiter either sees the move when it looks after asking, or its bit is in
 * the word we take here.
 */
static void
wake(const struct collapse *co, struct stats_collapse *e)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&e->waiters, __ATOMIC_RELAXED) != 0)
		signal_bits(co, __atomic_exchange_n(&e->waiters, 0, __ATOMIC_ACQ_REL));
}

static void
withdraw(struct collapse *co, int h)
{
	__atomic_store_n(&own(co)[h].state, (uint64_t)CO_FREE, __ATOMIC_RELEASE);
	wake(co, &own(co)[h]);
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
	for (uint32_t s = 0, used = live_slots(co); s < used; s++) {
		if (s == co->self)
			continue;
		for (int i = 0; i < STATS_COLLAPSE_MAX; i++) {
			uint64_t st = entry_state(&co->hdr->slots[s].collapse[i], k);

			if (st == CO_FREE)
				continue;
			if (st != CO_CLAIM || s < co->self) {
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
	__atomic_store_n(&tbl[fr].file, (uint64_t)0, __ATOMIC_RELAXED);
	__atomic_store_n(&tbl[fr].written, (uint64_t)0, __ATOMIC_RELAXED);
	__atomic_store_n(&tbl[fr].waiters, (uint64_t)0, __ATOMIC_RELAXED);
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

/* Our entry h, if it is in one of the states st0..st1. */
static struct stats_collapse *
own_in(struct collapse *co, int h, uint64_t st0, uint64_t st1)
{
	struct stats_collapse *e;

	if (co->hdr == NULL || h < 0 || h >= STATS_COLLAPSE_MAX)
		return NULL;
	e = &own(co)[h];
	return e->state >= st0 && e->state <= st1 ? e : NULL;
}

void
collapse_stream(struct collapse *co, int h, uint64_t file, uint64_t written)
{
	struct stats_collapse *e = own_in(co, h, CO_FETCH, CO_FETCH);

	if (e == NULL || file == 0)
		return;
	__atomic_store_n(&e->file, file, __ATOMIC_RELAXED);
	__atomic_store_n(&e->written, written, __ATOMIC_RELAXED);
	__atomic_store_n(&e->state, (uint64_t)CO_STREAM, __ATOMIC_RELEASE);
	wake(co, e);
}

void
collapse_progress(struct collapse *co, int h, uint64_t written)
{
	struct stats_collapse *e = own_in(co, h, CO_STREAM, CO_STREAM);

	if (e == NULL)
		return;
	__atomic_store_n(&e->written, written, __ATOMIC_RELEASE);
	wake(co, e);
}

void
collapse_complete(struct collapse *co, int h, uint64_t size)
{
	struct stats_collapse *e = own_in(co, h, CO_STREAM, CO_STREAM);

	if (e == NULL)
		return;
	__atomic_store_n(&e->written, size, __ATOMIC_RELEASE);
	__atomic_store_n(&e->state, (uint64_t)CO_DONE, __ATOMIC_RELEASE);
	wake(co, e);
}

bool
collapse_wanted(const struct collapse *co, int h)
{
	const struct stats_collapse *e;

	if (co->hdr == NULL || h < 0 || h >= STATS_COLLAPSE_MAX)
		return false;
	e = &own(co)[h];
	return e->state == CO_FETCH && __atomic_load_n(&e->waiters, __ATOMIC_RELAXED) != 0;
}

/*
 * Ask entry i of slot s, which held k, for a wake-up; *a is what it holds
 * once asked.  true if that is k still.  The first to ask of a fetch
 * without a body file yet tells its owner too, who may start one for the
 * waiters (cache_wait.c).
 */
static bool
subscribe(const struct collapse *co, uint32_t s, int i, struct co_key k,
    struct collapse_ask *a)
{
	struct stats_collapse *e = &co->hdr->slots[s].collapse[i];
	uint64_t before = __atomic_fetch_or(&e->waiters, slot_bit(co->self), __ATOMIC_SEQ_CST);

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*a = (struct collapse_ask){ .slot = s, .idx = i, .key = { k.w[0], k.w[1] },
	    .state = entry_state(e, k), .written = __atomic_load_n(&e->written, __ATOMIC_ACQUIRE) };
	if (a->state == CO_FREE)
		return false;
	if (a->state == CO_FETCH && before == 0)
		signal_bits(co, slot_bit(s));
	return true;
}

bool
collapse_subscribe(struct collapse *co, const struct cache_key *key, struct collapse_ask *a)
{
	struct co_key k = co_key(key);
	struct collapse_ask one;
	int n = 0;

	a->idx = -1;
	if (co->hdr == NULL)
		return false;
	for (uint32_t s = 0, used = live_slots(co); s < used; s++)
		for (int i = 0; i < STATS_COLLAPSE_MAX; i++)
			if (entry_state(&co->hdr->slots[s].collapse[i], k) != CO_FREE &&
			    subscribe(co, s, i, k, &one) && n++ == 0)
				*a = one;
	if (n > 1)
		a->idx = -1;	/* any wake-up: look again */
	return n > 0;
}

bool
collapse_unmoved(const struct collapse *co, const struct collapse_ask *a)
{
	const struct stats_collapse *e;
	struct co_key k = { { a->key[0], a->key[1] } };

	if (co->hdr == NULL || a->idx < 0 || a->idx >= STATS_COLLAPSE_MAX ||
	    a->slot >= co->hdr->nslots)
		return false;
	e = &co->hdr->slots[a->slot].collapse[a->idx];
	return (__atomic_load_n(&e->waiters, __ATOMIC_ACQUIRE) & slot_bit(co->self)) != 0 &&
	    entry_state(e, k) == a->state &&
	    __atomic_load_n(&e->written, __ATOMIC_ACQUIRE) == a->written;
}

int
collapse_watch_subscribe(struct collapse *co, const struct collapse_watch *w,
    uint64_t *written, struct collapse_ask *a)
{
	struct co_key k = { { w->key[0], w->key[1] } };

	a->idx = -1;
	if (co->hdr != NULL && w->slot < co->hdr->nslots && w->idx >= 0 &&
	    w->idx < STATS_COLLAPSE_MAX)
		(void)subscribe(co, w->slot, w->idx, k, a);
	return collapse_watch(co, w, written);
}

int
collapse_watch(const struct collapse *co, const struct collapse_watch *w, uint64_t *written)
{
	const struct stats_collapse *e;
	const struct stats_slot *sl;
	struct co_key k = { { w->key[0], w->key[1] } };
	uint64_t st, again, n;

	*written = 0;
	if (co->hdr == NULL || w->slot >= co->hdr->nslots || w->idx < 0 ||
	    w->idx >= STATS_COLLAPSE_MAX)
		return VD_ERR;
	sl = &co->hdr->slots[w->slot];
	e = &sl->collapse[w->idx];
	st = entry_state(e, k);
	if ((st != CO_STREAM && st != CO_DONE) ||
	    __atomic_load_n(&e->file, __ATOMIC_RELAXED) != w->file)
		return VD_ERR;
	n = __atomic_load_n(&e->written, __ATOMIC_ACQUIRE);
	/* the same entry still? (a reuse stores its key and file before any
	 * written we could have loaded) */
	again = entry_state(e, k);
	if ((again != CO_STREAM && again != CO_DONE) ||
	    __atomic_load_n(&e->file, __ATOMIC_RELAXED) != w->file ||
	    __atomic_load_n(&sl->pid, __ATOMIC_RELAXED) != w->pid)
		return VD_ERR;
	*written = n;
	return st == CO_DONE ? VD_DONE : VD_AGAIN;
}

int
collapse_find(const struct collapse *co, const struct cache_key *key, struct collapse_watch *w)
{
	struct co_key k = co_key(key);
	bool busy = false;
	uint64_t n;

	if (co->hdr == NULL)
		return VD_DECLINED;
	for (uint32_t s = 0, used = live_slots(co); s < used; s++) {
		const struct stats_slot *sl = &co->hdr->slots[s];

		for (int i = 0; i < STATS_COLLAPSE_MAX; i++) {
			uint64_t st = entry_state(&sl->collapse[i], k);

			if (st == CO_FREE)
				continue;
			busy = true;
			if (st != CO_STREAM && st != CO_DONE)
				continue;
			*w = (struct collapse_watch){ .slot = s, .idx = i,
			    .pid = __atomic_load_n(&sl->pid, __ATOMIC_RELAXED),
			    .file = __atomic_load_n(&sl->collapse[i].file, __ATOMIC_RELAXED),
			    .key = { k.w[0], k.w[1] } };
			if (w->file != 0 && collapse_watch(co, w, &n) != VD_ERR)
				return VD_OK;
		}
	}
	return busy ? VD_AGAIN : VD_DECLINED;
}
