/*
 * rules_index.c — the index of each compiled rule list (rules_index.h):
 * built once at load, looked up per request by rules.c's matcher.
 *
 * Design note.  Walking a whole list costs ~10-30 ns a rule, 10-30 us at
 * 1,000 rules of mixed forms: far more than a cache hit.  So each list is
 * also hashed at load (XXH3, open addressing) by the most selective
 * classifier of each rule that can be looked up by equality: the exact
 * host, a `*.domain` suffix, a src-address prefix, a whole label that a
 * host regex's literal contains, a path suffix that starts with '.' or '/'
 * (path=*.mp3), a whole /segment/ of a path regex's literal, one dst-port;
 * failing those, 3 bytes of a host or path pattern's literal text, the
 * trigram the fewest rules of the list share.  The other enabled rules
 * (negated, patterns without 3 literal bytes, ranges, methods) stay on
 * `lin`.  A request looks up its host, each host suffix at a dot, each
 * label, its prefixes per configured prefix length, its path suffixes and
 * segments, its port and its trigrams (a 1024-bit filter turns most of
 * those down without a probe), and rules.c merges those buckets with `lin`
 * by rule position: the earliest candidate that matches decides, exactly
 * as the walk would (the unit test and the fuzzer compare both on random
 * lists; rules_peek_linear is the walk).
 *
 * Measured with t/rules_bench, per match (access list, one core of the
 * 2-core build VM while other builds ran: +-30%); "walk" is the previous
 * matcher (no index) built against the same RULES_MAX:
 *
 *   rules   mix          walk        index
 *   1,000   realistic    10.7 us     0.30-0.65 us   (lin: 10 rules)
 *   10,000  realistic    101 us      1.6-3.4 us     (lin: 100 rules)
 *   1,000   uniform      28 us       3.4-7.6 us     (lin: 200 rules)
 *   10,000  uniform      444 us      26-37 us
 *   0       -            0.03 us     0.03 us
 *
 * "realistic": per hundred rules 50 exact hosts, 30 *.domain, 10 client
 * /24s, 4 path *.ext, 2 host regexes, 1 path regex, 1 `?` wildcard, 1
 * port+method, 1 mid-string wildcard; "uniform": ten forms, 10% each.
 * With the trigram keys (t/rules_bench, 1,000 uniform rules: 1.60 -> 0.19
 * us per match; 10,000: 14.05 -> 0.23 us) what remains is the walk of
 * `lin` and a few hash probes a request.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL		/* no link dependency (the fuzz targets link no libxxhash) */
#include <xxhash.h>

#include "viaduct.h"
#include "rules_types.h"
#include "rules_index.h"

static uint64_t
ikey_hash(int kind, int aux, const void *key, size_t len)
{
	uint64_t h = XXH3_64bits_withSeed(key, len, (uint64_t)kind << 8 | (uint64_t)aux);

	return h != 0 ? h : 1;	/* 0 marks an empty slot */
}

/* The prefix length of [lo, hi], or -1 for a range that is not a prefix. */
static int
addr_prefix(const struct addr *a)
{
	int nb = a->family == AF_INET ? 4 : 16, len = 0, i = 0;

	for (; i < nb && a->lo[i] == a->hi[i]; i++)
		len += 8;
	if (i < nb) {
		unsigned x = (unsigned)(a->lo[i] ^ a->hi[i]);

		if ((x & (x + 1)) != 0 || (a->lo[i] & x) != 0)	/* not 0..01..1 */
			return -1;
		len += 8 - __builtin_popcount(x);
		i++;
	}
	for (; i < nb; i++)
		if (a->lo[i] != 0 || a->hi[i] != 0xff)
			return -1;
	return len;
}

struct ikey {
	int		 kind, aux;
	const uint8_t	*key;
	size_t		 len;
};

/*
 * A regex whose literal (pt->need, which every match contains; lower case
 * for host patterns, which are caseless) holds `.label.` (host) or
 * `/segment/` (path): every match has that whole label, so the rule is
 * looked up by it.  The longest such label, as the most selective.
 */
