/*
 * rules.c — compile the access, cache and direct lists of a loaded conf
 * (conf.c keeps their `add` lines verbatim) and match requests against them.
 *
 * Design note.  Everything that can be decided at load is: addresses become
 * inclusive [lo, hi] byte ranges, port lists become ranges, wildcard
 * patterns become a direct comparison when they are a plain string,
 * `*string` or `string*` (the common forms: `*.example.com`, `*.mp3`), and
 * an anchored PCRE2 code otherwise.  `:regex` patterns are PCRE2 codes
 * searched unanchored.  All codes are JIT-compiled.  Matching tries the
 * cheap classifiers of a rule first and the patterns last, and allocates
 * nothing: PCRE2 gets the one match block made at load (see rules.h for
 * why that is per process).
 *
 * Index.  Walking a whole list costs ~10-30 ns a rule, 10-30 us at 1,000
 * rules of mixed forms: far more than a cache hit.  So each list is also
 * hashed at load (XXH3, open addressing) by the most selective classifier
 * of each rule that can be looked up by equality: the exact host, a
 * `*.domain` suffix, a src-address prefix, a whole label that a host
 * regex's literal contains, a path suffix that starts with '.' or '/'
 * (path=*.mp3), a whole /segment/ of a path regex's literal, one dst-port.  The other
 * enabled rules (negated, mid-string wildcards, regexes without such a
 * literal, ranges, methods) stay on `lin`.  A request looks up its host,
 * each host suffix at a dot, each label, its prefixes per configured prefix
 * length, its path suffixes and segments, its port, and merges those
 * buckets with `lin` by rule position: the earliest candidate that matches
 * decides, exactly as the walk would (the unit test and the fuzzer compare
 * both on random lists; rules_peek_linear is the walk).
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
 * What remains is the walk of `lin` and ~10 hash probes a request.
 * Load and compile: ~3-8 us a rule (PCRE2 JIT dominates).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#define XXH_INLINE_ALL		/* no link dependency (the fuzz targets link no libxxhash) */
#include <xxhash.h>

#include "viaduct.h"
#include "conf.h"
#include "stats.h"
#include "rules.h"

#define MSG_MAX		512

enum pat_kind { PAT_EXACT, PAT_PREFIX, PAT_SUFFIX, PAT_RE };

struct pat {
	bool		 set, neg, icase;
	enum pat_kind	 kind;
	char		*lit;		/* EXACT/PREFIX/SUFFIX; lower case when icase */
	size_t		 len;
	pcre2_code	*re;
	char		*need;		/* PAT_RE: a substring every match contains */
	size_t		 needlen;
	char		*runs;		/* PAT_RE: every such substring of 3 bytes or
					 * more, each followed by a NUL */
	size_t		 runslen;
};

struct addr {
	bool		 set, neg;
	int		 family;	/* AF_INET: the first 4 bytes count */
	uint8_t		 lo[16], hi[16];
};

struct ports {
	bool		 set, neg;
	int		 n;
	uint16_t	(*r)[2];	/* inclusive ranges */
};

struct methods {
	bool		 set, neg, any;
	int		 n;
	char		**m;
};

struct rule {
	int		 line;
	bool		 disabled, deny;
	char		*redirect;
	struct addr	 src, dst;
	struct ports	 dport, lport;
	struct methods	 meth;
	struct pat	 host, path;
	const char	*gram;		/* ix_build: 3 bytes of a run, its index key */
	int		 gram_kind;	/* IK_HGRAM or IK_PGRAM */
};

/*
 * The index of a list: each enabled rule whose selective classifier can be
 * looked up by equality sits in one bucket of a hash table, under a key of
 * one of these kinds; every other enabled rule is on `lin`, in order.
 * A bucket and `lin` hold rule positions in increasing order, and a rule is
 * in exactly one of them, so a merge by position visits the candidates in
 * list order and first-match-wins is unchanged.
 */
