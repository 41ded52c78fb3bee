/*
 * stats.h — the shared statistics segment.
 *
 * A file-backed MAP_SHARED map in the run directory (run-dir/stats): a
 * versioned header, then one slot per process (the master, each worker
 * slot, the cache manager) and one `retired` slot.  Each slot is written by
 * its own process only (but for the collapse table's waiters words, set
 * atomically by siblings), with plain stores (no locks, no atomics); readers
 * (the master, viaductctl) sum them and accept a torn read of a counter.
 * When the master reaps a worker it folds the dead slot's counters into
 * `retired` so that totals never go backwards, then hands the slot to the
 * respawned worker.
 *
 * Created by the master as root before the privilege drop (stats_create),
 * inherited by forks; viaductctl maps it read-only (stats_open_ro).
 */
#ifndef VD_STATS_H
#define VD_STATS_H

#include <stdint.h>
#include <sys/types.h>

#include "rules.h"
#include "stats_tbl.h"

#define STATS_MAGIC	0x7669616475637431ULL	/* "viaduct1" */
#define STATS_VERSION	8
#define STATS_PANIC_LEN	256

enum stats_kind { COUNTER, GAUGE };

/* One published cache key (cache_collapse.c reads and writes it, atomically
 * word by word); state 0: free.  file and written: the temp body file a
 * fetch is writing and the bytes in it so far (read-while-writer).
 * waiters: the one word other workers write, bit (slot % 64) set by a
 * worker that waits for this entry to move and wants SIGWINCH when it does. */
#define STATS_COLLAPSE_MAX	64
struct stats_collapse {
	uint64_t	 key[2];
	uint64_t	 state;
	uint64_t	 file;
	uint64_t	 written;
	uint64_t	 waiters;
};

struct stats_slot {
	int64_t		 pid;		/* 0: slot free */
	int64_t		 generation;
	int64_t		 started;	/* unix time the process started */
	uint64_t	 heartbeat;	/* bumped every loop turn; the master watches it */
	/* rules of each list this process counts hits for (its configuration's,
	 * set before it counts one): rule_hits beyond stay unwritten, and sums
	 * read no further, so that their pages are never backed */
	uint32_t	 rules_n[RULES_NLISTS];
	/* the rules these hits are of: the header's rules_epoch when this
	 * process started; hits of another epoch are neither summed nor
	 * folded (a reload that changed a list moved rules' positions) */
	uint64_t	 rules_epoch;
	char		 panic[STATS_PANIC_LEN];	/* last words, for the obituary */
#define STATS_X(f, name, kind, help)	uint64_t f;
	STATS_FIELDS(STATS_X)
#undef STATS_X
	/* the misses this worker fetches for storage (cache_collapse.h); before
	 * rule_hits, so that stats_retire clears them with the slot */
	struct stats_collapse collapse[STATS_COLLAPSE_MAX];
	/* hits of each rule, by list and position; last, so that the pages of
	 * unused rules are never touched (the segment is sparse) */
	uint64_t	 rule_hits[RULES_NLISTS][RULES_MAX];
} __attribute__((aligned(64)));	/* one cache line owner per slot start */

struct stats_hdr {
	uint64_t	 magic;
	uint32_t	 version;
	uint32_t	 nslots;	/* worker slots (2 per worker: old and new generation) */
	int64_t		 master_pid;
	int64_t		 started;	/* unix time the master started */
	uint64_t	 reloads;
	uint32_t	 slots_used;	/* slots[] handed out so far: readers stop there */
	uint64_t	 rules_epoch;	/* bumped by a reload that changes a rule list */
	struct stats_slot master;
	struct stats_slot cachemgr;
	struct stats_slot retired;	/* dead processes' counters, folded */
	struct stats_slot slots[];	/* nslots */
};

/* Master, before a process gets slot s: back the pages it will write (its
 * counters and the hits of rules_n rules per list); -1 (errno) when the
 * run directory's file system is full. */
int			 stats_slot_reserve(struct stats_slot *s, const uint32_t rules_n[RULES_NLISTS]);
/* Master: create (truncate) PATH sized for nslots; returns the map or NULL (errno). */
struct stats_hdr	*stats_create(const char *path, uint32_t nslots, size_t *maplen);
/* viaductctl: map an existing segment read-only; NULL (errno) if absent or foreign. */
const struct stats_hdr	*stats_open_ro(const char *path, size_t *maplen);
void			 stats_unmap(const void *map, size_t maplen);

/* Master, after reaping: add the slot's counters (not gauges) into retired, clear it. */
void			 stats_retire(struct stats_hdr *, struct stats_slot *);
/* Master, at a reload whose rule lists differ: the rules' hits start again
 * from zero (those of the old lists' positions are dropped). */
void			 stats_rules_changed(struct stats_hdr *);
/*
 * Sum of every live slot plus retired into *out.  out->rules_n is the most
 * rules any slot counts; out->rule_hits is set that far only (clearing the
 * whole 384 KiB table would back it all): read it with stats_rule_hits().
 */
void			 stats_sum(const struct stats_hdr *, struct stats_slot *out);
/* The slots[] a reader looks at: those the master has handed out (every
 * one if it recorded none); a slot beyond was never written, and reading
 * it would back its page. */
uint32_t		 stats_slots_used(const struct stats_hdr *);

/* Rule i of list l in a stats_sum() result: 0 for a rule no process has. */
static inline uint64_t
stats_rule_hits(const struct stats_slot *sum, int l, int i)
{
	return i >= 0 && (uint32_t)i < sum->rules_n[l] ? sum->rule_hits[l][i] : 0;
}

/* Hot path: vd.stats may be NULL (viaduct -t, unit tests). */
#define STATS_INC(f, n)	do { if (vd.stats != NULL) vd.stats->f += (n); } while (0)
#define STATS_DEC(f, n)	do { if (vd.stats != NULL) vd.stats->f -= (n); } while (0)

#endif
