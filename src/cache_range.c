/*
 * cache_range.c — RFC 9110 §14 byte ranges and §13.1.5 If-Range against a
 * stored object (see cache_range.h).  No I/O, no allocation.
 */
#include "config.h"

#include <string.h>

#include "cache_policy.h"
#include "cache_range.h"

struct scan {
	const char	*p, *end;
	bool		 empty_whole;	/* a suffix-range of an empty object */
};

static bool
ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

static void
skip_ows(struct scan *s)
{
	while (s->p < s->end && ows(*s->p))
		s->p++;
}

/* 1*DIGIT, saturating at UINT64_MAX.  false: no digit here. */
static bool
digits(struct scan *s, uint64_t *v)
{
	const char *start = s->p;

	*v = 0;
	for (; s->p < s->end && *s->p >= '0' && *s->p <= '9'; s->p++) {
		uint64_t d = (uint64_t)(*s->p - '0');

		*v = *v > (UINT64_MAX - d) / 10 ? UINT64_MAX : *v * 10 + d;
	}
	return s->p > start;
}

/*
 * One range-spec (int-range or suffix-range) into [*first, *first + *count)
 * clipped to size; *ok says whether it is satisfiable (§14.1.1, §14.1.2).
 * false: a syntax error (the whole field is then ignored).
 */
static bool
range_spec(struct scan *s, uint64_t size, uint64_t *first, uint64_t *count, bool *ok)
{
	uint64_t a, b;

	if (s->p < s->end && *s->p == '-') {		/* suffix-range */
		s->p++;
		if (!digits(s, &b))
			return false;
		/* §14.1.2: of an empty object a non-zero suffix is satisfiable, yet
		 * no 206 can carry it (Content-Range needs a first byte) */
		if (size == 0 && b > 0)
			s->empty_whole = true;
		*ok = b > 0 && size > 0;
		if (*ok) {
			*first = b >= size ? 0 : size - b;
			*count = size - *first;
		}
		return true;
	}
	if (!digits(s, &a) || s->p >= s->end || *s->p != '-')
		return false;
	s->p++;
	if (digits(s, &b)) {
		if (b < a)
			return false;		/* §14.1.1: invalid, not unsatisfiable */
	} else {
		b = UINT64_MAX;			/* "a-": to the end */
	}
	*ok = a < size;
	if (*ok) {
		*first = a;
		*count = (b >= size ? size - 1 : b) - a + 1;
	}
	return true;
}

/* The range unit, case-insensitively "bytes", then "=". */
static bool
bytes_unit(struct scan *s)
{
	static const char unit[] = "bytes";

	for (size_t i = 0; i < sizeof(unit) - 1; i++, s->p++)
		if (s->p >= s->end || (*s->p | 0x20) != unit[i])
			return false;
	if (s->p >= s->end || *s->p != '=')
		return false;
	s->p++;
	return true;
}

enum cache_range
cache_range_eval(const char *p, size_t len, uint64_t size, uint64_t *first, uint64_t *count)
{
	struct scan s;
	unsigned specs = 0, good = 0;
	uint64_t f = 0, n = 0;

	if (p == NULL)
		return CACHE_RANGE_NONE;
	s = (struct scan){ p, p + len, false };	/* not before: NULL + 0 is undefined */
	if (!bytes_unit(&s))
		return CACHE_RANGE_NONE;
	/* range-set = 1#range-spec: empty list elements and OWS are allowed */
	for (;;) {
		bool ok = false;

		skip_ows(&s);
		if (s.p < s.end && *s.p == ',') {
			s.p++;
			continue;
		}
		if (s.p >= s.end)
			break;
		if (!range_spec(&s, size, &f, &n, &ok))
			return CACHE_RANGE_NONE;
		specs++;
		if (ok && good++ == 0) {
			*first = f;
			*count = n;
		}
		skip_ows(&s);
		if (s.p < s.end && *s.p != ',')
			return CACHE_RANGE_NONE;
	}
	if (specs == 0 || s.empty_whole)
		return CACHE_RANGE_NONE;	/* §14.2: the whole (empty) object */
	if (good == 0)
		return CACHE_RANGE_UNSATISFIABLE;
	return specs == 1 ? CACHE_RANGE_ONE : CACHE_RANGE_MULTI;
}

/* §8.8.3.2 strong comparison: both strong, same opaque-tag. */
static bool
etag_strong_eq(const char *a, size_t alen, const struct vd_str *b)
{
	return alen >= 2 && a[0] == '"' && b->len == alen && b->p[0] == '"' &&
	    memcmp(a, b->p, alen) == 0;
}

bool
cache_if_range_ok(const char *p, size_t len, const struct vd_str *etag, int64_t last_modified,
    int64_t date, int64_t now)
{
	int64_t t;

	while (len > 0 && ows(p[0]))
		p++, len--;
	while (len > 0 && ows(p[len - 1]))
		len--;
	if (len == 0)
		return false;
	/* §13.1.5: a DQUOTE (or W/) in the first three characters: an entity-tag */
	if (p[0] == '"' || (len >= 3 && p[0] == 'W' && p[1] == '/' && p[2] == '"'))
		return etag != NULL && etag->len > 0 && etag_strong_eq(p, len, etag);
	if (last_modified <= CACHE_TIME_INVALID || date <= CACHE_TIME_INVALID ||
	    date - last_modified < 1)
		return false;		/* no strong Last-Modified to compare with */
	t = cache_http_date_parse(p, len, now);
	return t != CACHE_TIME_INVALID && t == last_modified;
}
