/*
 * cache_policy.c — RFC 9111 / RFC 5861 decisions; no I/O, no allocation.
 *
 * Everything here is a pure function of its arguments so that the rules
 * can be tested table by table (t/unit/cache_policy.c) and reused by the
 * worker, the cache manager and viaductctl alike.  Where the RFC leaves a
 * choice we take the one that can only make the cache serve less.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "cache_policy.h"

#define IS_OWS(c)	((c) == ' ' || (c) == '\t')
#define IS_DIGIT(c)	((c) >= '0' && (c) <= '9')

static bool
tok_eq(const char *p, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(p, lit, len) == 0;
}

static bool
is_tchar(unsigned char c)
{
	if (c >= 'a' && c <= 'z') return true;
	if (c >= 'A' && c <= 'Z') return true;
	if (IS_DIGIT(c)) return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* delta-seconds (RFC 9111 §1.2.2); -1 when malformed. */
static int64_t
parse_delta(const char *p, size_t len)
{
	int64_t v = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (!IS_DIGIT(p[i]))
			return -1;
		if (v < CACHE_DELTA_MAX)
			v = v * 10 + (p[i] - '0');
	}
	return v > CACHE_DELTA_MAX ? CACHE_DELTA_MAX : v;
}

void
cache_cc_init(struct cache_cc *cc)
{
	cc->flags = 0;
	cc->max_age = cc->s_maxage = cc->max_stale = cc->min_fresh = -1;
	cc->stale_while_revalidate = cc->stale_if_error = -1;
}

/* A repeated directive with a different value makes the response stale (§4.2.1). */
static void
set_delta(int64_t *dst, const char *arg, size_t alen, bool has_arg)
{
	int64_t v = has_arg ? parse_delta(arg, alen) : -1;

	if (v < 0)
		v = 0;
	if (*dst == -1)
		*dst = v;
	else if (*dst != v)
		*dst = 0;
}

static void
cc_apply(struct cache_cc *cc, const char *n, size_t nlen, const char *a, size_t alen,
    bool has_arg)
{
	static const struct { const char *name; unsigned flag; } flags[] = {
		{ "no-store", CACHE_CC_NO_STORE },
		{ "no-cache", CACHE_CC_NO_CACHE },
		{ "private", CACHE_CC_PRIVATE },
		{ "public", CACHE_CC_PUBLIC },
		{ "must-revalidate", CACHE_CC_MUST_REVALIDATE },
		{ "proxy-revalidate", CACHE_CC_PROXY_REVALIDATE },
		{ "no-transform", CACHE_CC_NO_TRANSFORM },
		{ "only-if-cached", CACHE_CC_ONLY_IF_CACHED },
		{ "must-understand", CACHE_CC_MUST_UNDERSTAND },
		{ "immutable", CACHE_CC_IMMUTABLE },
	};
	size_t i;

	for (i = 0; i < VD_ARRLEN(flags); i++)
		if (tok_eq(n, nlen, flags[i].name)) {
			cc->flags |= flags[i].flag;
			return;
		}
	if (tok_eq(n, nlen, "max-age"))
		set_delta(&cc->max_age, a, alen, has_arg);
	else if (tok_eq(n, nlen, "s-maxage"))
		set_delta(&cc->s_maxage, a, alen, has_arg);
	else if (tok_eq(n, nlen, "min-fresh"))
		set_delta(&cc->min_fresh, a, alen, has_arg);
	else if (tok_eq(n, nlen, "stale-while-revalidate"))
		set_delta(&cc->stale_while_revalidate, a, alen, has_arg);
	else if (tok_eq(n, nlen, "stale-if-error"))
		set_delta(&cc->stale_if_error, a, alen, has_arg);
	else if (tok_eq(n, nlen, "max-stale")) {
		/* §5.2.1.2: no value means any staleness; a bad one is ignored. */
		int64_t v = has_arg ? parse_delta(a, alen) : CACHE_STALE_ANY;
		if (v >= 0 && !(cc->flags & CACHE_CC_MAX_STALE)) {
			cc->max_stale = v;
			cc->flags |= CACHE_CC_MAX_STALE;
		}
	}
}