#define GRAM_WORDS	16	/* a 1024-bit filter of the trigram keys of a list */

enum ikind {
	IK_HOST = 1,	/* dst-host=name: the whole (lower-case) host */
	IK_HSUF,	/* dst-host=*.domain: ".domain", a host suffix at a dot */
	IK_PSUF,	/* path=*.ext: a path suffix that starts with '.' or '/' */
	IK_SRC4,	/* src-address=a.b.c.d/n: the masked address, n in aux */
	IK_SRC6,	/* src-address=x::/n */
	IK_HLABEL,	/* dst-host regex: a whole label its literal must contain */
	IK_PSEG,	/* path regex: a whole /segment/ its literal must contain */
	IK_DPORT,	/* dst-port=n, one port */
	IK_HGRAM,	/* any other host pattern: 3 bytes its every match contains */
	IK_PGRAM,	/* the same for a path pattern */
};

struct ient {
	uint64_t	 h;		/* 0: empty slot */
	const uint8_t	*key;		/* borrowed from the rule */
	uint32_t	 klen;
	uint8_t		 kind, aux;
	uint32_t	 off, n;	/* positions pos[off .. off+n) */
};

struct rindex {
	struct ient	*tab;
	uint32_t	 mask;		/* table size - 1 */
	int		*pos;
	int		*lin;		/* enabled rules on no bucket, in order */
	int		 nlin;
	size_t		 maxhsuf, maxpsuf;	/* longest IK_HSUF / IK_PSUF key */
	bool		 has_host, has_label, has_pseg, has_dport, has_hgram, has_pgram;
	uint64_t	 gbits[2][GRAM_WORDS];	/* IK_HGRAM, IK_PGRAM keys present */
	uint64_t	 plen4;		/* bit n: some IK_SRC4 key has prefix n */
	uint64_t	 plen6[3];	/* the same for IK_SRC6, 0..128 */
};

struct rlist {
	struct rule	*r;
	int		 n;
	bool		 uses_lport;
	struct rindex	 ix;
};

struct rules {
	struct rlist	 l[RULES_NLISTS];
	pcre2_match_data *md;	/* scratch; see rules.h */
};

struct cctx {
	rules_diag_cb	*diag;
	void		*arg;
	int		 nerr;
	struct rules	*rs;
};

static void __attribute__((format(printf, 4, 5)))
err(struct cctx *cx, int line, int col, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cx->nerr++;
	if (cx->diag != NULL)
		cx->diag(cx->arg, line, col, msg);
}

const char *
rules_list_name(enum rules_list l)
{
	static const char *const names[] = { "access", "cache", "direct" };

	return (unsigned)l < VD_ARRLEN(names) ? names[l] : "?";
}

/* ---------------------------------------------------------------- parsing */

/* Strip a leading `!` (RouterOS negation). */
static const char *
negation(const char *v, bool *neg)
{
	*neg = v[0] == '!';
	return *neg ? v + 1 : v;
}

static int
addr_pton(const char *s, size_t n, int *family, uint8_t out[16])
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (n == 0 || n >= sizeof(buf))
		return VD_ERR;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(out, 0, 16);
	if (inet_pton(AF_INET, buf, out) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out) == 1)
		*family = AF_INET6;
	else
		return VD_ERR;
	return VD_OK;
}

/* ADDR, ADDR-ADDR or ADDR/PREFIX; host bits in ADDR/PREFIX are ignored, as
 * RouterOS does. */
