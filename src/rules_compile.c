/*
 * rules_compile.c — compile the access, cache and direct lists of a loaded
 * conf (conf.c keeps their `add` lines verbatim) into the form of
 * rules_types.h, check every value, and free it again.
 *
 * Design note.  Everything that can be decided at load is: addresses become
 * inclusive [lo, hi] byte ranges, port lists become ranges, wildcard
 * patterns become a direct comparison when they are a plain string,
 * `*string` or `string*` (the common forms: `*.example.com`, `*.mp3`), and
 * an anchored PCRE2 code otherwise.  `:regex` patterns are PCRE2 codes
 * searched unanchored.  All codes are JIT-compiled.  Each pattern also
 * keeps the literal text every match contains, for a cheap "no" before
 * PCRE2 and for the index (rules_index.c), which is built last, per list,
 * when the whole list compiled.  Load and compile: ~3-8 us a rule (PCRE2
 * JIT dominates).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct.h"
#include "conf.h"
#include "rules.h"
#include "rules_types.h"
#include "rules_index.h"

#define MSG_MAX		512

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
addr_parse_raw(struct addr *a, const char *v)
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

/*
 * An address or range written IPv4-mapped (::ffff:a.b.c.d) is the IPv4 one:
 * requests' addresses are matched as IPv4 when they are mapped (rules.c), so
 * a rule kept in IPv6 form would never match the very address it names.
 */
static int
addr_parse(struct addr *a, const char *v)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (addr_parse_raw(a, v) != VD_OK)
		return VD_ERR;
	if (a->family == AF_INET6 && memcmp(a->lo, mapped, 12) == 0 &&
	    memcmp(a->hi, mapped, 12) == 0) {
		a->family = AF_INET;
		memmove(a->lo, a->lo + 12, 4);
		memmove(a->hi, a->hi + 12, 4);
	}
	return VD_OK;
}

/* Items in a comma list: one more than its commas. */
static size_t
list_items(const char *v)
{
	size_t n = 1;

	for (; *v != '\0'; v++)
		n += *v == ',';
	return n;
}

/* 80,8080-8090 */
static int
ports_parse(struct ports *p, const char *v)
{
	const char *s;
	char *end;
	long lo, hi;

	if ((p->r = calloc(list_items(v), sizeof(*p->r))) == NULL)
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

	if ((m->m = calloc(list_items(v), sizeof(*m->m))) == NULL)
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

/* A backslash at re[i]: \. is a literal, \d and friends are not.  Past
 * the escape; 0 when the pattern is not worth a literal (\x41, \Q..\E,
 * \p{..}). */
static size_t
need_escape(const char *re, size_t n, size_t i, int depth, struct need *nd)
{
	if (i + 1 < n && isalnum((unsigned char)re[i + 1]) &&
	    strchr("dDwWsSbBAzZGhHvVRX", re[i + 1]) == NULL)
		return 0;
	if (depth == 0 && i + 1 < n && !isalnum((unsigned char)re[i + 1]))
		nd->cur[nd->run++] = re[i + 1];
	else
		need_end_run(nd);
	return i + 2;
}

/* re[i] == '{' starts {n}, {n,} or {n,m}; else PCRE2 reads a literal. */
static bool
is_quantifier(const char *re, size_t n, size_t i)
{
	size_t d = 0;

	for (i++; i < n && isdigit((unsigned char)re[i]); i++)
		d++;
	if (d == 0 || i >= n)
		return false;
	if (re[i] == ',')
		for (i++; i < n && isdigit((unsigned char)re[i]); i++)
			;
	return i < n && re[i] == '}';
}

/* A quantifier at re[i]: the character before it is optional.  Past it. */
static size_t
need_quantifier(const char *re, size_t n, size_t i, struct need *nd)
{
	if (nd->run > 0)
		nd->run--;
	need_end_run(nd);
	if (re[i] == '{')	/* {n,m}: its digits are not literals */
		while (i < n && re[i] != '}')
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
	/* (?..) options, (*VERB)s and [:posix:] classes (whose inner ']'
	 * would end a class early here) are not modelled: no literal */
	for (size_t k = 0; k + 1 < n; k++)
		if ((re[k] == '(' && (re[k + 1] == '?' || re[k + 1] == '*')) ||
		    (re[k] == '[' && re[k + 1] == ':'))
			return;
	while (i < n) {
		char c = re[i];

		if (c == '\\') {
			if ((i = need_escape(re, n, i, depth, nd)) == 0) {
				need_none(nd);
				return;
			}
		} else if (c == '[') {
			need_end_run(nd);
			i = skip_class(re, n, i);
		} else if (c == '(' || c == ')') {
			need_end_run(nd);
			depth += c == '(' ? 1 : -1;
			if (depth < 0) {	/* PCRE2 refused it; be safe anyway */
				need_none(nd);
				return;
			}
			i++;
		} else if (c == '{' && !is_quantifier(re, n, i)) {
			need_none(nd);		/* a literal '{': not modelled */
			return;
		} else if (c == '|' && depth == 0) {
			need_none(nd);
			return;
		} else if (depth > 0 || c == '.' || c == '^' || c == '$' || c == '|') {
			need_end_run(nd);
			i++;
		} else if (c == '*' || c == '+' || c == '?' || c == '{') {
			i = need_quantifier(re, n, i, nd);
		} else {
			nd->cur[nd->run++] = c;
			i++;
		}
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

/* ---------------------------------------------------------------- compile */

static bool
redirect_ok(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v <= 0x20 || *v == 0x7f)
			return false;
	return true;
}

/* src-address, dst-address, dst-port, local-port, method, dst-host, path:
 * v is the value after any `!` (neg).  VD_ERR only when out of memory. */
static int
classifier(struct cctx *cx, struct rule *r, const struct conf_rule_prop *pp,
    const char *v, bool neg)
{
	const char *n = pp->name;
	int rc = VD_OK;

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

/* One property of a rule; VD_ERR only when out of memory (bad values are
 * reported). */
static int
prop(struct cctx *cx, struct rule *r, const struct conf_rule_prop *pp)
{
	const char *n = pp->name, *v;
	bool neg;

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
	return classifier(cx, r, pp, v, neg);
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
	return cx->nerr == 0 ? rules_index_build(l) : VD_OK;
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
		rules_index_free(&rs->l[i].ix);
	}
	pcre2_match_data_free(rs->md);
	free(rs);
}