/*
 * cache-directive = token [ "=" ( token / quoted-string ) ], comma separated.
 * A quoted argument may contain commas; quoted-pair escapes make a numeric
 * argument malformed (parse_delta sees the backslash).
 */
static bool
restrictive(const char *n, size_t len)
{
	static const char *const r[] = { "no-store", "private", "no-cache", "must-revalidate",
	    "proxy-revalidate" };

	for (size_t k = 0; k < VD_ARRLEN(r); k++)
		if (tok_eq(n, len, r[k]))
			return true;
	return false;
}

void
cache_cc_parse(struct cache_cc *cc, const char *p, size_t len)
{
	size_t i = 0, n0, nlen, a0, alen;
	bool has_arg;

	while (i < len) {
		while (i < len && (IS_OWS(p[i]) || p[i] == ','))
			i++;
		n0 = i;
		while (i < len && is_tchar((unsigned char)p[i]))
			i++;
		nlen = i - n0;
		has_arg = false;
		a0 = alen = 0;
		if (i < len && p[i] == '=') {
			has_arg = true;
			i++;
			if (i < len && p[i] == '"') {
				a0 = ++i;
				while (i < len && p[i] != '"')
					i += (p[i] == '\\' && i + 1 < len) ? 2 : 1;
				alen = (i < len ? i : len) - a0;
				if (i < len)
					i++;
			} else {
				a0 = i;
				while (i < len && is_tchar((unsigned char)p[i]))
					i++;
				alen = i - a0;
			}
		}
		/* anything else up to the next comma makes the element malformed;
		 * of such an element only a directive that can make the cache
		 * serve less is kept, without its argument ("private; x") */
		while (i < len && IS_OWS(p[i]))
			i++;
		if (i < len && p[i] != ',') {
			while (i < len && p[i] != ',')
				i++;
			if (restrictive(p + n0, nlen))
				cc_apply(cc, p + n0, nlen, NULL, 0, false);
			continue;
		}
		if (nlen > 0)
			cc_apply(cc, p + n0, nlen, p + a0, alen, has_arg);
	}
}

bool
cache_status_heuristic(int status)
{
	switch (status) {
	case 200: case 203: case 204: case 206: case 300: case 301: case 308:
	case 404: case 405: case 410: case 414: case 501:
		return true;
	}
	return false;
}

bool
cache_status_understood(int status)
{
	switch (status) {
	case 200: case 203: case 204: case 300: case 301: case 302: case 303:
	case 307: case 308: case 400: case 403: case 404: case 405: case 410:
	case 414: case 451: case 500: case 501: case 502: case 503: case 504:
		return true;
	}
	return false;
}

enum cache_storable
cache_storable(const char *method, size_t mlen, const struct cache_cc *req_cc,
    bool authorization, const struct cache_resp *r)
{
	unsigned f = r->cc.flags;

	/* method tokens are case-sensitive (RFC 9110 §9.1) */
	if (mlen != 3 || memcmp(method, "GET", 3) != 0)
		return CACHE_NOSTORE_METHOD;
	if (req_cc != NULL && (req_cc->flags & CACHE_CC_NO_STORE))
		return CACHE_NOSTORE_NO_STORE;
	/* 206 is never a complete object; 304 only updates a stored one */
	if (r->status < 200 || r->status > 599 || r->status == 206 || r->status == 304)
		return CACHE_NOSTORE_STATUS;
	if (f & CACHE_CC_MUST_UNDERSTAND) {
		/* §5.2.2.3: understood status -> no-store is ignored */
		if (!cache_status_understood(r->status))
			return CACHE_NOSTORE_STATUS;
	} else if (f & CACHE_CC_NO_STORE)
		return CACHE_NOSTORE_NO_STORE;
	if (f & CACHE_CC_PRIVATE)
		return CACHE_NOSTORE_PRIVATE;
	if (authorization && !(f & (CACHE_CC_PUBLIC | CACHE_CC_MUST_REVALIDATE)) &&
	    r->cc.s_maxage < 0)
		return CACHE_NOSTORE_AUTHORIZATION;
	if (r->vary_star)
		return CACHE_NOSTORE_VARY_STAR;
	if ((f & CACHE_CC_PUBLIC) || r->cc.max_age >= 0 || r->cc.s_maxage >= 0 ||
	    r->expires != CACHE_TIME_UNSET || cache_status_heuristic(r->status))
		return CACHE_STORABLE;
	return CACHE_NOSTORE_NO_FRESHNESS;
}

