/*
 * conf_prop.c — the property tables of conf_tbl.h and their application
 * to a struct vd_conf (conf_prop.h): `set` is table-driven, one parser per
 * value type (conf_value.c) and no per-property code; `add` lines are kept
 * verbatim for rules_compile.c once their names, action and disabled are checked.
 * Unknown names get a "did you mean" or the section they belong in.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct.h"
#include "conf.h"
#include "conf_parser.h"
#include "conf_diag.h"
#include "conf_value.h"
#include "conf_prop.h"
#include "parent.h"
#include "rules.h"

const struct prop conf_props[CONF_NPROPS] = {
#define CONF_PROP(n, s, t, mi, ma, d, f, a, doc) \
	{ n, s, t, mi, ma, d, offsetof(struct vd_conf, f), \
	    offsetof(struct vd_conf, a), doc },
	CONF_PROPS
#undef CONF_PROP
};

struct rule_prop {
	const char	*name;
	bool		 in[3];		/* access, cache, direct */
};

static const struct rule_prop rule_props[] = {
#define CONF_RULE_PROP(n, a, c, d)	{ n, { a, c, d } },
	CONF_RULE_PROPS
#undef CONF_RULE_PROP
};

const char *const conf_sec_names[CONF_NSECTIONS] = {
	[CONF_SEC_PROXY] = "/ip proxy",
	[CONF_SEC_VIADUCT] = "/viaduct",
	[CONF_SEC_ACCESS] = "/ip proxy access",
	[CONF_SEC_CACHE] = "/ip proxy cache",
	[CONF_SEC_DIRECT] = "/ip proxy direct",
};

/* ---- names ---- */

/* Edit distance, for "did you mean"; names are short (capped at 64). */
static int
levenshtein(const char *a, const char *b)
{
	int row[65], la = (int)strnlen(a, 64), lb = (int)strnlen(b, 64);

	for (int j = 0; j <= lb; j++)
		row[j] = j;
	for (int i = 1; i <= la; i++) {
		int diag = row[0], t;

		row[0] = i;
		for (int j = 1; j <= lb; j++) {
			t = row[j];
			row[j] = a[i - 1] == b[j - 1] ? diag :
			    1 + (diag < row[j - 1] ? (diag < row[j] ? diag : row[j]) :
			    (row[j - 1] < row[j] ? row[j - 1] : row[j]));
			diag = t;
		}
	}
	return row[lb];
}

const struct prop *
conf_prop_find(int section, const char *name)
{
	for (size_t i = 0; i < CONF_NPROPS; i++)
		if (conf_props[i].section == section &&
		    strcmp(conf_props[i].name, name) == 0)
			return &conf_props[i];
	return NULL;
}

static bool
rule_prop_ok(int section, const char *name, int *other)
{
	*other = -1;
	for (size_t i = 0; i < VD_ARRLEN(rule_props); i++) {
		if (strcmp(rule_props[i].name, name) != 0)
			continue;
		if (rule_props[i].in[section - CONF_SEC_ACCESS])
			return true;
		for (int s = 0; s < 3; s++)
			if (rule_props[i].in[s])
				*other = CONF_SEC_ACCESS + s;
	}
	return false;
}

/* unknown property "x" in SECTION, with a hint when one is close. */
static void
unknown_prop(struct parser *p, const struct word *w)
{
	char q[CONF_QBUF], hint[128] = "";
	const char *best = NULL;
	int bestd = 3, d, other = -1;
	size_t i;

	if (p->section <= CONF_SEC_VIADUCT) {
		for (i = 0; i < CONF_NPROPS; i++) {
			if (conf_props[i].section != p->section) {
				if (strcmp(conf_props[i].name, w->text) == 0)
					other = conf_props[i].section;
				continue;
			}
			if ((d = levenshtein(w->text, conf_props[i].name)) < bestd) {
				bestd = d;
				best = conf_props[i].name;
			}
		}
	} else {
		for (i = 0; i < VD_ARRLEN(rule_props); i++)
			if (rule_props[i].in[p->section - CONF_SEC_ACCESS] &&
			    (d = levenshtein(w->text, rule_props[i].name)) < bestd) {
				bestd = d;
				best = rule_props[i].name;
			}
		rule_prop_ok(p->section, w->text, &other);
	}
	if (other >= 0)
		snprintf(hint, sizeof(hint), " (it belongs in %s)", conf_sec_names[other]);
	else if (best != NULL)
		snprintf(hint, sizeof(hint), " (did you mean \"%s\"?)", best);
	conf_error(p, w->at, "unknown property \"%s\" in %s%s", conf_qt(q, sizeof(q), w->text),
	    conf_sec_names[p->section], hint);
}

/* ---- statements ---- */

static bool
missing_eq(struct parser *p, const struct word *w)
{
	char q[CONF_QBUF];

	if (w->value != NULL)
		return false;
	conf_error(p, w->at, "missing \"=\" after \"%s\" (expected NAME=VALUE)",
	    conf_qt(q, sizeof(q), w->text));
	return true;
}