static int
addr_parse(struct addr *a, const char *v)
{
	const char *sep = strpbrk(v, "/-");
	int fam2, bits, i;
	char *end;
	long pfx;

	if (addr_pton(v, sep ? (size_t)(sep - v) : strlen(v), &a->family, a->lo) != VD_OK)
		return VD_ERR;
	bits = a->family == AF_INET ? 32 : 128;
	memcpy(a->hi, a->lo, 16);
	if (sep == NULL)
		return VD_OK;
	if (*sep == '-') {
		if (addr_pton(sep + 1, strlen(sep + 1), &fam2, a->hi) != VD_OK ||
		    fam2 != a->family || memcmp(a->lo, a->hi, (size_t)bits / 8) > 0)
			return VD_ERR;
		return VD_OK;
	}
	if (!isdigit((unsigned char)sep[1]))
		return VD_ERR;
	pfx = strtol(sep + 1, &end, 10);
	if (*end != '\0' || pfx < 0 || pfx > bits)
		return VD_ERR;
	for (i = 0; i < bits / 8; i++) {
		int keep = pfx >= (i + 1) * 8 ? 8 : pfx <= i * 8 ? 0 : (int)pfx - i * 8;
		uint8_t mask = (uint8_t)(0xff00 >> keep);

		a->lo[i] &= mask;
		a->hi[i] = a->lo[i] | (uint8_t)~mask;
	}
	return VD_OK;
}

/* 80,8080-8090 */
static int
ports_parse(struct ports *p, const char *v)
{
	const char *s = v;
	char *end;
	long lo, hi;
	int n = 1;

	for (s = v; *s != '\0'; s++)
		n += *s == ',';
	if ((p->r = calloc((size_t)n, sizeof(*p->r))) == NULL)
		return VD_ERR;
	for (s = v;; s = end + 1) {
		if (!isdigit((unsigned char)*s))
			return VD_ERR;
		lo = hi = strtol(s, &end, 10);
		if (*end == '-') {
			if (!isdigit((unsigned char)end[1]))
				return VD_ERR;
			hi = strtol(end + 1, &end, 10);
		}
		if (lo > 65535 || hi > 65535 || lo > hi || (*end != ',' && *end != '\0'))
			return VD_ERR;
		p->r[p->n][0] = (uint16_t)lo;
		p->r[p->n][1] = (uint16_t)hi;
		p->n++;
		if (*end == '\0')
			return VD_OK;
	}
}

static bool
is_tchar(int ch)
{
	return ch > 0x20 && ch < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", ch) == NULL;
}

/* get,post or any token (RFC 9110 §9.1); `any` matches every method. */
static int
methods_parse(struct methods *m, const char *v)
{
	const char *s, *e;
	int n = 1;

	for (s = v; *s != '\0'; s++)
		n += *s == ',';
	if ((m->m = calloc((size_t)n, sizeof(*m->m))) == NULL)
		return VD_ERR;
	for (s = v;; s = e + 1) {
		for (e = s; *e != ',' && *e != '\0'; e++)
			if (!is_tchar((unsigned char)*e))
				return VD_ERR;
		if (e == s)
			return VD_ERR;
		if ((m->m[m->n] = strndup(s, (size_t)(e - s))) == NULL)
			return VD_ERR;
		if (strcasecmp(m->m[m->n], "any") == 0)
			m->any = true;
		m->n++;
		if (*e == '\0')
			return VD_OK;
	}
}

/* ---------------------------------------------------------------- patterns */

static pcre2_code *
re_compile(struct cctx *cx, const struct conf_rule_prop *pp, int coloff,
    const char *src, size_t len, uint32_t opts)
{
	PCRE2_UCHAR emsg[256];
	PCRE2_SIZE eoff;
	pcre2_code *re;
	int ec;

	re = pcre2_compile((PCRE2_SPTR)src, len, opts, &ec, &eoff, NULL);
	if (re == NULL) {
		pcre2_get_error_message(ec, emsg, sizeof(emsg));
		err(cx, pp->line, pp->col + coloff, "%s at offset %zu", (char *)emsg,
		    (size_t)eoff);
		return NULL;
	}
	/* no JIT (disabled build, no executable memory): the interpreter still works */
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	return re;
}