static bool
need_label(const struct pat *pt, struct ikey *k, char sep, int kind)
{
	const char *n = pt->need, *dot = NULL, *best = NULL;
	size_t bestlen = 0;

	for (size_t i = 0; i < pt->needlen; i++) {
		if (n[i] != sep)
			continue;
		if (dot != NULL && (size_t)(n + i - dot - 1) > bestlen) {
			best = dot + 1;
			bestlen = (size_t)(n + i - dot - 1);
		}
		dot = n + i;
	}
	if (best == NULL)
		return false;
	*k = (struct ikey){ kind, 0, (const uint8_t *)best, bestlen };
	return true;
}

/* The bucket of a rule, most selective classifier first; false: on `lin`. */
static bool
rule_key(const struct rule *r, struct ikey *k)
{
	const struct pat *h = &r->host, *p = &r->path;
	int pl;

	if (h->set && !h->neg && h->kind == PAT_EXACT) {
		*k = (struct ikey){ IK_HOST, 0, (const uint8_t *)h->lit, h->len };
		return true;
	}
	if (h->set && !h->neg && h->kind == PAT_SUFFIX && h->len > 0 && h->lit[0] == '.') {
		*k = (struct ikey){ IK_HSUF, 0, (const uint8_t *)h->lit, h->len };
		return true;
	}
	if (r->src.set && !r->src.neg && (pl = addr_prefix(&r->src)) >= 0) {
		*k = (struct ikey){ r->src.family == AF_INET ? IK_SRC4 : IK_SRC6, pl,
		    r->src.lo, r->src.family == AF_INET ? 4 : 16 };
		return true;
	}
	if (h->set && !h->neg && h->kind == PAT_RE && need_label(h, k, '.', IK_HLABEL))
		return true;
	if (p->set && !p->neg && p->kind == PAT_SUFFIX && p->len > 0 &&
	    (p->lit[0] == '.' || p->lit[0] == '/')) {
		*k = (struct ikey){ IK_PSUF, 0, (const uint8_t *)p->lit, p->len };
		return true;
	}
	if (p->set && !p->neg && p->kind == PAT_RE && need_label(p, k, '/', IK_PSEG))
		return true;
	if (r->dport.set && !r->dport.neg && r->dport.n == 1 &&
	    r->dport.r[0][0] == r->dport.r[0][1]) {
		*k = (struct ikey){ IK_DPORT, 0, (const uint8_t *)&r->dport.r[0][0],
		    sizeof(uint16_t) };
		return true;
	}
	if (r->gram != NULL) {
		*k = (struct ikey){ r->gram_kind, 0, (const uint8_t *)r->gram, 3 };
		return true;
	}
	return false;
}

/* ---------------------------------------------------------------- trigram keys */

static uint32_t
gram_of(const char *p)
{
	return (uint32_t)(uint8_t)p[0] << 16 | (uint32_t)(uint8_t)p[1] << 8 | (uint8_t)p[2];
}

/* Its bit in the list's 1024-bit filter. */
static uint32_t
gram_bit(uint32_t g)
{
	return (g * 2654435761u) >> 22;
}

/* A pattern whose runs can key its rule: matched against the subject as
 * the index sees it (host lower case, path as sent). */
static bool
gram_usable(const struct pat *pt, bool host)
{
	return pt->set && !pt->neg && (host || !pt->icase) &&
	    (pt->kind == PAT_RE ? pt->runslen > 0 : pt->len >= 3);
}

struct gram_use {
	uint32_t	 key;		/* kind << 24 | the 3 bytes */
	int		 rule;
	const char	*at;
};

static int
gram_use_cmp(const void *a, const void *b)
{
	const struct gram_use *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->rule > y->rule) - (x->rule < y->rule);
}

static size_t
gram_run(const char *p, size_t len, int kind, int rule, struct gram_use *u, size_t n)
{
	for (size_t i = 0; i + 3 <= len; i++, n++)
		if (u != NULL)
			u[n] = (struct gram_use){ (uint32_t)kind << 24 | gram_of(p + i), rule, p + i };
	return n;
}

