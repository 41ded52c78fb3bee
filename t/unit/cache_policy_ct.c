/*
 * Unit tests for the src/cache_policy.c rules that the cache-tests.fyi suite
 * (t/90-cache-tests.t) brought in: Age by its first member, and
 * Surrogate-Control for a surrogate.  Each case is named for its rule.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cache_policy.h"
#include "tap.h"

static void
test_age(void)
{
	static const struct {
		const char *in;
		int64_t want;
		const char *name;
	} t[] = {
		{ "7200", 7200, "§5.1: delta-seconds" },
		{ " 60 ", 60, "§5.1: OWS around the value" },
		{ "7200,0", 7200, "§5.1: a list counts by its first member (old, 0)" },
		{ "0, 7200", 0, "§5.1: ... (0, old)" },
		{ "3600, 3600", 3600, "§5.1: duplicates: the first" },
		{ "abc", 0, "§5.1: not an integer: ignored" },
		{ "-7200", 0, "§5.1: negative: ignored" },
		{ "7200.0", 0, "§5.1: a fraction: ignored" },
		{ "7200;foo=bar", 0, "§5.1: Age takes no parameters: ignored" },
		{ ", 5", 0, "§5.1: an empty first member: ignored" },
		{ "", 0, "§5.1: empty: ignored" },
		{ "99999999999999999999", CACHE_DELTA_MAX, "§1.2.2: beyond 2^31 -> 2^31" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_int(cache_age_parse(t[i].in, strlen(t[i].in)), t[i].want, t[i].name);
}

static struct cache_resp
resp(const char *cc)
{
	struct cache_resp r;

	memset(&r, 0, sizeof(r));
	r.status = 200;
	r.request_time = r.response_time = r.date = 1000;
	r.expires = r.last_modified = CACHE_TIME_UNSET;
	cache_cc_init(&r.cc);
	cache_cc_parse(&r.cc, cc, strlen(cc));
	return r;
}

static void
test_surrogate(void)
{
	static const struct {
		const char *cc, *sc;
		int64_t life;
		enum cache_storable st;
		bool stale_forbidden;
		const char *name;
	} t[] = {
		{ "max-age=0", "max-age=3600", 3600, CACHE_STORABLE, false,
		    "max-age outweighs Cache-Control: max-age" },
		{ "max-age=3600", "max-age=0", 0, CACHE_STORABLE, false,
		    "a shorter max-age outweighs a longer one" },
		{ "s-maxage=10", "max-age=600", 600, CACHE_STORABLE, true,
		    "max-age outweighs s-maxage, which still forbids serving stale" },
		{ "max-age=3600", "no-store", 3600, CACHE_NOSTORE_NO_STORE, false,
		    "no-store keeps a fresh response out" },
		{ "max-age=3600, must-understand", "no-store", 3600, CACHE_NOSTORE_NO_STORE, false,
		    "no-store even beside must-understand" },
		{ "max-age=5", "max-age=3600;other-cdn", 5, CACHE_STORABLE, false,
		    "a directive targeted at another device is ignored" },
		{ "max-age=5", "foobar, MaX-aGe=60", 60, CACHE_STORABLE, false,
		    "extensions ignored, names case-insensitive" },
		{ "max-age=5", "max-age =60", 5, CACHE_STORABLE, false,
		    "space before = : malformed, ignored" },
		{ "no-store", "max-age=60", 60, CACHE_NOSTORE_NO_STORE, false,
		    "Cache-Control: no-store still holds" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cache_resp r = resp(t[i].cc);
		struct cache_cc sc, rq;
		char buf[160];

		cache_cc_init(&sc);
		cache_cc_init(&rq);
		cache_cc_parse(&sc, t[i].sc, strlen(t[i].sc));
		cache_surrogate_apply(&r, &sc);
		is_int(cache_freshness_lifetime(&r, 0, NULL), t[i].life, t[i].name);
		is_int(cache_storable("GET", 3, &rq, false, &r), t[i].st, t[i].name);
		/* stale by a second: revalidated, unless the client's max-stale
		 * allows it and s-maxage did not forbid that */
		snprintf(buf, sizeof(buf), "%s: stale -> revalidate", t[i].name);
		ok(cache_serve(&r, &rq, 1000 + t[i].life + 1, 0, false) == CACHE_SERVE_REVALIDATE,
		    buf);
		rq.flags |= CACHE_CC_MAX_STALE;
		rq.max_stale = CACHE_STALE_ANY;
		snprintf(buf, sizeof(buf), "%s: max-stale %s", t[i].name,
		    t[i].stale_forbidden ? "refused (s-maxage)" : "honoured");
		ok((cache_serve(&r, &rq, 1000 + t[i].life + 1, 0, false) == CACHE_SERVE_REVALIDATE) ==
		    t[i].stale_forbidden, buf);
	}
}

int
main(void)
{
	test_age();
	test_surrogate();
	return done_testing();
}