/*
 * The literals that every match must contain, so that most subjects are
 * turned down by one memmem() instead of a PCRE2 call, and so that a rule
 * the index cannot key otherwise is keyed by 3 bytes of one of them
 * (IK_HGRAM, IK_PGRAM): the runs of plain characters at the top level of
 * the pattern, the longest in `best`, every one of 3 bytes or more in
 * `runs` (each followed by a NUL).  Conservative: none at all with a
 * top-level `|` or any `(?` (inline options such as (?i) change what a
 * literal means); groups and classes are skipped, and a character followed
 * by a quantifier does not count.
 */
struct need {
	char	*best, *runs, *cur;
	size_t	 bestlen, runslen, run;
};

static void
need_end_run(struct need *nd)
{
	if (nd->run > nd->bestlen) {
		memcpy(nd->best, nd->cur, nd->run);
		nd->bestlen = nd->run;
	}
	if (nd->run >= 3) {
		memcpy(nd->runs + nd->runslen, nd->cur, nd->run);
		nd->runslen += nd->run;
		nd->runs[nd->runslen++] = '\0';
	}
	nd->run = 0;
}

static void
need_none(struct need *nd)
{
	nd->bestlen = nd->runslen = 0;
}

/* [ ... ]: past its closing bracket. */
static size_t
skip_class(const char *re, size_t n, size_t i)
{
	i++;
	if (i < n && re[i] == '^')
		i++;
	if (i < n && re[i] == ']')
		i++;
	for (; i < n && re[i] != ']'; i++)
		if (re[i] == '\\')
			i++;
	return i + 1;
}

static void
re_need(const char *re, size_t n, struct need *nd)
{
	size_t i = 0;
	int depth = 0;

	need_none(nd);
	nd->run = 0;
	for (size_t k = 0; k + 1 < n; k++)
		if (re[k] == '(' && re[k + 1] == '?')
			return;
	while (i < n) {
		char c = re[i];

		if (c == '\\') {		/* \. is a literal, \d and friends are not */
			if (i + 1 < n && isalnum((unsigned char)re[i + 1]) &&
			    strchr("dDwWsSbBAzZGhHvVRX", re[i + 1]) == NULL) {
				need_none(nd);	/* \x41, \Q..\E, \p{..}: not worth it */
				return;
			}
			if (depth == 0 && i + 1 < n && !isalnum((unsigned char)re[i + 1]))
				nd->cur[nd->run++] = re[i + 1];
			else
				need_end_run(nd);
			i += 2;
			continue;
		}
		if (c == '[') {
			need_end_run(nd);
			i = skip_class(re, n, i);
			continue;
		}
		if (c == '(' || c == ')') {
			need_end_run(nd);
			depth += c == '(' ? 1 : -1;
			i++;
			continue;
		}
		if (c == '|' && depth == 0) {
			need_none(nd);
			return;
		}
		if (depth > 0 || c == '.' || c == '^' || c == '$' || c == '|') {
			need_end_run(nd);
			i++;
			continue;
		}
		if (c == '*' || c == '+' || c == '?' || c == '{') {
			if (nd->run > 0)
				nd->run--;	/* the quantified character is optional */
			need_end_run(nd);
			if (c == '{')	/* {n,m}: its digits are not literals */
				while (i < n && re[i] != '}')
					i++;
			i++;
			continue;
		}
		nd->cur[nd->run++] = c;
		i++;
	}
	need_end_run(nd);
}

static int
pat_need(struct pat *pt, const char *re, size_t n)
{
	struct need nd = { 0 };

	/* runs: at most n bytes and one NUL per 3 of them */
	if ((pt->need = malloc(n + 1)) == NULL || (pt->runs = malloc(2 * n + 1)) == NULL ||
	    (nd.cur = malloc(n + 1)) == NULL)
		return VD_ERR;
	nd.best = pt->need;
	nd.runs = pt->runs;
	re_need(re, n, &nd);
	free(nd.cur);
	pt->needlen = nd.bestlen;
	pt->runslen = nd.runslen;
	for (size_t i = 0; pt->icase && i < pt->needlen; i++)
		pt->need[i] = (char)tolower((unsigned char)pt->need[i]);
	for (size_t i = 0; pt->icase && i < pt->runslen; i++)
		pt->runs[i] = (char)tolower((unsigned char)pt->runs[i]);
	return VD_OK;
}

