/* Unit tests for src/cache_policy.c: each case is named for the rule it checks. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cache_policy.h"
#include "tap.h"

#define T0	1700000000LL	/* Tue, 14 Nov 2023 22:13:20 GMT */
#define U	CACHE_TIME_UNSET
#define BAD	CACHE_TIME_INVALID

static void
test_cc(void)
{
	static const struct {
		const char *in, *name;
		unsigned flags;
		int64_t max_age, s_maxage, max_stale, min_fresh, swr, sie;
	} t[] = {
		{ "max-age=60", "§5.2.2.1 max-age", 0, 60, -1, -1, -1, -1, -1 },
		{ "MAX-AGE=60", "§5.2: directive names are case-insensitive", 0, 60, -1, -1, -1, -1, -1 },
		{ "max-age=\"60\"", "§5.2: quoted-string argument accepted", 0, 60, -1, -1, -1, -1, -1 },
		{ "max-age=60, max-age=60", "§4.2.1: identical duplicates keep the value", 0, 60, -1, -1, -1, -1, -1 },
		{ "max-age=60, max-age=120", "§4.2.1: conflicting duplicates -> stale (0)", 0, 0, -1, -1, -1, -1, -1 },
		{ "max-age=abc", "§1.2.2: malformed delta-seconds -> 0", 0, 0, -1, -1, -1, -1, -1 },
		{ "max-age=-5", "§1.2.2: negative delta-seconds -> 0", 0, 0, -1, -1, -1, -1, -1 },
		{ "max-age=99999999999999999999", "§1.2.2: overflow -> 2^31", 0, CACHE_DELTA_MAX, -1, -1, -1, -1, -1 },
		{ "s-maxage=10,public", "§5.2.2.10 s-maxage + public", CACHE_CC_PUBLIC, -1, 10, -1, -1, -1, -1 },
		{ "no-store", "§5.2.2.5 no-store", CACHE_CC_NO_STORE, -1, -1, -1, -1, -1, -1 },
		{ "no-cache=\"Set-Cookie, X-A\", max-age=5", "§5.2.2.4 qualified no-cache with comma inside quotes", CACHE_CC_NO_CACHE, 5, -1, -1, -1, -1, -1 },
		{ "private=\"x\"", "§5.2.2.7 qualified private treated as private", CACHE_CC_PRIVATE, -1, -1, -1, -1, -1, -1 },
		{ "must-revalidate, proxy-revalidate", "§5.2.2.2/§5.2.2.8", CACHE_CC_MUST_REVALIDATE | CACHE_CC_PROXY_REVALIDATE, -1, -1, -1, -1, -1, -1 },
		{ "max-stale", "§5.2.1.2 max-stale without value: any", CACHE_CC_MAX_STALE, -1, -1, CACHE_STALE_ANY, -1, -1, -1 },
		{ "max-stale=30", "§5.2.1.2 max-stale=30", CACHE_CC_MAX_STALE, -1, -1, 30, -1, -1, -1 },
		{ "min-fresh=20, only-if-cached", "§5.2.1.3 / §5.2.1.7", CACHE_CC_ONLY_IF_CACHED, -1, -1, -1, 20, -1, -1 },
		{ "stale-while-revalidate=30, stale-if-error=60", "RFC 5861 directives", 0, -1, -1, -1, -1, 30, 60 },
		{ "foo=\"a,max-age=9\", bar, max-age=3", "§5.2.3: unknown extensions ignored, even with commas in quotes", 0, 3, -1, -1, -1, -1, -1 },
		{ "  ,, no-transform ,must-understand,immutable", "§5.2: empty list elements and OWS", CACHE_CC_NO_TRANSFORM | CACHE_CC_MUST_UNDERSTAND | CACHE_CC_IMMUTABLE, -1, -1, -1, -1, -1, -1 },
		{ "max-age =5", "malformed element ignored", 0, -1, -1, -1, -1, -1, -1 },
		{ "private; max-age=60", "malformed element: its private still counts (serves less)", CACHE_CC_PRIVATE, -1, -1, -1, -1, -1, -1 },
		{ "no-store; no-cache; must-revalidate", "malformed element: its no-store counts", CACHE_CC_NO_STORE, -1, -1, -1, -1, -1, -1 },
		{ "private x, max-age=60", "malformed private element, then a good max-age", CACHE_CC_PRIVATE, 60, -1, -1, -1, -1, -1 },
		{ "no-cache;, max-age=600", "malformed no-cache element still revalidates", CACHE_CC_NO_CACHE, 600, -1, -1, -1, -1, -1 },
		{ "public; max-age=60", "malformed public element: dropped (it would serve more)", 0, -1, -1, -1, -1, -1, -1 },
		{ "max-age=\"5", "unterminated quote does not run away", 0, 5, -1, -1, -1, -1, -1 },
		{ "max-age=\"5\\0\"", "quoted-pair in a number -> 0", 0, 0, -1, -1, -1, -1, -1 },
		{ "", "empty field", 0, -1, -1, -1, -1, -1, -1 },
	};
	size_t i;

	for (i = 0; i < VD_ARRLEN(t); i++) {
		struct cache_cc cc;
		cache_cc_init(&cc);
		cache_cc_parse(&cc, t[i].in, strlen(t[i].in));
		ok(cc.flags == t[i].flags && cc.max_age == t[i].max_age &&
		    cc.s_maxage == t[i].s_maxage && cc.max_stale == t[i].max_stale &&
		    cc.min_fresh == t[i].min_fresh && cc.stale_while_revalidate == t[i].swr &&
		    cc.stale_if_error == t[i].sie, t[i].name);
	}
	/* two field lines accumulate */
	{
		struct cache_cc cc;
		cache_cc_init(&cc);
		cache_cc_parse(&cc, "public", 6);
		cache_cc_parse(&cc, "max-age=7", 9);
		ok(cc.flags == CACHE_CC_PUBLIC && cc.max_age == 7, "§5.2: several field lines combine");
	}
}

