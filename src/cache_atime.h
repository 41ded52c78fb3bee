/*
 * cache_atime.h — approximate access times of stored objects (issue 6;
 * DESIGN.md: the cache manager "applies access-time updates in batches, so
 * that a cache hit in a worker never takes the LMDB write lock").
 *
 * A worker notes the key of each hit (cache_atime_note: no system call, no
 * allocation; a key already noted in the same second is skipped) and sends
 * its notes as one datagram on a SOCK_SEQPACKET socket that the master made
 * before forking and gave to every worker (the manager holds the other
 * end): when the buffer fills, and once a second (cache_atime_send).  It
 * never blocks: a datagram the socket cannot take is dropped, since access
 * times are approximate and eviction only needs their order.
 *
 * The manager reads the datagrams (cache_atime_read), keeps the latest time
 * of each key, and writes them once a second in one write transaction
 * (cache_atime_apply -> cache_store_touch), so that last_access is what
 * eviction (least recently used first) and `viaductctl cache-contents` see.
 *
 * A datagram is up to CACHE_ATIME_MAX records of CACHE_ATIME_REC bytes:
 *     16 bytes  cache key (cache_key.b)
 *      8 bytes  access time, seconds since the epoch, little-endian
 */
#ifndef VD_CACHE_ATIME_H
#define VD_CACHE_ATIME_H

#include <stddef.h>
#include <stdint.h>

#include "cache_key.h"
#include "cache_store.h"

#define CACHE_ATIME_REC		24
#define CACHE_ATIME_MAX		170		/* 4080 bytes a datagram */
#define CACHE_ATIME_SEEN	512		/* a worker's same-second filter */
#define CACHE_ATIME_PEND	4096		/* keys the manager holds before a write */
#define CACHE_ATIME_MS		1000		/* how often both sides flush */

struct cache_atime_tx {
	int		 fd;			/* -1: nobody to tell */
	size_t		 n;			/* records in buf */
	uint8_t		 buf[CACHE_ATIME_MAX * CACHE_ATIME_REC];
	struct {
		struct cache_key k;
		int64_t		 t;
	}		 seen[CACHE_ATIME_SEEN];
	uint64_t	 dropped;		/* datagrams the socket refused */
};

void	cache_atime_tx_init(struct cache_atime_tx *, int fd);
/* A hit on the record of key k at wall-clock second now. */
void	cache_atime_note(struct cache_atime_tx *, const struct cache_key *k, int64_t now);
/* Send what is noted (a timer's, and cache_atime_note's when full). */
void	cache_atime_send(struct cache_atime_tx *);

struct cache_atime_rx {
	size_t		 n;
	struct cache_touch list[CACHE_ATIME_PEND];
	uint16_t	 slot[2 * CACHE_ATIME_PEND];	/* list index + 1; 0 empty */
};

void	cache_atime_rx_init(struct cache_atime_rx *);
/* Take every datagram waiting on fd.  true: the table is full, apply now. */
bool	cache_atime_read(struct cache_atime_rx *, int fd);
/* Write the held times (cache_store_touch) and forget them: VD_OK or the
 * store's status (the times are dropped either way). */
int	cache_atime_apply(struct cache_atime_rx *, struct cache_store *);

#endif