/* A wildcard that is not a plain string, prefix or suffix: anchored PCRE2. */
static int
wild_to_re(struct cctx *cx, struct pat *pt, const struct conf_rule_prop *pp,
    int coloff, const char *v)
{
	size_t n = strlen(v), o = 0;
	char *re;
	int rc;

	if ((re = malloc(n * 2 + 1)) == NULL)
		return VD_ERR;
	for (const char *s = v; *s != '\0'; s++) {
		if (*s == '*') {
			if (s > v && s[-1] == '*')
				continue;	/* a run of * is one */
			re[o++] = '.';
			re[o++] = '*';
		} else if (*s == '?') {
			re[o++] = '.';
		} else {
			if (!isalnum((unsigned char)*s) && (unsigned char)*s < 0x80)
				re[o++] = '\\';
			re[o++] = *s;
		}
	}
	pt->kind = PAT_RE;
	pt->re = re_compile(cx, pp, coloff, re, o, PCRE2_ANCHORED | PCRE2_ENDANCHORED |
	    PCRE2_DOTALL | (pt->icase ? PCRE2_CASELESS : 0));
	rc = pt->re != NULL ? pat_need(pt, re, o) : VD_OK;
	free(re);
	return rc;
}

static int
pat_parse(struct cctx *cx, struct pat *pt, const struct conf_rule_prop *pp,
    const char *v, bool icase)
{
	int coloff = pt->neg ? 1 : 0;
	size_t n = strlen(v), stars = 0;

	pt->icase = icase;
	if (v[0] == ':') {
		pt->kind = PAT_RE;
		pt->re = re_compile(cx, pp, coloff + 1, v + 1, n - 1,
		    PCRE2_DOTALL | (icase ? PCRE2_CASELESS : 0));
		return pt->re != NULL ? pat_need(pt, v + 1, n - 1) : VD_OK;
	}
	for (size_t i = 0; i < n; i++)
		stars += v[i] == '*';
	if (strchr(v, '?') != NULL || stars > 1 ||
	    (stars == 1 && v[0] != '*' && v[n - 1] != '*'))
		return wild_to_re(cx, pt, pp, coloff, v);
	pt->kind = stars == 0 ? PAT_EXACT : v[0] == '*' ? PAT_SUFFIX : PAT_PREFIX;
	pt->len = n - stars;
	if ((pt->lit = strndup(v[0] == '*' ? v + 1 : v, pt->len)) == NULL)
		return VD_ERR;
	for (size_t i = 0; icase && i < pt->len; i++)
		pt->lit[i] = (char)tolower((unsigned char)pt->lit[i]);
	return VD_OK;
}

/* ---------------------------------------------------------------- index */

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

/* The bucket of k, made when missing (the table never fills: see ix_build). */
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
static int
ix_build(struct rlist *l)
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

static void
ix_free(struct rindex *ix)
{
	free(ix->tab);
	free(ix->pos);
	free(ix->lin);
}

/* ---------------------------------------------------------------- compile */

static bool
redirect_ok(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v <= 0x20 || *v == 0x7f)
			return false;
	return true;
}