static struct cache_resp
resp(int status, const char *cc)
{
	struct cache_resp r;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.request_time = r.response_time = T0;
	r.date = T0;
	r.expires = r.last_modified = U;
	cache_cc_init(&r.cc);
	cache_cc_parse(&r.cc, cc, strlen(cc));
	return r;
}

static void
test_storable(void)
{
	static const struct {
		const char *method, *req_cc;
		bool auth;
		int status;
		const char *cc;
		int64_t expires;
		bool vary_star;
		enum cache_storable want;
		const char *name;
	} t[] = {
		{ "GET", "", 0, 200, "", U, 0, CACHE_STORABLE, "§3: 200 is heuristically cacheable" },
		{ "HEAD", "", 0, 200, "max-age=60", U, 0, CACHE_NOSTORE_METHOD, "§3: HEAD responses are not stored as objects" },
		{ "POST", "", 0, 200, "max-age=60", U, 0, CACHE_NOSTORE_METHOD, "§3: POST not stored" },
		{ "get", "", 0, 200, "max-age=60", U, 0, CACHE_NOSTORE_METHOD, "RFC 9110 §9.1: method is case-sensitive" },
		{ "GET", "no-store", 0, 200, "max-age=60", U, 0, CACHE_NOSTORE_NO_STORE, "§5.2.1.5: request no-store" },
		{ "GET", "", 0, 200, "no-store", U, 0, CACHE_NOSTORE_NO_STORE, "§5.2.2.5: response no-store" },
		{ "GET", "", 0, 200, "must-understand, no-store", U, 0, CACHE_STORABLE, "§5.2.2.3: must-understand + understood status overrides no-store" },
		{ "GET", "", 0, 299, "must-understand, max-age=60", U, 0, CACHE_NOSTORE_STATUS, "§5.2.2.3: must-understand + unknown status" },
		{ "GET", "", 0, 299, "max-age=60", U, 0, CACHE_STORABLE, "§3: unknown final status with explicit freshness" },
		{ "GET", "", 0, 299, "", U, 0, CACHE_NOSTORE_NO_FRESHNESS, "§3: unknown status without freshness" },
		{ "GET", "", 0, 100, "max-age=60", U, 0, CACHE_NOSTORE_STATUS, "§3: 1xx is not final" },
		{ "GET", "", 0, 206, "max-age=60", U, 0, CACHE_NOSTORE_STATUS, "§3.3: 206 not stored as a complete object" },
		{ "GET", "", 0, 304, "max-age=60", U, 0, CACHE_NOSTORE_STATUS, "§4.3.4: 304 only updates" },
		{ "GET", "", 0, 200, "private", U, 0, CACHE_NOSTORE_PRIVATE, "§5.2.2.7: private never in a shared cache" },
		{ "GET", "", 0, 200, "private=\"Set-Cookie\", max-age=60", U, 0, CACHE_NOSTORE_PRIVATE, "§5.2.2.7: qualified private too (conservative)" },
		{ "GET", "", 1, 200, "max-age=60", U, 0, CACHE_NOSTORE_AUTHORIZATION, "§3.5: Authorization without permission" },
		{ "GET", "", 1, 200, "public", U, 0, CACHE_STORABLE, "§3.5: Authorization + public" },
		{ "GET", "", 1, 200, "s-maxage=60", U, 0, CACHE_STORABLE, "§3.5: Authorization + s-maxage" },
		{ "GET", "", 1, 200, "must-revalidate", U, 0, CACHE_STORABLE, "§3.5: Authorization + must-revalidate" },
		{ "GET", "", 0, 200, "max-age=60", U, 1, CACHE_NOSTORE_VARY_STAR, "§4.1: Vary: * never matches" },
		{ "GET", "", 0, 302, "", U, 0, CACHE_NOSTORE_NO_FRESHNESS, "§3: 302 is not heuristically cacheable" },
		{ "GET", "", 0, 302, "max-age=60", U, 0, CACHE_STORABLE, "§3: 302 with max-age" },
		{ "GET", "", 0, 302, "", T0 + 60, 0, CACHE_STORABLE, "§3: 302 with Expires" },
		{ "GET", "", 0, 403, "public", U, 0, CACHE_STORABLE, "§3: public makes it cacheable" },
		{ "GET", "", 0, 500, "s-maxage=5", U, 0, CACHE_STORABLE, "§3: 500 with s-maxage" },
		{ "GET", "", 0, 404, "", U, 0, CACHE_STORABLE, "RFC 9110 §15.1: 404 heuristic" },
		{ "GET", "", 0, 410, "", U, 0, CACHE_STORABLE, "RFC 9110 §15.1: 410 heuristic" },
		{ "GET", "", 0, 501, "", U, 0, CACHE_STORABLE, "RFC 9110 §15.1: 501 heuristic" },
		{ "GET", "", 0, 308, "", U, 0, CACHE_STORABLE, "RFC 9110 §15.1: 308 heuristic" },
		{ "GET", "", 0, 200, "no-cache", U, 0, CACHE_STORABLE, "§5.2.2.4: no-cache may be stored (revalidated on use)" },
	};
	size_t i;
	int s;

	for (i = 0; i < VD_ARRLEN(t); i++) {
		struct cache_resp r = resp(t[i].status, t[i].cc);
		struct cache_cc rq;
		r.expires = t[i].expires;
		r.vary_star = t[i].vary_star;
		cache_cc_init(&rq);
		cache_cc_parse(&rq, t[i].req_cc, strlen(t[i].req_cc));
		s = cache_storable(t[i].method, strlen(t[i].method), &rq, t[i].auth, &r);
		if (!ok(s == (int)t[i].want, t[i].name))
			note("got %s want %s", cache_storable_str(s), cache_storable_str(t[i].want));
	}
	/* the heuristic status list, exactly */
	{
		static const int h[] = { 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501 };
		int st, n = 0, bad = 0;
		for (st = 100; st < 600; st++) {
			bool in = false;
			for (i = 0; i < VD_ARRLEN(h); i++)
				in |= h[i] == st;
			n += in;
			bad += cache_status_heuristic(st) != in;
		}
		ok(bad == 0 && n == 12, "RFC 9110 §15.1: exactly the heuristically cacheable statuses");
	}
}