/* set NAME=VALUE ... in /ip proxy or /viaduct */
void
conf_set_props(struct parser *p, int i)
{
	for (; i < p->nwords; i++) {
		const struct word *w = &p->words[i];
		const struct prop *pr;

		if (missing_eq(p, w))
			continue;
		if ((pr = conf_prop_find(p->section, w->text)) == NULL) {
			unknown_prop(p, w);
			continue;
		}
		if (conf_prop_set(p, pr, w, p->conf) != VD_OK)
			continue;
		p->set_at[pr - conf_props] = w->vat;
	}
}

static struct conf_rules *
rules_of(struct vd_conf *c, int section)
{
	return section == CONF_SEC_ACCESS ? &c->access :
	    section == CONF_SEC_CACHE ? &c->cache : &c->direct;
}

/* Checks one rule property; true when it may be stored. */
static bool
rule_prop_check(struct parser *p, const struct conf_rule *r, const struct word *w)
{
	char q[CONF_QBUF];
	int other;

	if (missing_eq(p, w))
		return false;
	if (!rule_prop_ok(p->section, w->text, &other)) {
		unknown_prop(p, w);
		return false;
	}
	for (int j = 0; j < r->nprops; j++)
		if (strcmp(r->props[j].name, w->text) == 0) {
			conf_error(p, w->at, "%s given twice in one rule", w->text);
			return false;
		}
	if (strcmp(w->text, "action") == 0 && strcmp(w->value, "allow") != 0 &&
	    strcmp(w->value, "deny") != 0) {
		conf_error(p, w->vat, "invalid value \"%s\" for action (expected allow or deny)",
		    conf_qt(q, sizeof(q), w->value));
		return false;
	}
	if (strcmp(w->text, "disabled") == 0 && strcmp(w->value, "yes") != 0 &&
	    strcmp(w->value, "no") != 0 && strcmp(w->value, "true") != 0 &&
	    strcmp(w->value, "false") != 0) {
		conf_error(p, w->vat, "invalid value \"%s\" for disabled (expected yes or no)",
		    conf_qt(q, sizeof(q), w->value));
		return false;
	}
	return true;
}

/* add NAME=VALUE ... in a rule list: kept verbatim. */
void
conf_add_rule(struct parser *p, int i)
{
	struct conf_rules *rl = rules_of(p->conf, p->section);
	struct conf_rule *r, *nr;
	int n = rl->nrules;

	if ((n & (n - 1)) == 0) {	/* grow at powers of two */
		nr = realloc(rl->rules, (size_t)(n ? n * 2 : 1) * sizeof(*nr));
		if (nr == NULL) {
			conf_nomem(p, p->words[i - 1].at);
			return;
		}
		rl->rules = nr;
	}
	r = &rl->rules[rl->nrules++];
	*r = (struct conf_rule){ .line = p->words[i - 1].at.line };
	if (p->nwords > i && (r->props = calloc((size_t)(p->nwords - i),
	    sizeof(*r->props))) == NULL) {
		conf_nomem(p, p->words[i].at);
		return;
	}
	for (; i < p->nwords; i++) {
		const struct word *w = &p->words[i];
		struct conf_rule_prop *rp = &r->props[r->nprops];

		if (!rule_prop_check(p, r, w))
			continue;
		rp->name = conf_dupstr(p, w->at, w->text);
		rp->value = conf_dupstr(p, w->vat, w->value);
		rp->line = w->vat.line;
		rp->col = w->vat.col;
		r->nprops++;
	}
}

static void
rule_lists_free(struct conf_rules *rl)
{
	for (int i = 0; i < rl->nrules; i++) {
		for (int j = 0; j < rl->rules[i].nprops; j++) {
			free(rl->rules[i].props[j].name);
			free(rl->rules[i].props[j].value);
		}
		free(rl->rules[i].props);
	}
	free(rl->rules);
}

void
conf_free(struct vd_conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < CONF_NPROPS; i++) {
		int t = conf_props[i].type;

		if (t == CONF_T_STR || t == CONF_T_LOGFMT || t == CONF_T_PARENTS ||
		    t == CONF_T_LOGTARGET || t == CONF_T_ROUTES || t == CONF_T_PSEUDONYM)
			free(*(char **)((char *)c + conf_props[i].off));
	}
	rule_lists_free(&c->access);
	rule_lists_free(&c->cache);
	rule_lists_free(&c->direct);
	rules_destroy(c->rules);
	parent_set_free(c->parent_set);
	free(c->file);
	free(c);
}

struct vd_conf *
conf_defaults(struct parser *p)
{
	struct vd_conf *c = calloc(1, sizeof(*c));
	int nerr = p->nerrors;

	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < CONF_NPROPS; i++) {
		struct word w = { .text = (char *)conf_props[i].name,
		    .value = (char *)conf_props[i].dflt, .at = { 0, 0 }, .vat = { 0, 0 } };

		conf_prop_set(p, &conf_props[i], &w, c);
	}
	if (p->nerrors != nerr) {	/* only when out of memory */
		conf_free(c);
		return NULL;
	}
	return c;
}