const char *
cache_storable_str(enum cache_storable s)
{
	static const char *names[] = {
		"storable", "method", "status", "no-store", "private",
		"authorization", "vary-star", "no-freshness",
	};

	return (unsigned)s < VD_ARRLEN(names) ? names[s] : "?";
}

static bool
time_valid(int64_t t)
{
	return t != CACHE_TIME_UNSET && t != CACHE_TIME_INVALID;
}

/* §4.2.1 / RFC 9110 §6.6.1: without a Date the receipt time stands in. */
static int64_t
date_value(const struct cache_resp *r)
{
	return time_valid(r->date) ? r->date : r->response_time;
}

int64_t
cache_freshness_lifetime(const struct cache_resp *r, int64_t max_fresh_time,
    enum cache_fresh_src *srcp)
{
	enum cache_fresh_src src;
	int64_t life, d;

	if (r->cc.s_maxage >= 0) {
		src = CACHE_FRESH_S_MAXAGE;
		life = r->cc.s_maxage;
	} else if (r->cc.max_age >= 0) {
		src = CACHE_FRESH_MAX_AGE;
		life = r->cc.max_age;
	} else if (r->expires != CACHE_TIME_UNSET) {
		/* §5.3: an invalid Expires (e.g. "0") means already expired */
		src = CACHE_FRESH_EXPIRES;
		life = r->expires == CACHE_TIME_INVALID ? 0 : r->expires - date_value(r);
	} else if ((cache_status_heuristic(r->status) || (r->cc.flags & CACHE_CC_PUBLIC)) &&
	    time_valid(r->last_modified)) {
		/* §4.2.2: a fraction of the time since Last-Modified; 10% as usual */
		src = CACHE_FRESH_HEURISTIC;
		d = date_value(r);
		life = d > r->last_modified ? (d - r->last_modified) / 10 : 0;
	} else {
		src = CACHE_FRESH_NONE;
		life = 0;
	}
	if (life < 0)
		life = 0;
	if (max_fresh_time > 0 && life > max_fresh_time)
		life = max_fresh_time;	/* RouterOS max-fresh-time */
	if (srcp != NULL)
		*srcp = src;
	return life;
}

int64_t
cache_age_parse(const char *p, size_t len)
{
	size_t i = 0, e;
	int64_t v;

	/* a sender that merged lines, or repeated the field, still means its
	 * first value: an older cache's Age stays in front (§5.1) */
	while (i < len && IS_OWS(p[i]))
		i++;
	for (e = i; e < len && p[e] != ','; e++)
		;
	while (e > i && IS_OWS(p[e - 1]))
		e--;
	v = parse_delta(p + i, e - i);
	return v < 0 ? 0 : v;
}

void
cache_surrogate_apply(struct cache_resp *r, const struct cache_cc *sc)
{
	if (sc->flags & CACHE_CC_NO_STORE) {
		r->cc.flags |= CACHE_CC_NO_STORE;
		r->cc.flags &= ~CACHE_CC_MUST_UNDERSTAND;
	}
	if (sc->max_age < 0)
		return;
	if (r->cc.s_maxage >= 0)
		r->cc.flags |= CACHE_CC_PROXY_REVALIDATE;	/* §5.2.2.10 */
	r->cc.s_maxage = -1;
	r->cc.max_age = sc->max_age;
}