static void
test_freshness(void)
{
	static const struct {
		int status;
		const char *cc;
		int64_t date, expires, lm, cap, want;
		enum cache_fresh_src src;
		const char *name;
	} t[] = {
		{ 200, "s-maxage=10, max-age=20", T0, T0 + 30, U, 0, 10, CACHE_FRESH_S_MAXAGE, "§4.2.1: s-maxage first" },
		{ 200, "max-age=20", T0, T0 + 30, U, 0, 20, CACHE_FRESH_MAX_AGE, "§4.2.1: max-age over Expires" },
		{ 200, "", T0, T0 + 30, U, 0, 30, CACHE_FRESH_EXPIRES, "§4.2.1: Expires - Date" },
		{ 200, "", U, T0 + 30, U, 0, 30, CACHE_FRESH_EXPIRES, "§4.2.1: no Date: receipt time stands in" },
		{ 200, "", T0, T0 - 30, U, 0, 0, CACHE_FRESH_EXPIRES, "§4.2.1: Expires in the past -> 0" },
		{ 200, "", T0, BAD, T0 - 1000, 0, 0, CACHE_FRESH_EXPIRES, "§5.3: invalid Expires = already expired (no heuristic)" },
		{ 200, "", T0, U, T0 - 1000, 0, 100, CACHE_FRESH_HEURISTIC, "§4.2.2: 10% of Date - Last-Modified" },
		{ 200, "", T0, U, U, 0, 0, CACHE_FRESH_NONE, "§4.2.2: no Last-Modified: no expiration info" },
		{ 302, "", T0, U, T0 - 1000, 0, 0, CACHE_FRESH_NONE, "§4.2.2: no heuristic for 302" },
		{ 302, "public", T0, U, T0 - 1000, 0, 100, CACHE_FRESH_HEURISTIC, "§4.2.2: public allows heuristics" },
		{ 200, "", T0, U, T0 + 50, 0, 0, CACHE_FRESH_HEURISTIC, "§4.2.2: Last-Modified after Date -> 0" },
		{ 200, "max-age=100000", T0, U, U, 3600, 3600, CACHE_FRESH_MAX_AGE, "RouterOS max-fresh-time caps max-age" },
		{ 200, "", T0, U, T0 - 10000000, 3600, 3600, CACHE_FRESH_HEURISTIC, "RouterOS max-fresh-time caps heuristics" },
		{ 200, "max-age=0", T0, U, U, 3600, 0, CACHE_FRESH_MAX_AGE, "max-age=0 -> 0" },
	};
	size_t i;

	for (i = 0; i < VD_ARRLEN(t); i++) {
		struct cache_resp r = resp(t[i].status, t[i].cc);
		enum cache_fresh_src src;
		int64_t life;
		r.date = t[i].date;
		r.expires = t[i].expires;
		r.last_modified = t[i].lm;
		life = cache_freshness_lifetime(&r, t[i].cap, &src);
		if (!ok(life == t[i].want && src == t[i].src, t[i].name))
			note("life %lld src %d", (long long)life, (int)src);
	}
}

