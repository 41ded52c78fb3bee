/*
 * cache_atime.c — access times from the workers' hits to the cache manager
 * (cache_atime.h).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "viaduct.h"
#include "cache_atime.h"

void
cache_atime_tx_init(struct cache_atime_tx *tx, int fd)
{
	memset(tx, 0, sizeof(*tx));
	tx->fd = fd;
}

/* The keys are XXH3 hashes: any of their bytes spreads them. */
static size_t
key_hash(const struct cache_key *k)
{
	return (size_t)k->b[15] | (size_t)k->b[14] << 8 | (size_t)k->b[13] << 16;
}

void
cache_atime_note(struct cache_atime_tx *tx, const struct cache_key *k, int64_t now)
{
	size_t h = key_hash(k) % CACHE_ATIME_SEEN;
	uint8_t *r;

	if (tx->fd < 0)
		return;
	if (tx->seen[h].t == now && memcmp(tx->seen[h].k.b, k->b, sizeof(k->b)) == 0)
		return;			/* this second's time is on its way */
	tx->seen[h].k = *k;
	tx->seen[h].t = now;
	r = tx->buf + tx->n * CACHE_ATIME_REC;
	memcpy(r, k->b, sizeof(k->b));
	for (int i = 0; i < 8; i++)
		r[16 + i] = (uint8_t)((uint64_t)now >> (8 * i));
	if (++tx->n == CACHE_ATIME_MAX)
		cache_atime_send(tx);
}

void
cache_atime_send(struct cache_atime_tx *tx)
{
	ssize_t n;

	if (tx->fd < 0 || tx->n == 0)
		return;
	do
		n = send(tx->fd, tx->buf, tx->n * CACHE_ATIME_REC, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		tx->dropped++;		/* the manager is behind or gone: approximate */
	tx->n = 0;
}

void
cache_atime_rx_init(struct cache_atime_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

/* Keep the latest time of a key.  false: the table is full. */
static bool
hold(struct cache_atime_rx *rx, const uint8_t *r)
{
	struct cache_key k;
	uint64_t t = 0;
	size_t h;

	memcpy(k.b, r, sizeof(k.b));
	for (int i = 0; i < 8; i++)
		t |= (uint64_t)r[16 + i] << (8 * i);
	for (h = key_hash(&k) % VD_ARRLEN(rx->slot); rx->slot[h] != 0;
	    h = (h + 1) % VD_ARRLEN(rx->slot)) {
		struct cache_touch *e = &rx->list[rx->slot[h] - 1];

		if (memcmp(e->key.b, k.b, sizeof(k.b)) == 0) {
			if ((int64_t)t > e->atime)
				e->atime = (int64_t)t;
			return true;
		}
	}
	if (rx->n == CACHE_ATIME_PEND)
		return false;
	rx->list[rx->n] = (struct cache_touch){ k, (int64_t)t };
	rx->slot[h] = (uint16_t)++rx->n;
	return true;
}

bool
cache_atime_read(struct cache_atime_rx *rx, int fd)
{
	uint8_t buf[CACHE_ATIME_MAX * CACHE_ATIME_REC];
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;	/* drained (or the workers' end is gone) */
		for (size_t i = 0; i + CACHE_ATIME_REC <= (size_t)n; i += CACHE_ATIME_REC)
			if (!hold(rx, buf + i))
				return true;	/* the rest of this datagram is lost */
	}
}

int
cache_atime_apply(struct cache_atime_rx *rx, struct cache_store *cs)
{
	int rc;

	if (rx->n == 0)
		return VD_OK;
	rc = cache_store_touch(cs, rx->list, rx->n);
	rx->n = 0;
	memset(rx->slot, 0, sizeof(rx->slot));
	return rc;
}