/* §4.2.3, term for term. */
int64_t
cache_initial_age(const struct cache_resp *r)
{
	int64_t apparent_age, response_delay, corrected_age_value, age_value;

	age_value = r->age_value > 0 ? r->age_value : 0;
	apparent_age = time_valid(r->date) ? r->response_time - r->date : 0;
	if (apparent_age < 0)
		apparent_age = 0;
	response_delay = r->response_time - r->request_time;
	if (response_delay < 0)
		response_delay = 0;
	corrected_age_value = age_value + response_delay;
	return apparent_age > corrected_age_value ? apparent_age : corrected_age_value;
}

int64_t
cache_current_age(const struct cache_resp *r, int64_t now)
{
	int64_t resident_time = now - r->response_time;

	if (resident_time < 0)
		resident_time = 0;	/* the clock went back: never a negative age */
	return cache_initial_age(r) + resident_time;
}

/* §5.2.2.2, §5.2.2.8, §5.2.2.10: stale responses may not be used unvalidated. */
static bool
stale_forbidden(const struct cache_resp *r)
{
	return (r->cc.flags & (CACHE_CC_MUST_REVALIDATE | CACHE_CC_PROXY_REVALIDATE)) ||
	    r->cc.s_maxage >= 0;
}

enum cache_serve
cache_serve(const struct cache_resp *r, const struct cache_cc *rq, int64_t now,
    int64_t max_fresh_time, bool always_from_cache)
{
	int64_t life, age, staleness;
	bool fresh, refresh;

	life = cache_freshness_lifetime(r, max_fresh_time, NULL);
	age = cache_current_age(r, now);
	fresh = life > age;		/* §4.2 */

	if (r->vary_star || (r->cc.flags & CACHE_CC_NO_CACHE))
		goto revalidate;	/* §4.1, §5.2.2.4 */
	/* §5.2.1.4 no-cache, §5.2.1.1 max-age: the client asks for a refresh */
	refresh = (rq->flags & CACHE_CC_NO_CACHE) || (rq->max_age >= 0 && age > rq->max_age);
	if (refresh && !(always_from_cache && fresh))
		goto revalidate;
	/* §5.2.1.3 min-fresh */
	if (rq->min_fresh >= 0 && life - age < rq->min_fresh)
		goto revalidate;
	if (fresh)
		return CACHE_SERVE_FRESH;

	staleness = age - life;
	if (stale_forbidden(r))
		goto revalidate;
	/* §5.2.1.2 max-stale */
	if ((rq->flags & CACHE_CC_MAX_STALE) &&
	    (rq->max_stale == CACHE_STALE_ANY || staleness <= rq->max_stale))
		return CACHE_SERVE_STALE_OK;
	/* RFC 5861 §3 */
	if (r->cc.stale_while_revalidate >= 0 && staleness <= r->cc.stale_while_revalidate)
		return CACHE_SERVE_STALE_REVALIDATE;

revalidate:
	/* §5.2.1.7: only-if-cached and we would have to forward: 504 */
	if (rq->flags & CACHE_CC_ONLY_IF_CACHED)
		return CACHE_SERVE_GATEWAY_TIMEOUT;
	return CACHE_SERVE_REVALIDATE;
}

const char *
cache_serve_str(enum cache_serve s)
{
	static const char *names[] = {
		"fresh", "stale-ok", "stale-while-revalidate", "revalidate", "gateway-timeout",
	};

	return (unsigned)s < VD_ARRLEN(names) ? names[s] : "?";
}

bool
cache_stale_if_error_ok(const struct cache_resp *r, const struct cache_cc *rq, int64_t now,
    int64_t max_fresh_time)
{
	int64_t life, age, window;

	/* §5.2.2.4: a no-cache response is never used unvalidated, fresh
	 * or not, and a failed validation validates nothing (§4.2.4) */
	if (stale_forbidden(r) || r->vary_star || (r->cc.flags & CACHE_CC_NO_CACHE))
		return false;
	life = cache_freshness_lifetime(r, max_fresh_time, NULL);
	age = cache_current_age(r, now);
	if (life > age)
		return true;
	if ((rq->flags & CACHE_CC_MAX_STALE) &&
	    (rq->max_stale == CACHE_STALE_ANY || age - life <= rq->max_stale))
		return true;
	/* RFC 5861 §4: in the response, or in the request */
	window = r->cc.stale_if_error;
	if (rq->stale_if_error > window)
		window = rq->stale_if_error;
	return window >= 0 && age - life <= window;
}

