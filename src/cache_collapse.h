/*
 * cache_collapse.h — collapsed forwarding (issue 6): concurrent misses for
 * one cache key, in any workers, make one origin fetch.
 *
 * The table.  Each worker publishes the keys of the misses it is fetching
 * for storage in its own stats slot (stats.h: slot->collapse[], written by
 * that worker only, like every counter; cleared by stats_retire when the
 * master reaps it, so a crashed worker's keys vanish with it).  An entry is
 * a 128-bit key and a state: CLAIM (deciding) or FETCH (fetching).
 *
 * The decision (Dekker with a tie-break).  To fetch key K a worker first
 * looks in its own table (one process, one thread: no race): K already
 * there means a sibling request of this worker fetches it, so wait.  Else
 * it publishes (K, CLAIM), issues a full fence, and scans every other slot:
 *   - (K, FETCH) anywhere: someone fetches; withdraw and wait;
 *   - (K, CLAIM) in a lower slot: the lower one wins ties; withdraw, wait;
 *   - (K, CLAIM) in a higher slot only: that one either saw us (and
 *     withdraws) or scanned before we published (and fetches): we cannot
 *     tell yet, so stay published and decide again shortly (DEFER);
 *   - nothing: mark FETCH and fetch.
 * Both publish before they scan, so of two contenders at least one sees the
 * other; the highest contender never defers, so every deferral ends.
 *
 * Waiting is the caller's (cache_wait.c): a waiter asks every entry that
 * holds K for a wake-up (collapse_subscribe: it sets its slot's bit in the
 * entry's waiters word) and looks the key up in LMDB again; while some
 * slot still publishes K and the bound is not reached it sleeps until
 * SIGWINCH (or a fallback timer), else it is served the stored object or
 * goes to the origin itself.  Order matters there: subscribe before the
 * lookup, since an owner commits before it releases.  A waiter never
 * publishes again (no chain of waits after an uncacheable response).
 *
 * Wake-ups (Dekker again).  The owner stores each move of an entry (STREAM,
 * more written, DONE, FREE), issues a full fence and takes the waiters
 * word (exchange with 0): every slot whose bit was set gets SIGWINCH
 * (slots 64 apart share a bit and are both signalled).  A waiter sets its
 * bit, issues a full fence, then looks: it sees the move, or the owner
 * sees its bit.  The first waiter of a FETCH entry (no body file yet)
 * signals the owner as well: a small body the owner keeps in memory can
 * then be written to a file for the waiters (collapse_wanted).  A dead
 * owner's entries vanish without a signal: waiters keep a fallback timer.
 * The signal names no entry: each sleeping waiter of the worker checks
 * whether its own entry moved since it asked (collapse_unmoved: two word
 * loads) and only then looks again.
 *
 * Read-while-writer (cache_rww.h).  A fetcher whose body goes to a file
 * says so: FETCH becomes STREAM with the temp file's id (the name is
 * bodies/tmp/<the slot's pid>.<id>, the head file beside it) and the bytes
 * written so far, raised as it writes; DONE when the body is complete
 * (written is then its size).  The words are written in an order that lets
 * a reader check what it read: file and written before the state (release),
 * written alone with release later; a reader loads the state and written
 * with acquire and then the key, state and file again, so a value from an
 * entry reused meanwhile is never taken for ours (file ids are never reused
 * by a process, and a respawned slot has another pid).  An entry that
 * vanishes (released, or its worker dead and retired) ends the stream: the
 * head file says whether the body was complete.
 *
 * Cost: a claim writes one entry of our own slot and reads at most
 * COLLAPSE_ENTRIES entries of each live slot (a few KiB, misses only).
 * Only workers call these, in their loop; nothing blocks or allocates.
 */
#ifndef VD_CACHE_COLLAPSE_H
#define VD_CACHE_COLLAPSE_H

#include <stdbool.h>
#include <stdint.h>

struct cache_key;
struct stats_hdr;
struct stats_slot;

struct collapse {
	struct stats_hdr *hdr;		/* the whole segment; NULL: collapsing off */
	uint32_t	 self;		/* our slot: hdr->slots[self] */
};