/* One classifier; VD_ERR only when out of memory (bad values are reported). */
static int
prop(struct cctx *cx, struct rule *r, const struct conf_rule_prop *pp)
{
	const char *n = pp->name, *v;
	bool neg;
	int rc = VD_OK;

	if (strcmp(n, "action") == 0) {
		r->deny = strcmp(pp->value, "deny") == 0;
		return VD_OK;
	}
	if (strcmp(n, "disabled") == 0) {
		r->disabled = strcmp(pp->value, "yes") == 0 || strcmp(pp->value, "true") == 0;
		return VD_OK;
	}
	if (strcmp(n, "comment") == 0 || pp->value[0] == '\0')
		return VD_OK;	/* an empty classifier is unset, as in RouterOS */
	if (strcmp(n, "redirect-to") == 0) {
		if (!redirect_ok(pp->value)) {
			err(cx, pp->line, pp->col, "invalid redirect-to \"%s\" (expected a URL"
			    " without blanks or control characters)", pp->value);
			return VD_OK;
		}
		return (r->redirect = strdup(pp->value)) == NULL ? VD_ERR : VD_OK;
	}
	v = negation(pp->value, &neg);
	if (v[0] == '\0') {
		err(cx, pp->line, pp->col, "nothing after \"!\" in %s", n);
		return VD_OK;
	}
	if (strcmp(n, "src-address") == 0 || strcmp(n, "dst-address") == 0) {
		struct addr *a = n[0] == 's' ? &r->src : &r->dst;

		a->set = true;
		a->neg = neg;
		if (addr_parse(a, v) != VD_OK)
			err(cx, pp->line, pp->col, "invalid address \"%s\" for %s (expected"
			    " ADDRESS, ADDRESS-ADDRESS or ADDRESS/PREFIX)", pp->value, n);
	} else if (strcmp(n, "dst-port") == 0 || strcmp(n, "local-port") == 0) {
		struct ports *p = n[0] == 'd' ? &r->dport : &r->lport;

		p->set = true;
		p->neg = neg;
		if (ports_parse(p, v) != VD_OK) {
			if (p->r == NULL)
				return VD_ERR;
			err(cx, pp->line, pp->col, "invalid port range \"%s\" for %s (expected"
			    " a list of PORT or PORT-PORT, 0-65535, such as 80,8080-8090)",
			    pp->value, n);
		}
	} else if (strcmp(n, "method") == 0) {
		r->meth.set = true;
		r->meth.neg = neg;
		if (methods_parse(&r->meth, v) != VD_OK) {
			if (r->meth.m == NULL)
				return VD_ERR;
			err(cx, pp->line, pp->col, "invalid method \"%s\" (expected a list of"
			    " methods such as get,head or any)", pp->value);
		}
	} else if (strcmp(n, "dst-host") == 0 || strcmp(n, "path") == 0) {
		struct pat *pt = n[0] == 'd' ? &r->host : &r->path;

		pt->set = true;
		pt->neg = neg;
		rc = pat_parse(cx, pt, pp, v, pt == &r->host);
	}
	return rc;
}

static int
compile_list(struct cctx *cx, struct rlist *l, const struct conf_rules *cr,
    const char *section)
{
	if (cr->nrules > RULES_MAX) {
		err(cx, cr->rules[RULES_MAX].line, 1, "too many rules in %s (at most %d)",
		    section, RULES_MAX);
		return VD_OK;
	}
	if (cr->nrules > 0 && (l->r = calloc((size_t)cr->nrules, sizeof(*l->r))) == NULL)
		return VD_ERR;
	for (int i = 0; i < cr->nrules; i++) {
		struct rule *r = &l->r[l->n++];

		r->line = cr->rules[i].line;
		for (int j = 0; j < cr->rules[i].nprops; j++)
			if (prop(cx, r, &cr->rules[i].props[j]) != VD_OK)
				return VD_ERR;
		if (!r->disabled && r->lport.set)
			l->uses_lport = true;
	}
	return cx->nerr == 0 ? ix_build(l) : VD_OK;
}

struct rules *
rules_compile(const struct vd_conf *conf, rules_diag_cb *diag, void *arg)
{
	const struct conf_rules *cr[RULES_NLISTS] = { &conf->access, &conf->cache,
	    &conf->direct };
	static const char *const sec[RULES_NLISTS] = { "/ip proxy access",
	    "/ip proxy cache", "/ip proxy direct" };
	struct cctx cx = { diag, arg, 0, NULL };
	struct rules *rs;

	if ((rs = calloc(1, sizeof(*rs))) == NULL)
		goto nomem;
	for (int i = 0; i < RULES_NLISTS; i++)
		if (compile_list(&cx, &rs->l[i], cr[i], sec[i]) != VD_OK)
			goto nomem;
	/* one pair is all a yes/no match needs */
	if ((rs->md = pcre2_match_data_create(1, NULL)) == NULL)
		goto nomem;
	if (cx.nerr > 0) {
		rules_destroy(rs);
		return NULL;
	}
	return rs;
nomem:
	rules_destroy(rs);
	if (diag != NULL)
		diag(arg, 0, 0, "out of memory compiling the rule lists");
	return NULL;
}