static bool
put(char *buf, size_t size, size_t *off, const char *p, size_t len)
{
	if (size - *off < len)
		return false;
	memcpy(buf + *off, p, len);
	*off += len;
	return true;
}

ssize_t
cache_conditional_fields(const struct vd_str *etag, const struct vd_str *lm, char *buf,
    size_t size)
{
	size_t off = 0;

	/* §4.3.1: the entity-tag, and Last-Modified as well when there is one */
	if (etag != NULL && etag->len > 0 &&
	    !(put(buf, size, &off, "If-None-Match: ", 15) &&
	    put(buf, size, &off, etag->p, etag->len) && put(buf, size, &off, "\r\n", 2)))
		return -1;
	if (lm != NULL && lm->len > 0 &&
	    !(put(buf, size, &off, "If-Modified-Since: ", 19) &&
	    put(buf, size, &off, lm->p, lm->len) && put(buf, size, &off, "\r\n", 2)))
		return -1;
	return (ssize_t)off;
}

/* Strip "W/" and check the opaque-tag is DQUOTE *etagc DQUOTE. */
static bool
opaque_tag(const char **p, size_t *len)
{
	size_t i;

	if (*len >= 2 && (*p)[0] == 'W' && (*p)[1] == '/') {
		*p += 2;
		*len -= 2;
	}
	if (*len < 2 || (*p)[0] != '"' || (*p)[*len - 1] != '"')
		return false;
	for (i = 1; i < *len - 1; i++)
		if ((*p)[i] == '"')
			return false;
	return true;
}

bool
cache_etag_weak_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (!opaque_tag(&a, &alen) || !opaque_tag(&b, &blen))
		return false;
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* If-None-Match = "*" / #entity-tag; etagc admits commas, so walk the quotes. */
static bool
inm_matches(const char *p, size_t len, const struct vd_str *etag)
{
	size_t i = 0, t0;

	while (i < len) {
		while (i < len && (IS_OWS(p[i]) || p[i] == ','))
			i++;
		if (i == len)
			break;
		if (p[i] == '*')
			return true;	/* a stored representation exists */
		t0 = i;
		if (len - i >= 2 && p[i] == 'W' && p[i + 1] == '/')
			i += 2;
		if (i == len || p[i] != '"')
			return false;	/* malformed: no match */
		for (i++; i < len && p[i] != '"'; i++)
			;
		if (i == len)
			return false;
		i++;
		if (etag != NULL && etag->len > 0 &&
		    cache_etag_weak_eq(p + t0, i - t0, etag->p, etag->len))
			return true;
	}
	return false;
}

int
cache_client_conditional(const struct vd_str *inm, const struct vd_str *ims,
    const struct vd_str *etag, const struct cache_resp *r, int64_t now)
{
	int64_t since, lm;

	/* RFC 9110 §13.2.2: If-None-Match first; if present, If-Modified-Since is ignored */
	if (inm != NULL && inm->len > 0)
		return inm_matches(inm->p, inm->len, etag) ? 304 : 200;
	if (ims == NULL || ims->len == 0)
		return 200;
	since = cache_http_date_parse(ims->p, ims->len, now);
	if (since == CACHE_TIME_INVALID)
		return 200;	/* §13.1.3: an invalid date is ignored */
	/* RFC 9111 §4.3.2: Last-Modified, else Date, else the time it was received */
	lm = time_valid(r->last_modified) ? r->last_modified : date_value(r);
	return lm <= since ? 304 : 200;
}

