/*
 * cachemgr.h — the cache manager process: keeps the shared cache store
 * (cache_store.h) within max-cache-size, removes what can never be served
 * again, and clears the LMDB reader slots of dead processes.
 *
 * Process (cachemgr_main, forked by the master like a worker; never
 * returns): its own signalfd, privdrop_worker(), comm "viaduct-cache",
 * exits when the socketpair to the master reaches EOF, bumps the stats
 * segment's `cachemgr` slot heartbeat every loop turn and owns its
 * `cache-used` gauge (workers must not touch that gauge).  It opens its
 * OWN LMDB environment after the fork (STYLE.md pitfalls 1-2), with
 * cache_store_conf_init(): cache-path with cache-on-disk=yes,
 * <run-dir>/cache (tmpfs, no fsync) with cache-on-disk=no.  Not started
 * at all with max-cache-size=none.  Signals: TERM/INT/QUIT stop at once
 * (every step is short; nothing is left half done), USR1 reopens the error
 * log, HUP is ignored (the master restarts the manager after a reload).
 * Exit status: VD_EXIT_FATAL when the store cannot be opened (respawning
 * would not help), VD_EXIT_OK on a signal or EOF.
 *
 * Master -> manager (our end of a SOCK_STREAM socketpair), text lines:
 *   "reader-check <pid>\n"   a child died: run mdb_reader_check() now.
 * Unknown lines are ignored, so that the protocol can grow.
 *
 * Duties, all in short steps on timers (cachemgr_step), never blocking the
 * loop for long:
 *   - mdb_reader_check at start, on every "reader-check", on VD_AGAIN from
 *     the store (readers table full) and every CACHEMGR_READER_CHECK_MS;
 *   - a pass over the index every CACHEMGR_PASS_MS, CACHEMGR_SCAN_CHUNK
 *     entries per step (one read snapshot each, resumed by key): sums the
 *     bytes (cachemgr_obj_bytes -> cache-used), removes at once what
 *     cachemgr_expired() says can never be served again, and keeps the
 *     CACHEMGR_LRU_MAX least recently used objects as eviction candidates;
 *   - over max-cache-size after a pass: evicts those candidates oldest
 *     first (approximate LRU: cachemgr_access_time) in write transactions
 *     of CACHEMGR_EVICT_BATCH deletions, down to cachemgr_low_water();
 *     still over when they run out: another pass at once;
 *   - then one body-file bucket per step: files with no index entry
 *     (orphans of a writer killed between rename and commit, or of a
 *     deleter killed before its unlink) older than the pass are removed;
 *     and temp files of dead writers (cache_store_tmp_sweep).
 *
 * Also, on timers: the `cache-used` gauge from the store's exact "used"
 * total (cache_store_used) every CACHEMGR_GAUGE_MS, so that it follows the
 * workers' inserts and evictions at once, not only the passes; and the
 * cumulative statistics (below) every CACHEMGR_TOTALS_MS and at stop.
 *
 * Cumulative statistics (DESIGN.md "Shared state"): the stats segment is
 * made afresh by every master start, so the manager keeps a snapshot in
 * the store's "meta" database under CACHEMGR_TOTALS_KEY: the counters
 * before the current segment (base) and that segment's sums when written
 * (last), with the segment's identity (master pid and start time).  A
 * snapshot of another segment is rebased (base += last) before it is
 * written again; since-install = base (rebased when the segment differs)
 * + the live sums (cachemgr_totals_since_install), which is what
 * `viaductctl monitor` shows as total-*.  A reload keeps the segment, so a
 * restarted manager does not count twice; what workers count after the
 * manager's last write (it stops after the workers) is all that is lost.
 *
 * Access times (issue 6): workers send the keys of their hits, with the
 * second, on a SOCK_SEQPACKET socket the master made (cache_atime.h); the
 * manager keeps the latest time of each key and rewrites last_access of
 * those records in one short write transaction a second
 * (cache_store_touch), so that a hit never takes the write lock.
 * cachemgr_access_time() prefers last_access when it is set.
 */
#ifndef VD_CACHEMGR_H
#define VD_CACHEMGR_H

#include <stdbool.h>
#include <stdint.h>

#include "viaduct.h"
#include "cache_store.h"

#define CACHEMGR_MSG_READER_CHECK	"reader-check"
#define CACHEMGR_TITLE			"viaduct-cache"

#define CACHEMGR_PASS_MS		10000
#define CACHEMGR_READER_CHECK_MS	10000
#define CACHEMGR_SCAN_CHUNK		500
#define CACHEMGR_EVICT_BATCH		64
#define CACHEMGR_LRU_MAX		8192
/* A body file younger than the pass start minus this is never an orphan. */
#define CACHEMGR_ORPHAN_GRACE_S		60
#define CACHEMGR_GAUGE_MS		1000
#define CACHEMGR_TOTALS_MS		5000
#define CACHEMGR_TOTALS_KEY		"totals"

#include "stats_tbl.h"

/* Index of each stats_tbl.h field, in table order. */
enum {
#define STATS_X(f, name, kind, help)	CACHEMGR_STAT_##f,
	STATS_FIELDS(STATS_X)
#undef STATS_X
	CACHEMGR_NSTATS
};

struct stats_slot;
struct vd_conf;

struct cachemgr_spec {
	const struct vd_conf	*conf;
	int			 master_fd;	/* our end of the socketpair; EOF = master gone */
	int			 atime_fd;	/* the workers' access times (cache_atime.h); -1 */
	struct stats_slot	*slot;		/* stats->cachemgr, already zeroed and filled */
};

_Noreturn void	cachemgr_main(const struct cachemgr_spec *);

