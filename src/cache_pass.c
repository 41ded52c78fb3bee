/* cache_pass.c — keys whose last response could not be stored (cache_pass.h). */
#include "config.h"

#include <string.h>

#include "viaduct.h"
#include "cache_pass.h"

/* The key is a hash already: its low bytes pick the slot. */
static size_t
slot_of(const struct cache_key *k)
{
	return ((size_t)k->b[14] << 8 | k->b[15]) & (CACHE_PASS_SLOTS - 1);
}

void
cache_pass_note(struct cache_pass *p, const struct cache_key *k, int64_t now_ms,
    int64_t ttl_ms)
{
	size_t i = slot_of(k);

	p->e[i].k = *k;
	p->e[i].until = now_ms + (ttl_ms > 0 ? ttl_ms : 1);
}

bool
cache_pass_has(const struct cache_pass *p, const struct cache_key *k, int64_t now_ms)
{
	size_t i = slot_of(k);

	return p->e[i].until > now_ms && memcmp(p->e[i].k.b, k->b, sizeof(k->b)) == 0;
}

void
cache_pass_forget(struct cache_pass *p, const struct cache_key *k)
{
	size_t i = slot_of(k);

	if (memcmp(p->e[i].k.b, k->b, sizeof(k->b)) == 0)
		p->e[i].until = 0;
}