bool
cache_field_storable(const char *n, size_t len)
{
	static const char *never[] = {
		"connection", "keep-alive", "proxy-connection", "te", "transfer-encoding",
		"upgrade", "trailer", "proxy-authenticate", "proxy-authentication-info",
		"proxy-authorization",
		"age",		/* kept as cache_resp.age_value; every hit sends its own */
	};
	size_t i;

	for (i = 0; i < VD_ARRLEN(never); i++)
		if (tok_eq(n, len, never[i]))
			return false;
	return true;
}

bool
cache_field_updatable(const char *n, size_t len)
{
	/* §3.2: Content-Length is never updated, and the fields that describe
	 * the body we hold (its coding, range, digest) stay with it */
	return cache_field_storable(n, len) && !tok_eq(n, len, "content-length") &&
	    !tok_eq(n, len, "content-encoding") && !cache_field_of_body(n, len);
}

bool
cache_field_of_body(const char *n, size_t len)
{
	return tok_eq(n, len, "content-range") || tok_eq(n, len, "content-md5") ||
	    tok_eq(n, len, "content-digest");
}

bool
cache_head_next(const char *b, size_t blen, size_t *pos, size_t *l0, size_t *llen, size_t *nlen)
{
	size_t i = *pos, e;

	if (i >= blen)
		return false;
	for (e = i; e < blen && b[e] != '\n'; e++)
		;
	if (e < blen)
		e++;
	*l0 = i;
	*llen = e - i;
	for (*nlen = 0; i + *nlen < e && b[i + *nlen] != ':'; (*nlen)++)
		;
	*pos = e;
	return true;
}

static bool
block_has(const char *b, size_t blen, const char *n, size_t nlen)
{
	size_t pos = 0, l0, llen, ln;

	while (cache_head_next(b, blen, &pos, &l0, &llen, &ln))
		if (ln == nlen && strncasecmp(b + l0, n, nlen) == 0)
			return true;
	return false;
}

ssize_t
cache_merge_304(const char *st, size_t slen, const char *up, size_t ulen, char *out,
    size_t size)
{
	size_t pos = 0, off = 0, l0, llen, nlen;

	while (cache_head_next(st, slen, &pos, &l0, &llen, &nlen)) {
		if (cache_field_updatable(st + l0, nlen) && block_has(up, ulen, st + l0, nlen))
			continue;	/* replaced by the 304's lines below */
		if (!put(out, size, &off, st + l0, llen))
			return -1;
	}
	pos = 0;
	while (cache_head_next(up, ulen, &pos, &l0, &llen, &nlen)) {
		if (nlen == llen || !cache_field_updatable(up + l0, nlen))
			continue;
		if (!put(out, size, &off, up + l0, llen))
			return -1;
	}
	return (ssize_t)off;
}

bool
cache_method_invalidates(const char *m, size_t mlen, int status)
{
	static const char *safe[] = { "GET", "HEAD", "OPTIONS", "TRACE", "CONNECT" };
	size_t i;

	/* §4.4: a non-error status to an unsafe method */
	if (status < 200 || status > 399)
		return false;
	for (i = 0; i < VD_ARRLEN(safe); i++)
		if (strlen(safe[i]) == mlen && memcmp(m, safe[i], mlen) == 0)
			return false;
	return true;
}

/* ---- HTTP-date (RFC 9110 §5.6.7) ---- */

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char *const wdays[7] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
};

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
num(const char *p, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!IS_DIGIT(p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

static int
month(const char *p)
{
	int i;

	for (i = 0; i < 12; i++)
		if (memcmp(p, months[i], 3) == 0)
			return i + 1;
	return -1;
}

static bool
wday_ok(const char *p, size_t len, bool full)
{
	int i;

	for (i = 0; i < 7; i++)
		if (full ? tok_eq(p, len, wdays[i]) : (len == 3 && memcmp(p, wdays[i], 3) == 0))
			return true;
	return false;
}

/* "hh:mm:ss" */
static int64_t
hms(const char *p)
{
	int h = num(p, 2), m = num(p + 3, 2), s = num(p + 6, 2);

	if (p[2] != ':' || p[5] != ':' || h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 60)
		return -1;
	return h * 3600 + m * 60 + s;
}

static int64_t
mktime_utc(int64_t y, int mo, int d, int64_t secs)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (mo < 1 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) || secs < 0)
		return CACHE_TIME_INVALID;
	return days_from_civil(y, mo, d) * 86400 + secs;
}