/* Does this configuration have a cache (and so a manager)? */
bool		cachemgr_enabled(const struct vd_conf *);

/* ---- cumulative statistics (pure but for the segment read) ---- */

struct stats_hdr;

struct cachemgr_totals {
	int64_t		 seg_pid;	/* the segment `last` was read from: master pid */
	int64_t		 seg_started;	/* and its start time; 0/0: none yet */
	uint64_t	 base[CACHEMGR_NSTATS];	/* counted before that segment */
	uint64_t	 last[CACHEMGR_NSTATS];	/* that segment's sums when written */
};

/* Name of field i in stats_tbl.h, and whether it is a counter (not a gauge). */
const char	*cachemgr_stat_name(int i);
bool		 cachemgr_stat_counter(int i);
/*
 * Sums of every slot's table fields (not the rule hits: summing those would
 * back every page of the sparse segment).
 */
void		 cachemgr_stats_sum(const struct stats_hdr *, uint64_t out[CACHEMGR_NSTATS]);
/* Text "viaduct-totals 1\nsegment PID STARTED\nNAME BASE LAST\n..."; length, 0 if it does not fit. */
size_t		 cachemgr_totals_encode(const struct cachemgr_totals *, char *buf, size_t size);
/* VD_OK, or VD_ERR for anything else (unknown names are skipped: the table may grow). */
int		 cachemgr_totals_decode(const char *p, size_t len, struct cachemgr_totals *);
/* Fold the snapshot forward to the live segment h with its sums. */
void		 cachemgr_totals_update(struct cachemgr_totals *, int64_t seg_pid,
		    int64_t seg_started, const uint64_t sum[CACHEMGR_NSTATS]);
/* Counters since install (gauges: the live value). */
void		 cachemgr_totals_since_install(const struct cachemgr_totals *, int64_t seg_pid,
		    int64_t seg_started, const uint64_t sum[CACHEMGR_NSTATS],
		    uint64_t out[CACHEMGR_NSTATS]);

/* ---- decisions (pure) ---- */

/* What the object occupies: key, record, body file. */
uint64_t	cachemgr_obj_bytes(const struct cache_obj *);
/* Approximate last access: last_access when recorded, else when it was stored. */
int64_t		cachemgr_access_time(const struct cache_obj *);
/*
 * May the sweep remove this object?  Only when stale (RFC 9111 §4.2, with
 * max-fresh-time) beyond every stale window it carries (stale-while-
 * revalidate, stale-if-error); one that can be revalidated (ETag or
 * Last-Modified: a 304 saves the transfer) is kept for a further
 * max-fresh-time (7 days when that is <= 0).  Vary markers are left to LRU.
 */
bool		cachemgr_expired(const struct cache_obj *, int64_t now, int64_t max_fresh_time);
/* Evict down to this many bytes once over max (hysteresis: 15/16 of it). */
uint64_t	cachemgr_low_water(int64_t max_size);

/* The LRU candidates: a max-heap on atime holding the `cap` oldest offered. */
struct cachemgr_lru {
	struct cache_victim	*v;
	size_t			 n;
	size_t			 cap;
	size_t			 next;		/* after cachemgr_lru_sort: next to evict */
};
void		cachemgr_lru_offer(struct cachemgr_lru *, const struct cache_victim *);
/* Oldest first, in place (destroys the heap order). */
void		cachemgr_lru_sort(struct cachemgr_lru *);

/* ---- the work, one bounded step at a time (the process and the unit test) ---- */

enum cachemgr_phase { CM_IDLE, CM_SCAN, CM_EVICT, CM_ORPHANS };

struct cachemgr_counts {
	uint64_t	 passes;
	uint64_t	 evicted;
	uint64_t	 expired;
	uint64_t	 orphans;
	uint64_t	 tmp_files;
	uint64_t	 readers_cleared;
};

struct cachemgr {
	struct cache_store	*cs;
	struct cache_reader	 rd;
	int64_t			 max_size;	/* bytes; INT64_MAX = unlimited */
	int64_t			 max_fresh_time;
	enum cachemgr_phase	 phase;
	int64_t			 pass_start;	/* wall clock, s */
	int64_t			 now;		/* wall clock of this step */
	struct cache_key	 cursor;
	bool			 cursor_set;
	bool			 ids_failed;	/* out of memory: no orphan sweep this pass */
	bool			 again;		/* still over size: next pass at once */
	bool			 used_unknown;	/* the store has no "used" total yet */
	unsigned		 bucket;
	uint64_t		 scan_bytes;
	uint64_t		 used;		/* bytes after the last pass and its evictions */
	uint64_t		 objects;
	struct cachemgr_lru	 lru;
	uint64_t		*ids;		/* body files referenced, sorted after the scan */
	size_t			 nids, capids;
	struct cache_victim	 doomed[CACHEMGR_SCAN_CHUNK];
	size_t			 ndoomed;
	struct cachemgr_counts	 c;
};

/* VD_OK / VD_ERR (allocation). */
int	cachemgr_init(struct cachemgr *, struct cache_store *, int64_t max_size,
	    int64_t max_fresh_time);
void	cachemgr_free(struct cachemgr *);
/*
 * One bounded step at wall-clock `now`; starts a pass when idle.  VD_AGAIN:
 * the pass goes on (call again soon); VD_DONE: the pass is complete
 * (m->again: start the next one at once); VD_ERR: the store failed (the
 * pass restarts next time).
 */
int	cachemgr_step(struct cachemgr *, int64_t now);
/* mdb_reader_check; returns the number of stale slots cleared, or -1. */
int	cachemgr_reader_check(struct cachemgr *);

#endif