static void
test_age(void)
{
	static const struct {
		int64_t req, resp, date, age, now, want;
		const char *name;
	} t[] = {
		{ T0, T0, T0, 0, T0, 0, "§4.2.3: new response has age 0" },
		{ T0, T0, T0, 0, T0 + 100, 100, "§4.2.3: resident_time adds" },
		{ T0, T0 + 2, T0 - 10, 0, T0 + 2, 12, "§4.2.3: apparent_age = response_time - date" },
		{ T0, T0 + 2, T0, 30, T0 + 2, 32, "§4.2.3: corrected_age_value = age + response_delay" },
		{ T0, T0 + 2, T0 - 50, 30, T0 + 12, 62, "§4.2.3: max(apparent, corrected) + resident" },
		{ T0, T0, T0 + 100, 0, T0, 0, "§4.2.3: Date in the future: apparent_age 0" },
		{ T0, T0 + 3, U, 0, T0 + 3, 3, "§4.2.3: no Date: response_delay only" },
		{ T0, T0, T0, 0, T0 - 50, 0, "clock going back never gives negative age" },
	};
	size_t i;

	for (i = 0; i < VD_ARRLEN(t); i++) {
		struct cache_resp r = resp(200, "");
		r.request_time = t[i].req;
		r.response_time = t[i].resp;
		r.date = t[i].date;
		r.age_value = t[i].age;
		is_int(cache_current_age(&r, t[i].now), t[i].want, t[i].name);
	}
}

