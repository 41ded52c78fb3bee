/* Unit tests for src/cache_range.c: each case is named for the rule it checks. */
#include "config.h"

#include <string.h>

#include "cache_policy.h"
#include "cache_range.h"
#include "tap.h"

#define LM	1700000000LL	/* Tue, 14 Nov 2023 22:13:20 GMT */

static void
test_eval(void)
{
	static const struct {
		const char *in;
		uint64_t size;
		enum cache_range want;
		uint64_t first, count;
		const char *name;
	} t[] = {
		{ "bytes=0-9", 100, CACHE_RANGE_ONE, 0, 10, "§14.1.2 int-range" },
		{ "bytes=10-", 100, CACHE_RANGE_ONE, 10, 90, "int-range without last-pos: to the end" },
		{ "bytes=90-200", 100, CACHE_RANGE_ONE, 90, 10, "last-pos past the end is clipped" },
		{ "bytes=99-99", 100, CACHE_RANGE_ONE, 99, 1, "the last byte" },
		{ "bytes=-10", 100, CACHE_RANGE_ONE, 90, 10, "suffix-range" },
		{ "bytes=-1000", 100, CACHE_RANGE_ONE, 0, 100, "suffix longer than the object: all of it" },
		{ "BYTES=0-0", 100, CACHE_RANGE_ONE, 0, 1, "the unit is case-insensitive" },
		{ "bytes= 5-6 ", 100, CACHE_RANGE_ONE, 5, 2, "OWS around the range-spec" },
		{ "bytes=,5-6,", 100, CACHE_RANGE_ONE, 5, 2, "empty list elements are ignored" },
		{ "bytes=100-", 100, CACHE_RANGE_UNSATISFIABLE, 0, 0, "first-pos at the end: 416" },
		{ "bytes=200-300", 100, CACHE_RANGE_UNSATISFIABLE, 0, 0, "first-pos beyond the end: 416" },
		{ "bytes=-0", 100, CACHE_RANGE_UNSATISFIABLE, 0, 0, "suffix-length 0: 416" },
		{ "bytes=0-", 0, CACHE_RANGE_UNSATISFIABLE, 0, 0, "an empty object: 416" },
		{ "bytes=-5", 0, CACHE_RANGE_NONE, 0, 0,
		    "an empty object, suffix: satisfiable (RFC 9110 14.1.2), the whole object" },
		{ "bytes=0-,-5", 0, CACHE_RANGE_NONE, 0, 0, "an empty object, with a suffix: 200" },
		{ "bytes=-0", 0, CACHE_RANGE_UNSATISFIABLE, 0, 0, "an empty object, zero suffix: 416" },
		{ "bytes=200-300,400-", 100, CACHE_RANGE_UNSATISFIABLE, 0, 0, "no satisfiable range of several: 416" },
		{ "bytes=0-1,5-6", 100, CACHE_RANGE_MULTI, 0, 2, "two ranges: the whole object" },
		{ "bytes=200-300,5-6", 100, CACHE_RANGE_MULTI, 5, 2, "two ranges, one satisfiable: whole" },
		{ "bytes=5-4", 100, CACHE_RANGE_NONE, 0, 0, "§14.1.1 last < first: invalid, ignored" },
		{ "items=0-1", 100, CACHE_RANGE_NONE, 0, 0, "§14.2 unknown unit: ignored" },
		{ "bytes 0-1", 100, CACHE_RANGE_NONE, 0, 0, "no '=': ignored" },
		{ "bytes=", 100, CACHE_RANGE_NONE, 0, 0, "no range-spec: ignored" },
		{ "bytes=,", 100, CACHE_RANGE_NONE, 0, 0, "only empty elements: ignored" },
		{ "bytes=a-b", 100, CACHE_RANGE_NONE, 0, 0, "not digits: ignored" },
		{ "bytes=-", 100, CACHE_RANGE_NONE, 0, 0, "a lone dash: ignored" },
		{ "bytes=1-2;x", 100, CACHE_RANGE_NONE, 0, 0, "trailing junk: ignored" },
		{ "bytes=0-1 2-3", 100, CACHE_RANGE_NONE, 0, 0, "two specs without a comma: ignored" },
		{ "bytes=99999999999999999999999-", 100, CACHE_RANGE_UNSATISFIABLE, 0, 0,
		    "a first-pos too large to represent: beyond the end" },
		{ "bytes=0-99999999999999999999999", 100, CACHE_RANGE_ONE, 0, 100,
		    "a last-pos too large to represent: to the end" },
		{ "bytes=-99999999999999999999999", 100, CACHE_RANGE_ONE, 0, 100,
		    "a suffix too large to represent: all of it" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t f = 0, n = 0;
		enum cache_range r = cache_range_eval(t[i].in, strlen(t[i].in), t[i].size, &f, &n);

		is_int(r, t[i].want, t[i].name);
		if (t[i].want == CACHE_RANGE_ONE || t[i].want == CACHE_RANGE_MULTI) {
			is_int(f, t[i].first, t[i].name);
			is_int(n, t[i].count, t[i].name);
		}
	}
	ok(cache_range_eval(NULL, 0, 10, &(uint64_t){ 0 }, &(uint64_t){ 0 }) == CACHE_RANGE_NONE,
	    "no field: none");
	/* counted slices: bytes past len are not read */
	is_int(cache_range_eval("bytes=0-1XYZ", 9, 100, &(uint64_t){ 0 }, &(uint64_t){ 0 }),
	    CACHE_RANGE_ONE, "the value is a counted slice");
}

static void
test_if_range(void)
{
	struct vd_str strong = VD_STR("\"v1\""), weak = VD_STR("W/\"v1\""), none = { NULL, 0 };
	const char *lm = "Tue, 14 Nov 2023 22:13:20 GMT";
	const char *lm2 = "Tue, 14 Nov 2023 22:13:21 GMT";
	int64_t now = LM + 100;

	ok(cache_if_range_ok("\"v1\"", 4, &strong, LM, LM + 10, now), "§13.1.5 same strong ETag");
	ok(!cache_if_range_ok("\"v2\"", 4, &strong, LM, LM + 10, now), "another ETag: no");
	ok(!cache_if_range_ok("W/\"v1\"", 6, &weak, LM, LM + 10, now), "weak tags never match");
	ok(!cache_if_range_ok("\"v1\"", 4, &weak, LM, LM + 10, now), "a weak stored tag never matches");
	ok(!cache_if_range_ok("\"v1\"", 4, &none, LM, LM + 10, now), "no stored ETag: no");
	ok(cache_if_range_ok(lm, strlen(lm), &none, LM, LM + 10, now), "same strong Last-Modified");
	ok(!cache_if_range_ok(lm2, strlen(lm2), &none, LM, LM + 10, now), "another date: no");
	ok(!cache_if_range_ok(lm, strlen(lm), &none, LM, LM, now),
	    "§8.8.2.2 Date not a second after Last-Modified: weak, no");
	ok(!cache_if_range_ok(lm, strlen(lm), &none, LM, CACHE_TIME_UNSET, now),
	    "no Date: the Last-Modified is weak, no");
	ok(!cache_if_range_ok(lm, strlen(lm), &none, CACHE_TIME_UNSET, LM + 10, now),
	    "no stored Last-Modified: no");
	ok(!cache_if_range_ok("garbage", 7, &strong, LM, LM + 10, now), "not a date: no");
	ok(!cache_if_range_ok("", 0, &strong, LM, LM + 10, now), "empty: no");
	ok(cache_if_range_ok(" \"v1\" ", 6, &strong, LM, LM + 10, now), "OWS around the value");
}

int
main(void)
{
	test_eval();
	test_if_range();
	return done_testing();
}
