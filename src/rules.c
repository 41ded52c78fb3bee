/*
 * rules.c — match requests against the compiled lists (rules_compile.c
 * builds them, rules_index.c indexes them).
 *
 * Design note.  A request is first lowered once (host names are caseless
 * and the index keys are lower case), then the index names the candidates:
 * `lin`, the rules it could not key, and the buckets the request's keys
 * hit, each a run of increasing rule positions.  They are merged by
 * position, so the earliest candidate that matches decides, exactly as
 * the top-to-bottom walk would (rules_peek_linear is that walk; the unit
 * test and the fuzzer compare both on random lists).  Within a rule the
 * cheap classifiers go first and the patterns last, literal patterns
 * before regexes.  Nothing here allocates: PCRE2 gets the one match block
 * made at load (see rules.h for why that is per process).
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "viaduct.h"
#include "stats.h"
#include "rules.h"
#include "rules_types.h"
#include "rules_index.h"

const char *
rules_list_name(enum rules_list l)
{
	static const char *const names[] = { "access", "cache", "direct" };

	return (unsigned)l < VD_ARRLEN(names) ? names[l] : "?";
}

int
rules_count(const struct rules *rs, enum rules_list l)
{
	return rs != NULL ? rs->l[l].n : 0;
}

bool
rules_uses_local_port(const struct rules *rs, enum rules_list l)
{
	return rs != NULL && rs->l[l].uses_lport;
}

/* ---------------------------------------------------------------- matching */

static bool
addr_in(const struct addr *a, const struct sockaddr *sa)
{
	const uint8_t *b;
	int fam = sa->sa_family;
	size_t n;

	if (fam == AF_INET) {
		b = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (fam == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		b = in6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(in6)) {	/* a v4 client on a :: socket */
			fam = AF_INET;
			b += 12;
		}
	} else {
		return false;
	}
	if (fam != a->family)
		return false;
	n = fam == AF_INET ? 4 : 16;
	return memcmp(a->lo, b, n) <= 0 && memcmp(b, a->hi, n) <= 0;
}

static bool
port_in(const struct ports *p, uint16_t port)
{
	for (int i = 0; i < p->n; i++)
		if (port >= p->r[i][0] && port <= p->r[i][1])
			return true;
	return false;
}

static bool
method_in(const struct methods *m, struct vd_str s)
{
	if (m->any)
		return true;
	for (int i = 0; i < m->n; i++)
		if (strlen(m->m[i]) == s.len && strncasecmp(m->m[i], s.p, s.len) == 0)
			return true;
	return false;
}

/* lit is already lower case when icase. */
static bool
lit_eq(const char *lit, const char *s, size_t n, bool icase)
{
	if (!icase)
		return memcmp(lit, s, n) == 0;
	for (size_t i = 0; i < n; i++)
		if (lit[i] != tolower((unsigned char)s[i]))
			return false;
	return true;
}

/* Short needles in short subjects: memchr on the first byte beats the
 * set-up of glibc's two-way memmem (measured: t/rules_bench). */
static bool
contains(const char *s, size_t n, const char *nd, size_t m)
{
	const char *p = s, *last;

	if (m > n)
		return false;
	last = s + (n - m);
	while (p <= last && (p = memchr(p, nd[0], (size_t)(last - p) + 1)) != NULL) {
		if (p[m - 1] == nd[m - 1] && memcmp(p, nd, m) == 0)
			return true;
		p++;
	}
	return false;
}

/* lowered: s is already lower case (the host, folded once per match). */
static bool
pat_match(const struct pat *pt, struct vd_str s, bool lowered, pcre2_match_data *md)
{
	bool fold = pt->icase && !lowered;

	switch (pt->kind) {
	case PAT_EXACT:
		return s.len == pt->len && lit_eq(pt->lit, s.p, s.len, fold);
	case PAT_PREFIX:
		return s.len >= pt->len && lit_eq(pt->lit, s.p, pt->len, fold);
	case PAT_SUFFIX:
		return s.len >= pt->len &&
		    lit_eq(pt->lit, s.p + s.len - pt->len, pt->len, fold);
	case PAT_RE:
		break;
	}
	/* need is lower case when icase: usable only on a lowered subject */
	if (pt->needlen > 0 && (lowered || !pt->icase) &&
	    !contains(s.p, s.len, pt->need, pt->needlen))
		return false;
	return pcre2_match(pt->re, (PCRE2_SPTR)(s.p != NULL ? s.p : ""), s.len, 0, 0,
	    md, NULL) >= 0;
}

/* Every classifier but dst-address: does the rule still match?  Unknown
 * inputs (no client address, no local port) never match, negated or not. */
