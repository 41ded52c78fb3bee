/* prom.c — Prometheus text exposition of the stats segment (see prom.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "viaduct.h"
#include "conf.h"
#include "prom.h"
#include "stats.h"

struct out {
	char	*p;
	size_t	 cap, len;	/* len counts what did not fit too */
	bool	 cut;
};

static void
put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whole lines only: a line that does not fit ends the visible text. */
static void
put(struct out *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (!o->cut && o->len + (size_t)n < o->cap) {
		memcpy(o->p + o->len, line, (size_t)n);
		o->p[o->len + (size_t)n] = '\0';
	} else
		o->cut = true;
	o->len += (size_t)n;
}

/* viaduct_<field>, counters with _total (OpenMetrics naming). */
static void
family(struct out *o, const struct stats_hdr *h, const struct stats_slot *sum,
    const char *f, int kind, const char *help, size_t off)
{
	const char *suffix = kind == COUNTER ? "_total" : "";
	uint64_t v;

	put(o, "# HELP viaduct_%s%s %s\n", f, suffix, help);
	put(o, "# TYPE viaduct_%s%s %s\n", f, suffix, kind == COUNTER ? "counter" : "gauge");
	memcpy(&v, (const char *)sum + off, sizeof(v));
	put(o, "viaduct_%s%s %llu\n", f, suffix, (unsigned long long)v);
	for (uint32_t i = 0; i < stats_slots_used(h); i++) {
		if (h->slots[i].pid == 0)
			continue;
		memcpy(&v, (const char *)&h->slots[i] + off, sizeof(v));
		put(o, "viaduct_%s%s{worker=\"%u\"} %llu\n", f, suffix, i,
		    (unsigned long long)v);
	}
}

static const struct conf_rules *
rule_list(const struct vd_conf *conf, int l)
{
	return l == RULES_ACCESS ? &conf->access : l == RULES_CACHE ? &conf->cache :
	    &conf->direct;
}

static void
rule_hits(struct out *o, const struct stats_slot *sum, const struct vd_conf *conf)
{
	put(o, "# HELP viaduct_rule_hits_total requests decided by each rule of the "
	    "access, cache and direct lists\n");
	put(o, "# TYPE viaduct_rule_hits_total counter\n");
	for (int l = 0; l < RULES_NLISTS; l++) {
		const struct conf_rules *cl = rule_list(conf, l);

		for (int i = 0; i < cl->nrules && i < RULES_MAX; i++)
			put(o, "viaduct_rule_hits_total{list=\"%s\",index=\"%d\",line=\"%d\"} "
			    "%llu\n", rules_list_name(l), i, cl->rules[i].line,
			    (unsigned long long)stats_rule_hits(sum, l, i));
	}
}

size_t
prom_write(char *buf, size_t cap, const struct stats_hdr *h,
    const struct stats_slot *sum, const struct vd_conf *conf)
{
	struct out o = { buf, cap, 0, false };

	if (cap > 0)
		buf[0] = '\0';
#define STATS_X(f, name, kind, help) \
	family(&o, h, sum, #f, kind, help, offsetof(struct stats_slot, f));
	STATS_FIELDS(STATS_X)
#undef STATS_X
	if (conf != NULL)
		rule_hits(&o, sum, conf);
	put(&o, "# HELP viaduct_start_time_seconds when the master started, unix time\n");
	put(&o, "# TYPE viaduct_start_time_seconds gauge\n");
	put(&o, "viaduct_start_time_seconds %lld\n", (long long)h->started);
	put(&o, "# HELP viaduct_reloads_total configuration reloads since the start\n");
	put(&o, "# TYPE viaduct_reloads_total counter\n");
	put(&o, "viaduct_reloads_total %llu\n", (unsigned long long)h->reloads);
	return o.len;
}