static void
test_serve(void)
{
	static const struct {
		const char *cc, *req;
		int64_t now;
		bool always;
		enum cache_serve want;
		const char *name;
	} t[] = {
		{ "max-age=60", "", T0 + 10, 0, CACHE_SERVE_FRESH, "§4.2: fresh -> serve" },
		{ "max-age=60", "", T0 + 60, 0, CACHE_SERVE_REVALIDATE, "§4.2: age == lifetime is stale" },
		{ "max-age=60", "", T0 + 100, 0, CACHE_SERVE_REVALIDATE, "§4.2.4: stale -> validate" },
		{ "max-age=60", "no-cache", T0 + 10, 0, CACHE_SERVE_REVALIDATE, "§5.2.1.4: request no-cache revalidates" },
		{ "max-age=60", "no-cache", T0 + 10, 1, CACHE_SERVE_FRESH, "RouterOS always-from-cache: fresh wins over no-cache" },
		{ "max-age=60", "no-cache", T0 + 100, 1, CACHE_SERVE_REVALIDATE, "always-from-cache does not serve stale" },
		{ "max-age=60", "max-age=5", T0 + 10, 0, CACHE_SERVE_REVALIDATE, "§5.2.1.1: request max-age exceeded" },
		{ "max-age=60", "max-age=20", T0 + 10, 0, CACHE_SERVE_FRESH, "§5.2.1.1: request max-age met" },
		{ "max-age=60", "max-age=0", T0 + 10, 1, CACHE_SERVE_FRESH, "always-from-cache: max-age=0 refresh ignored" },
		{ "max-age=60", "min-fresh=55", T0 + 10, 0, CACHE_SERVE_REVALIDATE, "§5.2.1.3: min-fresh not met" },
		{ "max-age=60", "min-fresh=30", T0 + 10, 0, CACHE_SERVE_FRESH, "§5.2.1.3: min-fresh met" },
		{ "max-age=60", "max-stale=50", T0 + 100, 0, CACHE_SERVE_STALE_OK, "§5.2.1.2: within max-stale" },
		{ "max-age=60", "max-stale=10", T0 + 100, 0, CACHE_SERVE_REVALIDATE, "§5.2.1.2: beyond max-stale" },
		{ "max-age=60", "max-stale", T0 + 100000, 0, CACHE_SERVE_STALE_OK, "§5.2.1.2: max-stale without value" },
		{ "max-age=60, must-revalidate", "max-stale", T0 + 100, 0, CACHE_SERVE_REVALIDATE, "§5.2.2.2: must-revalidate forbids stale" },
		{ "max-age=60, proxy-revalidate", "max-stale", T0 + 100, 0, CACHE_SERVE_REVALIDATE, "§5.2.2.8: proxy-revalidate in a shared cache" },
		{ "s-maxage=60", "max-stale", T0 + 100, 0, CACHE_SERVE_REVALIDATE, "§5.2.2.10: s-maxage implies proxy-revalidate" },
		{ "max-age=60, no-cache", "", T0 + 10, 0, CACHE_SERVE_REVALIDATE, "§5.2.2.4: response no-cache always validates" },
		{ "max-age=60, no-cache", "", T0 + 10, 1, CACHE_SERVE_REVALIDATE, "always-from-cache does not override response no-cache" },
		{ "max-age=60, stale-while-revalidate=30", "", T0 + 80, 0, CACHE_SERVE_STALE_REVALIDATE, "RFC 5861 §3: within the window" },
		{ "max-age=60, stale-while-revalidate=30", "", T0 + 91, 0, CACHE_SERVE_REVALIDATE, "RFC 5861 §3: beyond the window" },
		{ "max-age=60, stale-while-revalidate=30, must-revalidate", "", T0 + 80, 0, CACHE_SERVE_REVALIDATE, "must-revalidate beats stale-while-revalidate" },
		{ "max-age=60", "only-if-cached", T0 + 10, 0, CACHE_SERVE_FRESH, "§5.2.1.7: only-if-cached with a fresh object" },
		{ "max-age=60", "only-if-cached", T0 + 100, 0, CACHE_SERVE_GATEWAY_TIMEOUT, "§5.2.1.7: only-if-cached, stale -> 504" },
		{ "max-age=60", "only-if-cached, max-stale", T0 + 100, 0, CACHE_SERVE_STALE_OK, "§5.2.1.7: only-if-cached + max-stale serves stale" },
	};
	size_t i;

	for (i = 0; i < VD_ARRLEN(t); i++) {
		struct cache_resp r = resp(200, t[i].cc);
		struct cache_cc rq;
		enum cache_serve s;
		cache_cc_init(&rq);
		cache_cc_parse(&rq, t[i].req, strlen(t[i].req));
		s = cache_serve(&r, &rq, t[i].now, 0, t[i].always);
		if (!ok(s == t[i].want, t[i].name))
			note("got %s want %s", cache_serve_str(s), cache_serve_str(t[i].want));
	}
	/* max-fresh-time caps freshness at serve time too */
	{
		struct cache_resp r = resp(200, "max-age=600");
		struct cache_cc rq;
		cache_cc_init(&rq);
		ok(cache_serve(&r, &rq, T0 + 100, 60, false) == CACHE_SERVE_REVALIDATE,
		    "RouterOS max-fresh-time: capped lifetime makes it stale");
	}
}