/* A plain string, prefix or suffix is its own one run. */
static size_t
gram_collect(const struct pat *pt, int kind, int rule, struct gram_use *u, size_t n)
{
	if (pt->kind != PAT_RE)
		return gram_run(pt->lit, pt->len, kind, rule, u, n);
	for (const char *p = pt->runs; p < pt->runs + pt->runslen; p += strlen(p) + 1)
		n = gram_run(p, strlen(p), kind, rule, u, n);
	return n;
}

static size_t
gram_collect_rule(const struct rule *r, int i, struct gram_use *u, size_t n)
{
	if (gram_usable(&r->host, true))
		n = gram_collect(&r->host, IK_HGRAM, i, u, n);
	if (gram_usable(&r->path, false))
		n = gram_collect(&r->path, IK_PGRAM, i, u, n);
	return n;
}

/*
 * The rules that no other key fits but whose host or path pattern has
 * literal runs: each is keyed by the 3 bytes of its runs that the fewest
 * rules of the list share, so that a subject is looked up by its own
 * trigrams and meets only the rules that could match it.
 */
static int
gram_choose(struct rlist *l)
{
	struct gram_use *u;
	size_t n = 0, i, j;
	struct ikey k;
	int *best;

	for (int r = 0; r < l->n; r++)
		if (!l->r[r].disabled && !rule_key(&l->r[r], &k))
			n = gram_collect_rule(&l->r[r], r, NULL, n);
	if (n == 0)
		return VD_OK;
	if ((u = calloc(n, sizeof(*u))) == NULL ||
	    (best = malloc((size_t)l->n * sizeof(*best) * 2)) == NULL) {
		free(u);
		return VD_ERR;
	}
	n = 0;
	for (int r = 0; r < l->n; r++)
		if (!l->r[r].disabled && !rule_key(&l->r[r], &k))
			n = gram_collect_rule(&l->r[r], r, u, n);
	qsort(u, n, sizeof(*u), gram_use_cmp);
	for (int r = 0; r < l->n; r++)
		best[2 * r] = -1;	/* [2r]: its use, [2r+1]: how many rules share it */
	for (i = 0; i < n; i = j) {
		int shared = 0;

		for (j = i; j < n && u[j].key == u[i].key; j++)
			shared += j == i || u[j].rule != u[j - 1].rule;
		for (size_t m = i; m < j; m++) {
			int r = u[m].rule;

			if (best[2 * r] < 0 || shared < best[2 * r + 1]) {
				best[2 * r] = (int)m;
				best[2 * r + 1] = shared;
			}
		}
	}
	for (int r = 0; r < l->n; r++)
		if (best[2 * r] >= 0) {
			l->r[r].gram = u[best[2 * r]].at;
			l->r[r].gram_kind = (int)(u[best[2 * r]].key >> 24);
		}
	free(best);
	free(u);
	return VD_OK;
}