static bool
rule_pre(const struct rule *r, const struct rules_req *q, struct vd_str host,
    bool lowered, pcre2_match_data *md)
{
	if (r->meth.set && method_in(&r->meth, q->method) == r->meth.neg)
		return false;
	if (r->dport.set && port_in(&r->dport, q->dst_port) == r->dport.neg)
		return false;
	if (r->lport.set && (q->local_port == 0 ||
	    port_in(&r->lport, q->local_port) == r->lport.neg))
		return false;
	if (r->src.set && (q->src == NULL || addr_in(&r->src, q->src) == r->src.neg))
		return false;
	/* literal patterns before regexes: a cheap "no" first */
	if (r->path.set && r->path.kind != PAT_RE &&
	    pat_match(&r->path, q->path, false, md) == r->path.neg)
		return false;
	if (r->host.set && pat_match(&r->host, host, lowered, md) == r->host.neg)
		return false;
	if (r->path.set && r->path.kind == PAT_RE &&
	    pat_match(&r->path, q->path, false, md) == r->path.neg)
		return false;
	return true;
}

static void
hit(enum rules_list l, int i)
{
	STATS_INC(rule_hits[l][i], 1);
}

/* Rule i against q; true when it decided (a match, or RULES_NEED_ADDR). */
static bool
decide(const struct rules *rs, enum rules_list l, int i, const struct rules_req *q,
    struct vd_str host, bool lowered, struct rules_result *res, bool count)
{
	const struct rule *r = &rs->l[l].r[i];

	if (r->disabled || !rule_pre(r, q, host, lowered, rs->md))
		return false;
	if (r->dst.set) {
		if (q->dst == NULL && !q->no_dst) {
			res->verdict = RULES_NEED_ADDR;
			return true;
		}
		/* no address at all is in no range (!dst-address matches it) */
		if ((q->dst != NULL && addr_in(&r->dst, q->dst)) == r->dst.neg)
			return false;
	}
	*res = (struct rules_result){ r->deny ? RULES_DENY : RULES_ALLOW, i,
	    r->line, r->deny ? r->redirect : NULL };
	if (count)
		hit(l, i);
	return true;
}

static enum rules_verdict
match(const struct rules *rs, enum rules_list l, const struct rules_req *q,
    struct rules_result *res, bool count, bool indexed)
{
	struct rules_result dummy;
	const struct rlist *rl;
	struct rules_cur c[RULES_MAXCUR];
	char lh[256];		/* host names are at most 253 bytes */
	struct vd_str host = q->host;
	bool lowered = false, lin;
	int k = -1;

	if (res == NULL)
		res = &dummy;
	*res = (struct rules_result){ l == RULES_DIRECT ? RULES_DENY : RULES_ALLOW,
	    -1, 0, NULL };
	if (rs == NULL)
		return res->verdict;
	rl = &rs->l[l];
	if (host.len <= sizeof(lh)) {
		for (size_t i = 0; i < host.len; i++)
			lh[i] = (char)tolower((unsigned char)host.p[i]);
		host.p = lh;
		lowered = true;
	}
	/* the index keys are lower case: an unfolded host takes the plain walk */
	if (indexed && lowered)
		k = rules_index_candidates(&rl->ix, q, host, c);
	if (k < 0) {
		for (int i = 0; i < rl->n; i++)
			if (decide(rs, l, i, q, host, lowered, res, count))
				break;
		return res->verdict;
	}
	/* merge by position: `lin` (c[0] when there is one) is walked in a
	 * tight loop up to the earliest bucket candidate, which goes next */
	lin = k > 0 && rl->ix.nlin > 0;
	for (;;) {
		int best = -1, stop = INT_MAX;

		for (int j = lin; j < k; j++)
			if (c[j].p < c[j].e && (best < 0 || *c[j].p < *c[best].p))
				best = j;
		if (best >= 0)
			stop = *c[best].p++;
		for (; lin && c[0].p < c[0].e && *c[0].p < stop; c[0].p++)
			if (decide(rs, l, *c[0].p, q, host, lowered, res, count))
				return res->verdict;
		if (best < 0 || decide(rs, l, stop, q, host, lowered, res, count))
			break;
	}
	return res->verdict;
}

enum rules_verdict
rules_match(const struct rules *rs, enum rules_list l, const struct rules_req *q,
    struct rules_result *res)
{
	return match(rs, l, q, res, true, true);
}

enum rules_verdict
rules_peek(const struct rules *rs, enum rules_list l, const struct rules_req *q,
    struct rules_result *res)
{
	return match(rs, l, q, res, false, true);
}

enum rules_verdict
rules_peek_linear(const struct rules *rs, enum rules_list l, const struct rules_req *q,
    struct rules_result *res)
{
	return match(rs, l, q, res, false, false);
}

bool
rules_cache_allowed(const struct rules *rs, const struct rules_req *q)
{
	return rules_match(rs, RULES_CACHE, q, NULL) == RULES_ALLOW;
}

bool
rules_direct_allowed(const struct rules *rs, const struct rules_req *q)
{
	return rules_match(rs, RULES_DIRECT, q, NULL) == RULES_ALLOW;
}