static void
test_stale_if_error(void)
{
	static const struct {
		const char *cc, *req;
		int64_t now;
		bool want;
		const char *name;
	} t[] = {
		{ "max-age=60, stale-if-error=100", "", T0 + 150, true, "RFC 5861 §4: within stale-if-error" },
		{ "max-age=60, stale-if-error=100", "", T0 + 161, false, "RFC 5861 §4: beyond stale-if-error" },
		{ "max-age=60", "stale-if-error=100", T0 + 150, true, "RFC 5861 §4: request stale-if-error" },
		{ "max-age=60", "", T0 + 61, false, "no stale-if-error: no stale on error" },
		{ "max-age=60, stale-if-error=100, must-revalidate", "", T0 + 100, false, "§5.2.2.2: must-revalidate forbids stale on error" },
		{ "max-age=60", "", T0 + 10, true, "a fresh response may always be served" },
		{ "no-cache, max-age=100", "", T0 + 10, false,
		    "§5.2.2.4: a no-cache response, even fresh, is never served on a failed validation" },
		{ "no-cache, max-age=1, stale-if-error=100", "max-stale", T0 + 10, false,
		    "§4.2.4: no-cache beats stale-if-error and max-stale" },
	};
	size_t i;

	for (i = 0; i < VD_ARRLEN(t); i++) {
		struct cache_resp r = resp(200, t[i].cc);
		struct cache_cc rq;
		cache_cc_init(&rq);
		cache_cc_parse(&rq, t[i].req, strlen(t[i].req));
		ok(cache_stale_if_error_ok(&r, &rq, t[i].now, 0) == t[i].want, t[i].name);
	}
}

static void
test_dates(void)
{
	static const struct {
		const char *in;
		int64_t want;
		const char *name;
	} t[] = {
		{ "Sun, 06 Nov 1994 08:49:37 GMT", 784111777, "RFC 9110 §5.6.7: IMF-fixdate" },
		{ "Sunday, 06-Nov-94 08:49:37 GMT", 784111777, "RFC 9110 §5.6.7: RFC 850" },
		{ "Sun Nov  6 08:49:37 1994", 784111777, "RFC 9110 §5.6.7: asctime" },
		{ "  Sun, 06 Nov 1994 08:49:37 GMT ", 784111777, "surrounding OWS ignored" },
		{ "Thu, 01 Jan 1970 00:00:00 GMT", 0, "epoch" },
		{ "Tue, 29 Feb 2000 12:00:00 GMT", 951825600, "leap day 2000" },
		{ "Mon, 29 Feb 1900 12:00:00 GMT", CACHE_TIME_INVALID, "1900 is not a leap year" },
		{ "Sun, 31 Apr 1994 08:49:37 GMT", CACHE_TIME_INVALID, "April 31 invalid" },
		{ "Sun, 06 Nov 1994 24:00:00 GMT", CACHE_TIME_INVALID, "hour 24 invalid" },
		{ "Sun, 06 Nov 1994 08:49:37 UTC", CACHE_TIME_INVALID, "only GMT" },
		{ "Sun, 06 Nox 1994 08:49:37 GMT", CACHE_TIME_INVALID, "bad month" },
		{ "Xyz, 06 Nov 1994 08:49:37 GMT", CACHE_TIME_INVALID, "bad day name" },
		{ "0", CACHE_TIME_INVALID, "§5.3: Expires: 0 is invalid" },
		{ "", CACHE_TIME_INVALID, "empty" },
		{ "Sun, 6 Nov 1994 08:49:37 GMT", CACHE_TIME_INVALID, "IMF-fixdate needs 2-digit day" },
		{ "Thu, 01 Jan 2037 00:00:00 GMT", 2114380800, "2037" },
		{ "Fri, 31 Dec 9999 23:59:59 GMT", 253402300799LL, "year 9999 (no 2038 problem)" },
	};
	char buf[CACHE_HTTP_DATE_LEN + 1];
	size_t i;

	for (i = 0; i < VD_ARRLEN(t); i++)
		is_int(cache_http_date_parse(t[i].in, strlen(t[i].in), T0), t[i].want, t[i].name);
	/* RFC 850 two-digit years: not more than 50 years ahead of now (2023) */
	is_int(cache_http_date_parse("Wednesday, 01-Jan-70 00:00:00 GMT", 33, T0), 3155760000LL,
	    "RFC 9110 §5.6.7: 70 is 2070 in 2023 (47 years ahead)");
	is_int(cache_http_date_parse("Tuesday, 01-Jan-74 00:00:00 GMT", 31, T0), 126230400,
	    "RFC 9110 §5.6.7: 74 is 1974 in 2023 (2074 is 51 years ahead)");
	is_int(cache_http_date_parse("Saturday, 01-Jan-50 00:00:00 GMT", 32, T0), 2524608000LL,
	    "RFC 9110 §5.6.7: 50 is 2050 in 2023 (27 years ahead)");
	is_int(cache_http_date_parse("Friday, 01-Jan-99 00:00:00 GMT", 30, T0), 915148800,
	    "RFC 9110 §5.6.7: 99 is 1999 in 2023");
	cache_http_date_fmt(784111777, buf);
	is_str(buf, "Sun, 06 Nov 1994 08:49:37 GMT", "IMF-fixdate formatting");
	cache_http_date_fmt(T0, buf);
	is_str(buf, "Tue, 14 Nov 2023 22:13:20 GMT", "IMF-fixdate formatting, weekday");
	cache_http_date_fmt(0, buf);
	is_str(buf, "Thu, 01 Jan 1970 00:00:00 GMT", "formatting the epoch");
	{
		int64_t s, bad = 0;
		for (s = 0; s < 4000000000LL; s += 7777777) {
			cache_http_date_fmt(s, buf);
			bad += cache_http_date_parse(buf, CACHE_HTTP_DATE_LEN, T0) != s;
		}
		is_int(bad, 0, "format then parse round-trips over 1970-2096");
	}
}