static const struct ient *
ix_find(const struct rindex *ix, int kind, int aux, const void *key, size_t len)
{
	uint64_t h;

	if (ix->tab == NULL)
		return NULL;
	h = ikey_hash(kind, aux, key, len);
	for (uint32_t i = (uint32_t)h & ix->mask;; i = (i + 1) & ix->mask) {
		const struct ient *e = &ix->tab[i];

		if (e->h == 0)
			return NULL;
		if (e->h == h && e->kind == kind && e->aux == aux && e->klen == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
	}
}

/* The bucket of k, made when missing (the table never fills: see rules_index_build). */
static struct ient *
ix_insert(struct rindex *ix, const struct ikey *k)
{
	uint64_t h = ikey_hash(k->kind, k->aux, k->key, k->len);
	uint32_t i;

	for (i = (uint32_t)h & ix->mask; ix->tab[i].h != 0; i = (i + 1) & ix->mask) {
		struct ient *e = &ix->tab[i];

		if (e->h == h && e->kind == k->kind && e->aux == k->aux &&
		    e->klen == k->len && memcmp(e->key, k->key, k->len) == 0)
			return e;
	}
	ix->tab[i] = (struct ient){ h, k->key, (uint32_t)k->len, (uint8_t)k->kind,
	    (uint8_t)k->aux, 0, 0 };
	return &ix->tab[i];
}

static void
ix_note(struct rindex *ix, const struct ikey *k)
{
	switch (k->kind) {
	case IK_HOST:
		ix->has_host = true;
		break;
	case IK_HLABEL:
		ix->has_label = true;
		break;
	case IK_PSEG:
		ix->has_pseg = true;
		break;
	case IK_DPORT:
		ix->has_dport = true;
		break;
	case IK_HGRAM:
	case IK_PGRAM: {
		uint32_t b = gram_bit(gram_of((const char *)k->key));

		ix->gbits[k->kind == IK_PGRAM][b / 64] |= 1ULL << (b % 64);
		if (k->kind == IK_PGRAM)
			ix->has_pgram = true;
		else
			ix->has_hgram = true;
		break;
	}
	case IK_HSUF:
		ix->maxhsuf = k->len > ix->maxhsuf ? k->len : ix->maxhsuf;
		break;
	case IK_PSUF:
		ix->maxpsuf = k->len > ix->maxpsuf ? k->len : ix->maxpsuf;
		break;
	case IK_SRC4:
		ix->plen4 |= 1ULL << k->aux;
		break;
	case IK_SRC6:
		ix->plen6[k->aux / 64] |= 1ULL << (k->aux % 64);
		break;
	}
}

/* Two passes: count each bucket, then lay the positions out in order. */
int
rules_index_build(struct rlist *l)
{
	struct rindex *ix = &l->ix;
	struct ient **which;
	struct ikey k;
	uint32_t cap = 8, off = 0;
	int nkey = 0;

	if (gram_choose(l) != VD_OK)
		return VD_ERR;
	for (int i = 0; i < l->n; i++)
		nkey += !l->r[i].disabled && rule_key(&l->r[i], &k);
	while (cap < 2 * (uint32_t)nkey)
		cap <<= 1;
	if ((which = calloc((size_t)l->n + 1, sizeof(*which))) == NULL ||
	    (ix->lin = calloc((size_t)l->n + 1, sizeof(*ix->lin))) == NULL ||
	    (ix->pos = calloc((size_t)nkey + 1, sizeof(*ix->pos))) == NULL ||
	    (nkey > 0 && (ix->tab = calloc(cap, sizeof(*ix->tab))) == NULL)) {
		free(which);
		return VD_ERR;
	}
	ix->mask = cap - 1;
	for (int i = 0; i < l->n; i++) {
		if (l->r[i].disabled)
			continue;
		if (!rule_key(&l->r[i], &k)) {
			ix->lin[ix->nlin++] = i;
			continue;
		}
		which[i] = ix_insert(ix, &k);
		which[i]->n++;
		ix_note(ix, &k);
	}
	for (uint32_t j = 0; nkey > 0 && j < cap; j++) {
		ix->tab[j].off = off;
		off += ix->tab[j].n;
		ix->tab[j].n = 0;
	}
	for (int i = 0; i < l->n; i++)
		if (which[i] != NULL)
			ix->pos[which[i]->off + which[i]->n++] = i;
	free(which);
	return VD_OK;
}

void
rules_index_free(struct rindex *ix)
{
	free(ix->tab);
	free(ix->pos);
	free(ix->lin);
}

/* ---------------------------------------------------------------- lookup */

static int
cur_add(struct rules_cur *c, int k, const struct rindex *ix, const struct ient *e)
{
	if (k < 0 || e == NULL)
		return k;
	if (k == RULES_MAXCUR)
		return -1;
	c[k].p = ix->pos + e->off;
	c[k].e = c[k].p + e->n;
	return k + 1;
}

/* Every suffix of s that starts at one of the bytes in `at` and is at most
 * max long. */
static int
cur_suffixes(struct rules_cur *c, int k, const struct rindex *ix, int kind,
    struct vd_str s, size_t max, const char *at)
{
	for (size_t i = s.len > max ? s.len - max : 0; k >= 0 && i < s.len; i++)
		if (s.p[i] == at[0] || s.p[i] == at[1])
			k = cur_add(c, k, ix, ix_find(ix, kind, 0, s.p + i, s.len - i));
	return k;
}

/* Every sep-separated piece of s (host labels, path segments). */
static int
cur_labels(struct rules_cur *c, int k, const struct rindex *ix, int kind,
    struct vd_str s, char sep)
{
	size_t i = 0, j;

	while (k >= 0 && i < s.len) {
		for (j = i; j < s.len && s.p[j] != sep; j++)
			;
		if (j > i)
			k = cur_add(c, k, ix, ix_find(ix, kind, 0, s.p + i, j - i));
		i = j + 1;
	}
	return k;
}

/* Every trigram of s that keys a rule; a bucket once (a trigram may recur). */
static int
cur_grams(struct rules_cur *c, int k, const struct rindex *ix, int kind,
    struct vd_str s)
{
	const uint64_t *bits = ix->gbits[kind == IK_PGRAM];

	for (size_t i = 0; k >= 0 && i + 3 <= s.len; i++) {
		uint32_t b = gram_bit(gram_of(s.p + i));
		const struct ient *e;
		int j;

		if ((bits[b / 64] & (1ULL << (b % 64))) == 0 ||
		    (e = ix_find(ix, kind, 0, s.p + i, 3)) == NULL)
			continue;
		for (j = 0; j < k && c[j].p != ix->pos + e->off; j++)
			;
		if (j == k)
			k = cur_add(c, k, ix, e);
	}
	return k;
}

static int
cur_src(struct rules_cur *c, int k, const struct rindex *ix, const struct sockaddr *sa)
{
	const uint64_t *bits = &ix->plen4;
	const uint8_t *b;
	uint8_t m[16];
	int nb = 4, kind = IK_SRC4;

	if (sa->sa_family == AF_INET) {
		b = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		b = in6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(in6))	/* as addr_in() sees it */
			b += 12;
		else {
			nb = 16;
			kind = IK_SRC6;
			bits = ix->plen6;
		}
	} else {
		return k;
	}
	for (int len = 0; k >= 0 && len <= nb * 8; len++) {
		if ((bits[len / 64] & (1ULL << (len % 64))) == 0)
			continue;
		for (int i = 0; i < nb; i++) {
			int keep = len >= (i + 1) * 8 ? 8 : len <= i * 8 ? 0 : len - i * 8;

			m[i] = b[i] & (uint8_t)(0xff00 >> keep);
		}
		k = cur_add(c, k, ix, ix_find(ix, kind, len, m, (size_t)nb));
	}
	return k;
}