static void
rule_free(struct rule *r)
{
	free(r->redirect);
	free(r->dport.r);
	free(r->lport.r);
	for (int i = 0; i < r->meth.n; i++)
		free(r->meth.m[i]);
	free(r->meth.m);
	free(r->host.lit);
	free(r->path.lit);
	free(r->host.need);
	free(r->path.need);
	free(r->host.runs);
	free(r->path.runs);
	pcre2_code_free(r->host.re);
	pcre2_code_free(r->path.re);
}

void
rules_destroy(struct rules *rs)
{
	if (rs == NULL)
		return;
	for (int i = 0; i < RULES_NLISTS; i++) {
		for (int j = 0; j < rs->l[i].n; j++)
			rule_free(&rs->l[i].r[j]);
		free(rs->l[i].r);
		ix_free(&rs->l[i].ix);
	}
	pcre2_match_data_free(rs->md);
	free(rs);
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
		if (q->dst == NULL) {
			res->verdict = RULES_NEED_ADDR;
			return true;
		}
		if (addr_in(&r->dst, q->dst) == r->dst.neg)
			return false;
	}
	*res = (struct rules_result){ r->deny ? RULES_DENY : RULES_ALLOW, i,
	    r->line, r->deny ? r->redirect : NULL };
	if (count)
		hit(l, i);
	return true;
}

/*
 * Candidate cursors, each a run of increasing positions: `lin`, then the
 * buckets the request's keys hit.  Only buckets that exist take a cursor,
 * so the count is small; past MAXCUR (a host of many labels that each name
 * a configured suffix), -1 asks for the plain walk, which is always right.
 */
#define MAXCUR		64

struct cur {
	const int	*p, *e;
};

static int
cur_add(struct cur *c, int k, const struct rindex *ix, const struct ient *e)
{
	if (k < 0 || e == NULL)
		return k;
	if (k == MAXCUR)
		return -1;
	c[k].p = ix->pos + e->off;
	c[k].e = c[k].p + e->n;
	return k + 1;
}

/* Every suffix of s that starts at one of the bytes in `at` and is at most
 * max long. */
static int
cur_suffixes(struct cur *c, int k, const struct rindex *ix, int kind, struct vd_str s,
    size_t max, const char *at)
{
	for (size_t i = s.len > max ? s.len - max : 0; k >= 0 && i < s.len; i++)
		if (s.p[i] == at[0] || s.p[i] == at[1])
			k = cur_add(c, k, ix, ix_find(ix, kind, 0, s.p + i, s.len - i));
	return k;
}

/* Every sep-separated piece of s (host labels, path segments). */
static int
cur_labels(struct cur *c, int k, const struct rindex *ix, int kind, struct vd_str s,
    char sep)
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
cur_grams(struct cur *c, int k, const struct rindex *ix, int kind, struct vd_str s)
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
cur_src(struct cur *c, int k, const struct rindex *ix, const struct sockaddr *sa)
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

static int
candidates(const struct rindex *ix, const struct rules_req *q, struct vd_str host,
    struct cur *c)
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

static enum rules_verdict
match(const struct rules *rs, enum rules_list l, const struct rules_req *q,
    struct rules_result *res, bool count, bool indexed)
{
	struct rules_result dummy;
	const struct rlist *rl;
	struct cur c[MAXCUR];
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
		k = candidates(&rl->ix, q, host, c);
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
