/* cache_pass: note, expiry, forget, collisions. */
#include "config.h"

#include <string.h>

#include "tap.h"
#include "cache_pass.h"

static struct cache_pass p;

static struct cache_key
key(uint8_t first, uint8_t lo)
{
	struct cache_key k;

	memset(&k, 0, sizeof(k));
	k.b[0] = first;
	k.b[15] = lo;
	return k;
}

int
main(void)
{
	struct cache_key a = key(1, 7), b = key(2, 7), c = key(1, 8);

	ok(!cache_pass_has(&p, &a, 1000), "an empty table passes nothing");
	cache_pass_note(&p, &a, 1000, 500);
	ok(cache_pass_has(&p, &a, 1000), "a noted key passes");
	ok(cache_pass_has(&p, &a, 1499), "... until its time is up");
	ok(!cache_pass_has(&p, &a, 1500), "... and not after");
	ok(!cache_pass_has(&p, &c, 1000), "another key does not pass");
	ok(!cache_pass_has(&p, &b, 1000), "a key of the same slot does not pass");
	cache_pass_note(&p, &b, 1000, 500);
	ok(cache_pass_has(&p, &b, 1000) && !cache_pass_has(&p, &a, 1000),
	    "a collision replaces the older key");
	cache_pass_forget(&p, &a);
	ok(cache_pass_has(&p, &b, 1000), "forgetting a key no longer there leaves the slot alone");
	cache_pass_forget(&p, &b);
	ok(!cache_pass_has(&p, &b, 1000), "a forgotten key does not pass");
	cache_pass_note(&p, &c, 1000, 0);
	ok(cache_pass_has(&p, &c, 1000), "a zero time still passes now");
	return done_testing();
}