int
rules_index_candidates(const struct rindex *ix, const struct rules_req *q,
    struct vd_str host, struct rules_cur *c)
{
	int k = 0;

	if (ix->nlin > 0) {
		c[k].p = ix->lin;
		c[k++].e = ix->lin + ix->nlin;
	}
	if (ix->tab == NULL)
		return k;
	if (ix->has_host)
		k = cur_add(c, k, ix, ix_find(ix, IK_HOST, 0, host.p, host.len));
	if (ix->maxhsuf > 0)
		k = cur_suffixes(c, k, ix, IK_HSUF, host, ix->maxhsuf, "..");
	if (ix->has_label)
		k = cur_labels(c, k, ix, IK_HLABEL, host, '.');
	if (ix->has_pseg && q->path.p != NULL)
		k = cur_labels(c, k, ix, IK_PSEG, q->path, '/');
	if (ix->has_dport)
		k = cur_add(c, k, ix, ix_find(ix, IK_DPORT, 0, &q->dst_port, sizeof(q->dst_port)));
	if (ix->maxpsuf > 0 && q->path.p != NULL)
		k = cur_suffixes(c, k, ix, IK_PSUF, q->path, ix->maxpsuf, "./");
	if ((ix->plen4 != 0 || (ix->plen6[0] | ix->plen6[1] | ix->plen6[2]) != 0) &&
	    q->src != NULL)
		k = cur_src(c, k, ix, q->src);
	if (ix->has_hgram)
		k = cur_grams(c, k, ix, IK_HGRAM, host);
	if (ix->has_pgram && q->path.p != NULL)
		k = cur_grams(c, k, ix, IK_PGRAM, q->path);
	return k;
}