int64_t
cache_http_date_parse(const char *p, size_t len, int64_t now)
{
	const char *c;
	int64_t secs, y, nowy;
	int mo, d;

	while (len > 0 && IS_OWS(*p))
		p++, len--;
	while (len > 0 && IS_OWS(p[len - 1]))
		len--;
	c = memchr(p, ',', len);
	if (c == p + 3 && len == 29) {
		/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
		if (!wday_ok(p, 3, false) || memcmp(p + 3, ", ", 2) || p[7] != ' ' || p[11] != ' ' ||
		    p[16] != ' ' || p[25] != ' ' || memcmp(p + 26, "GMT", 3))
			return CACHE_TIME_INVALID;
		d = num(p + 5, 2), mo = month(p + 8), y = num(p + 12, 4), secs = hms(p + 17);
	} else if (c != NULL) {
		/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
		size_t w = (size_t)(c - p);
		const char *q = c + 1;
		if (!wday_ok(p, w, true) || len != w + 24 || q[0] != ' ' || q[3] != '-' ||
		    q[7] != '-' || q[10] != ' ' || q[19] != ' ' || memcmp(q + 20, "GMT", 3))
			return CACHE_TIME_INVALID;
		d = num(q + 1, 2), mo = month(q + 4), y = num(q + 8, 2), secs = hms(q + 11);
		if (y < 0)
			return CACHE_TIME_INVALID;
		if (now > 0) {
			/* RFC 9110 §5.6.7: not more than 50 years in the future */
			int64_t ny, cy;
			int nm, nd;
			civil_from_days(now / 86400, &ny, &nm, &nd);
			nowy = ny;
			cy = nowy - nowy % 100 + y;
			if (cy > nowy + 50)
				cy -= 100;
			y = cy;
		} else
			y += y < 70 ? 2000 : 1900;
	} else if (len == 24) {
		/* asctime: Sun Nov  6 08:49:37 1994 */
		if (!wday_ok(p, 3, false) || p[3] != ' ' || p[7] != ' ' || p[10] != ' ' ||
		    p[19] != ' ')
			return CACHE_TIME_INVALID;
		mo = month(p + 4);
		d = p[8] == ' ' ? num(p + 9, 1) : num(p + 8, 2);
		secs = hms(p + 11), y = num(p + 20, 4);
	} else
		return CACHE_TIME_INVALID;
	if (d < 0 || mo < 0 || y < 0 || secs < 0)
		return CACHE_TIME_INVALID;
	return mktime_utc(y, mo, d, secs);
}

size_t
cache_http_date_fmt(int64_t t, char buf[CACHE_HTTP_DATE_LEN + 1])
{
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400, s = t - days * 86400, y;
	int m, d, wd = (int)(((days % 7) + 11) % 7);	/* 1970-01-01 was a Thursday */
	char *o = buf;
	int i;

	civil_from_days(days, &y, &m, &d);
	memcpy(o, wdays[wd], 3);
	o[3] = ',';
	o[4] = ' ';
	o[5] = '0' + d / 10, o[6] = '0' + d % 10, o[7] = ' ';
	memcpy(o + 8, months[m - 1], 3);
	o[11] = ' ';
	for (i = 3; i >= 0; i--, y /= 10)
		o[12 + i] = '0' + (char)(y % 10);
	o[16] = ' ';
	o[17] = '0' + (char)(s / 36000), o[18] = '0' + (char)(s / 3600 % 10), o[19] = ':';
	o[20] = '0' + (char)(s % 3600 / 600), o[21] = '0' + (char)(s % 600 / 60), o[22] = ':';
	o[23] = '0' + (char)(s % 60 / 10), o[24] = '0' + (char)(s % 10);
	memcpy(o + 25, " GMT", 5);
	return CACHE_HTTP_DATE_LEN;
}