static void
test_validators(void)
{
	struct vd_str etag = VD_STR("\"abc\""), lm = VD_STR("Sun, 06 Nov 1994 08:49:37 GMT");
	struct vd_str none = { "", 0 };
	char buf[256];
	ssize_t n;

	n = cache_conditional_fields(&etag, &lm, buf, sizeof(buf));
	ok(n > 0 && (size_t)n == strlen("If-None-Match: \"abc\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n") &&
	    memcmp(buf, "If-None-Match: \"abc\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n", (size_t)n) == 0,
	    "§4.3.1: If-None-Match from ETag and If-Modified-Since from Last-Modified");
	n = cache_conditional_fields(&none, &lm, buf, sizeof(buf));
	ok(n == 50 && memcmp(buf, "If-Modified-Since: ", 19) == 0, "§4.3.1: Last-Modified only");
	n = cache_conditional_fields(&etag, NULL, buf, sizeof(buf));
	ok(n == 22 && memcmp(buf, "If-None-Match: \"abc\"\r\n", 22) == 0, "§4.3.1: ETag only");
	ok(cache_conditional_fields(&etag, &lm, buf, 30) == -1, "buffer too small -> -1");
}

static void
test_client_cond(void)
{
	static const struct {
		const char *inm, *ims, *etag;
		int64_t lm;
		int want;
		const char *name;
	} t[] = {
		{ "\"abc\"", NULL, "\"abc\"", U, 304, "RFC 9110 §13.1.2: If-None-Match matches" },
		{ "W/\"abc\"", NULL, "\"abc\"", U, 304, "§8.8.3.2: weak comparison W/ vs strong" },
		{ "\"abc\"", NULL, "W/\"abc\"", U, 304, "§8.8.3.2: weak comparison strong vs W/" },
		{ "\"x\", \"abc\"", NULL, "\"abc\"", U, 304, "If-None-Match list" },
		{ "\"a,b\", \"abc\"", NULL, "\"abc\"", U, 304, "entity-tag containing a comma" },
		{ "\"xyz\"", NULL, "\"abc\"", U, 200, "If-None-Match does not match" },
		{ "\"ABC\"", NULL, "\"abc\"", U, 200, "entity-tags are case-sensitive" },
		{ "*", NULL, "\"abc\"", U, 304, "If-None-Match: * with a stored representation" },
		{ "\"xyz\"", "Sun, 06 Nov 2033 08:49:37 GMT", "\"abc\"", T0 - 100, 200, "§13.2.2: If-None-Match present -> If-Modified-Since ignored" },
		{ NULL, "Tue, 14 Nov 2023 22:13:20 GMT", NULL, T0 - 100, 304, "§13.1.3: not modified since" },
		{ NULL, "Tue, 14 Nov 2023 22:13:20 GMT", NULL, T0, 304, "§13.1.3: equal time is not modified" },
		{ NULL, "Tue, 14 Nov 2023 22:13:19 GMT", NULL, T0, 200, "§13.1.3: modified since" },
		{ NULL, "garbage", NULL, T0 - 100, 200, "§13.1.3: invalid date ignored" },
		{ NULL, "Tue, 14 Nov 2023 22:13:20 GMT", NULL, U, 304, "RFC 9111 §4.3.2: no Last-Modified -> Date" },
		{ "garbage", NULL, "\"abc\"", U, 200, "malformed If-None-Match never matches" },
	};
	size_t i;

	for (i = 0; i < VD_ARRLEN(t); i++) {
		struct cache_resp r = resp(200, "max-age=60");
		struct vd_str inm = { t[i].inm, t[i].inm ? strlen(t[i].inm) : 0 };
		struct vd_str ims = { t[i].ims, t[i].ims ? strlen(t[i].ims) : 0 };
		struct vd_str et = { t[i].etag, t[i].etag ? strlen(t[i].etag) : 0 };
		r.last_modified = t[i].lm;
		is_int(cache_client_conditional(&inm, &ims, &et, &r, T0), t[i].want, t[i].name);
	}
}