/* Off until attached: every call below then answers "fetch". */
void	collapse_off(struct collapse *);
/* Use hdr->slots[self] as ours.  VD_OK, VD_ERR (self out of range). */
int	collapse_init(struct collapse *, struct stats_hdr *hdr, uint32_t self);
/*
 * A worker: find the segment our slot `own` lives in, from the stats file
 * in run_dir (our slot is the one that holds our pid).  VD_OK, VD_DECLINED
 * (no segment: collapsing stays off).
 */
int	collapse_attach(struct collapse *, struct stats_slot *own, const char *run_dir);

/*
 * A miss for `key` that would be stored:
 *   VD_OK       fetch it; *h is our entry, release it when done;
 *   VD_AGAIN    another request fetches it: wait (*h = -1);
 *   VD_DECLINED a contender in a higher slot is undecided: *h stays
 *               published, call collapse_recheck(*h) a little later;
 *   VD_ERR      our table is full or collapsing is off: fetch, unpublished.
 */
int	collapse_claim(struct collapse *, const struct cache_key *, int *h);
/* A deferred claim: the same answers as collapse_claim (on VD_AGAIN the
 * entry is withdrawn). */
int	collapse_recheck(struct collapse *, int h);
/* The fetch is over (stored or not): waiters stop waiting. */
void	collapse_release(struct collapse *, int h);
/* Some request, in this worker or a live sibling, claims or fetches key. */
bool	collapse_busy(const struct collapse *, const struct cache_key *);

/* The fetcher of entry h (collapse_claim's VD_OK): its body is in temp
 * file `file` with `written` bytes so far (a head file beside it). */
void	collapse_stream(struct collapse *, int h, uint64_t file, uint64_t written);
/* ... written bytes are in the file now (never less than before). */
void	collapse_progress(struct collapse *, int h, uint64_t written);
/* ... the body is complete, size bytes. */
void	collapse_complete(struct collapse *, int h, uint64_t size);

/* A fetch (FETCH, no file yet) someone waits for: the owner may start a
 * body file for it. */
bool	collapse_wanted(const struct collapse *, int h);

/* What a waiter asked: the entry (slot, idx; idx -1 when it asked several)
 * and what it held then.  A wake-up is for the worker: a waiter whose
 * entry has not moved since it asked sleeps on (collapse_unmoved). */
struct collapse_ask {
	uint32_t	 slot;
	int		 idx;
	uint64_t	 key[2];
	uint64_t	 state, written;
};

/* A waiter of key: SIGWINCH when any entry that holds it moves.  true: some
 * entry holds it (after asking: its move will be signalled); *a says which. */
bool	collapse_subscribe(struct collapse *, const struct cache_key *, struct collapse_ask *a);
/* The entry of *a holds what it held when asked, and our bit is still set
 * in it (its next move will be signalled).  false for idx -1. */
bool	collapse_unmoved(const struct collapse *, const struct collapse_ask *a);

/* A stream a waiter follows: whose entry, which file. */
struct collapse_watch {
	uint32_t	 slot;
	int		 idx;
	int64_t		 pid;		/* the writer's; its temp file names start with it */
	uint64_t	 file;
	uint64_t	 key[2];
};
/* A waiter: VD_OK someone streams key (*w names it), VD_AGAIN someone
 * fetches it without streaming (yet), VD_DECLINED nobody. */
int	collapse_find(const struct collapse *, const struct cache_key *,
	    struct collapse_watch *w);
/* The stream now: VD_AGAIN being written, VD_DONE complete; *written
 * bytes are in the file.  VD_ERR it ended otherwise (the entry is gone:
 * committed and released, aborted, or its worker died). */
int	collapse_watch(const struct collapse *, const struct collapse_watch *,
	    uint64_t *written);
/* collapse_watch, after asking its entry for SIGWINCH on its next move: a
 * stream that caught up sleeps when this still says VD_AGAIN and the
 * written it had. */
int	collapse_watch_subscribe(struct collapse *, const struct collapse_watch *,
	    uint64_t *written, struct collapse_ask *a);

#endif