static void
test_merge(void)
{
	const char *st = "Content-Type: text/plain\r\nContent-Length: 5\r\nETag: \"1\"\r\n"
	    "Cache-Control: max-age=10\r\nX-Keep: a\r\nX-Multi: 1\r\nX-Multi: 2\r\n";
	const char *up = "Cache-Control: max-age=60\r\nETag: \"1\"\r\nContent-Length: 0\r\n"
	    "X-New: b\r\nConnection: close\r\nX-Multi: 3\r\n";
	const char *want = "Content-Type: text/plain\r\nContent-Length: 5\r\nX-Keep: a\r\n"
	    "Cache-Control: max-age=60\r\nETag: \"1\"\r\nX-New: b\r\nX-Multi: 3\r\n";
	char out[512];
	ssize_t n;

	n = cache_merge_304(st, strlen(st), up, strlen(up), out, sizeof(out));
	ok(n == (ssize_t)strlen(want) && memcmp(out, want, strlen(want)) == 0,
	    "§3.2: 304 fields replace stored ones; Content-Length and hop-by-hop kept out");
	if (n > 0)
		note("%.*s", (int)n, out);
	ok(cache_merge_304(st, strlen(st), up, strlen(up), out, 20) == -1, "merge: small buffer -> -1");
	ok(!cache_field_storable("Connection", 10) && !cache_field_storable("transfer-encoding", 17) &&
	    !cache_field_storable("Proxy-Authenticate", 18) && !cache_field_storable("Age", 3) &&
	    cache_field_storable("Set-Cookie", 10),
	    "§3.1: hop-by-hop and proxy fields are not stored");
	ok(!cache_field_updatable("content-length", 14) && cache_field_updatable("Expires", 7),
	    "§3.2: Content-Length is never updated");
}

static void
test_invalidate(void)
{
	static const struct { const char *m; int status; bool want; const char *name; } t[] = {
		{ "POST", 200, true, "§4.4: POST 200 invalidates" },
		{ "PUT", 201, true, "§4.4: PUT 201 invalidates" },
		{ "DELETE", 204, true, "§4.4: DELETE invalidates" },
		{ "PATCH", 302, true, "§4.4: PATCH 3xx invalidates" },
		{ "POST", 404, false, "§4.4: error status does not invalidate" },
		{ "POST", 500, false, "§4.4: 5xx does not invalidate" },
		{ "GET", 200, false, "§4.4: safe method GET" },
		{ "HEAD", 200, false, "§4.4: safe method HEAD" },
		{ "OPTIONS", 200, false, "§4.4: safe method OPTIONS" },
		{ "FOO", 200, true, "§4.4: unknown method is unsafe" },
	};
	size_t i;

	for (i = 0; i < VD_ARRLEN(t); i++)
		ok(cache_method_invalidates(t[i].m, strlen(t[i].m), t[i].status) == t[i].want, t[i].name);
}

int
main(void)
{
	test_cc();
	test_storable();
	test_freshness();
	test_age();
	test_serve();
	test_stale_if_error();
	test_dates();
	test_validators();
	test_client_cond();
	test_merge();
	test_invalidate();
	return done_testing();
}
