/*
 * conf_value.c — the values of `set` properties, one parser per type of
 * conf_tbl.h (conf_value.h): booleans, numbers, sizes, RouterOS times,
 * strings (and the text that parent.c and router.c check), log levels and
 * targets, addresses, comma lists and prefixes.  The defaults are parsed
 * by the same code as the file (conf_prop.c).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "viaduct.h"
#include "log.h"
#include "util.h"
#include "conf.h"
#include "conf_parser.h"
#include "conf_diag.h"
#include "conf_value.h"
#include "http_parse.h"
#include "parent.h"
#include "router.h"

/* Decimal digits only; false when there are none or on overflow (> 2^53). */
static bool
num(const char *s, const char **end, uint64_t *v)
{
	uint64_t n = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > (1ULL << 53))
			return false;
	}
	*end = s;
	*v = n;
	return true;
}

static void
fmt_size(char *buf, size_t size, int64_t v)
{
	static const char *const u[] = { "", "KiB", "MiB", "GiB", "TiB" };
	size_t i = 0;

	while (i + 1 < VD_ARRLEN(u) && v != 0 && v % 1024 == 0) {
		v /= 1024;
		i++;
	}
	snprintf(buf, size, "%lld%s", (long long)v, u[i]);
}

static void
fmt_time(char *buf, size_t size, int64_t ms)
{
	static const struct { const char *u; int64_t ms; } u[] = {
		{ "w", 604800000 }, { "d", 86400000 }, { "h", 3600000 },
		{ "m", 60000 }, { "s", 1000 }, { "ms", 1 },
	};
	size_t o = 0;

	if (ms == 0)
		o += (size_t)snprintf(buf, size, "0s");
	for (size_t i = 0; i < VD_ARRLEN(u) && o < size; i++)
		if (ms >= u[i].ms) {
			o += (size_t)snprintf(buf + o, size - o, "%lld%s",
			    (long long)(ms / u[i].ms), u[i].u);
			ms %= u[i].ms;
		}
}

/* "(min..max)" in the property's own unit, for range errors. */
static void
fmt_range(char *buf, size_t size, const struct prop *pr)
{
	char a[32], b[32];

	switch (pr->type) {
	case CONF_T_SIZE:
	case CONF_T_KSIZE:
	case CONF_T_CACHESIZE:
		fmt_size(a, sizeof(a), pr->min);
		fmt_size(b, sizeof(b), pr->max);
		break;
	case CONF_T_TIME_MS:
	case CONF_T_TIME_S:
		fmt_time(a, sizeof(a), pr->type == CONF_T_TIME_S ? pr->min * 1000 : pr->min);
		fmt_time(b, sizeof(b), pr->type == CONF_T_TIME_S ? pr->max * 1000 : pr->max);
		break;
	default:
		snprintf(a, sizeof(a), "%lld", (long long)pr->min);
		snprintf(b, sizeof(b), "%lld", (long long)pr->max);
		break;
	}
	snprintf(buf, size, "%s..%s", a, b);
}

static int
range_check(struct parser *p, const struct prop *pr, const struct word *w,
    int64_t v)
{
	char q[CONF_QBUF], r[80];

	if (v >= pr->min && v <= pr->max)
		return VD_OK;
	fmt_range(r, sizeof(r), pr);
	conf_error(p, w->vat, "value \"%s\" out of range for %s (%s)",
	    conf_qt(q, sizeof(q), w->value), pr->name, r);
	return VD_ERR;
}

static int
bad_value(struct parser *p, const struct prop *pr, const struct word *w,
    const char *expected)
{
	char q[CONF_QBUF];

	conf_error(p, w->vat, "invalid value \"%s\" for %s (expected %s)",
	    conf_qt(q, sizeof(q), w->value), pr->name, expected);
	return VD_ERR;
}

static int
parse_bool(struct parser *p, const struct prop *pr, const struct word *w,
    void *field, void *aux)
{
	const char *v = w->value;

	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
		*(bool *)field = true;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
		*(bool *)field = false;
	else
		return bad_value(p, pr, w, "yes or no");
	return VD_OK;
}

/* INT, U16 and WORKERS (auto = online CPUs, clamped to the range). */
static int
parse_int(struct parser *p, const struct prop *pr, const struct word *w,
    void *field, void *aux)
{
	const char *end;
	uint64_t n;
	int64_t v;

	if (pr->type == CONF_T_WORKERS && strcmp(w->value, "auto") == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		v = c < pr->min ? pr->min : c > pr->max ? pr->max : c;
	} else {
		if (!num(w->value, &end, &n) || *end != '\0')
			return bad_value(p, pr, w, pr->type == CONF_T_WORKERS ?
			    "auto or a whole number" : "a whole number");
		v = (int64_t)n;
		if (range_check(p, pr, w, v) != VD_OK)
			return VD_ERR;
	}
	if (pr->type == CONF_T_U16)
		*(uint16_t *)field = (uint16_t)v;
	else
		*(int *)field = (int)v;
	return VD_OK;
}

/* SIZE (bare = bytes), KSIZE (bare = KiB), CACHESIZE (none|unlimited|KSIZE). */
static int
parse_size(struct parser *p, const struct prop *pr, const struct word *w,
    void *field, void *aux)
{
	static const struct { const char *u; int64_t mult; } units[] = {
		{ "KiB", 1LL << 10 }, { "MiB", 1LL << 20 },
		{ "GiB", 1LL << 30 }, { "TiB", 1LL << 40 },
	};
	const char *end, *v = w->value;
	char q[CONF_QBUF], qu[CONF_QBUF];
	int64_t mult = pr->type == CONF_T_SIZE ? 1 : 1024;
	uint64_t n;
	size_t i;

	if (pr->type == CONF_T_CACHESIZE && strcmp(v, "none") == 0) {
		*(int64_t *)field = CONF_SIZE_NONE;
		return VD_OK;
	}
	if (pr->type == CONF_T_CACHESIZE && strcmp(v, "unlimited") == 0) {
		*(int64_t *)field = CONF_SIZE_UNLIMITED;
		return VD_OK;
	}
	if (!num(v, &end, &n))
		return bad_value(p, pr, w, pr->type == CONF_T_CACHESIZE ?
		    "none, unlimited or a size such as 512MiB" :
		    "a size such as 50000KiB or 64MiB");
	if (*end != '\0') {
		for (i = 0; i < VD_ARRLEN(units); i++)
			if (strcmp(end, units[i].u) == 0)
				break;
		if (i == VD_ARRLEN(units)) {
			conf_error(p, w->vat, "bad unit \"%s\" in \"%s\" for %s"
			    " (expected KiB, MiB, GiB or TiB)", conf_qt(qu, sizeof(qu), end),
			    conf_qt(q, sizeof(q), v), pr->name);
			return VD_ERR;
		}
		mult = units[i].mult;
	}
	if (n > (uint64_t)(INT64_MAX / mult))
		n = (uint64_t)(INT64_MAX / mult);	/* the range check says no */
	if (range_check(p, pr, w, (int64_t)n * mult) != VD_OK)
		return VD_ERR;
	*(int64_t *)field = (int64_t)n * mult;
	return VD_OK;
}

/* "HH:MM[:SS[.fff]]" after the hours at s; adds to *ms.  -1 when malformed. */
static int
time_clock(const char *s, uint64_t hours, int64_t *ms)
{
	uint64_t mm, ss = 0, frac = 0;
	const char *e;

	if (*s != ':' || !num(s + 1, &e, &mm) || e - s != 3 || mm > 59)
		return -1;
	if (*e == ':') {
		s = e;
		if (!num(s + 1, &e, &ss) || e - s != 3 || ss > 59)
			return -1;
		if (*e == '.') {
			s = e;
			if (!num(s + 1, &e, &frac) || e - s > 4)
				return -1;
			for (long d = e - s - 1; d < 3; d++)
				frac *= 10;
		}
	}
	if (*e != '\0' || hours > 24 * 365 * 100)
		return -1;
	*ms += (int64_t)(((hours * 60 + mm) * 60 + ss) * 1000 + frac);
	return 0;
}

/*
 * RouterOS times: 3d, 1h30m, 45s, 1w2d, 250ms, 00:30:00, 1d00:30:00; a bare
 * number is seconds.  0 ok, -1 malformed, -2 unknown unit (*bad at it).
 */
static int
time_parse(const char *s, int64_t *ms, const char **bad)
{
	static const struct { const char *u; int64_t ms; } units[] = {
		{ "w", 604800000 }, { "d", 86400000 }, { "h", 3600000 },
		{ "m", 60000 }, { "s", 1000 }, { "ms", 1 },
	};
	const char *e, *u;
	uint64_t n;
	size_t i, last = 0;	/* units come largest first, each once */

	*ms = 0;
	if (*s == '\0')
		return -1;	/* empty is no time (not 0, not the default) */
	for (bool first = true; *s != '\0'; first = false) {
		if (!num(s, &e, &n) || n > 1000000000000ULL)
			return -1;
		if (*e == ':')	/* hh:mm:ss, alone or after days (1d00:30:00) */
			return first || last <= 2 ? time_clock(e, n, ms) : -1;
		for (u = e; (*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z'); u++)
			;
		if (u == e) {
			if (!first || *e != '\0')
				return -1;
			*ms = (int64_t)n * 1000;
			return 0;
		}
		for (i = 0; i < VD_ARRLEN(units); i++)
			if (strlen(units[i].u) == (size_t)(u - e) &&
			    memcmp(units[i].u, e, (size_t)(u - e)) == 0)
				break;
		if (i == VD_ARRLEN(units)) {
			*bad = e;
			return -2;
		}
		if ((!first && i < last) || n > (uint64_t)(INT64_MAX / 4 - *ms) / (uint64_t)units[i].ms)
			return -1;	/* "1s1s", "1m1h", or past any sane bound */
		last = i + 1;
		*ms += (int64_t)n * units[i].ms;
		s = u;
	}
	return 0;
}

static int
parse_time(struct parser *p, const struct prop *pr, const struct word *w,
    void *field, void *aux)
{
	char q[CONF_QBUF], qu[CONF_QBUF];
	const char *bad = NULL;
	int64_t ms, v;

	switch (time_parse(w->value, &ms, &bad)) {
	case -1:
		return bad_value(p, pr, w,
		    "a time such as 30s, 1h30m, 3d, 250ms or 00:30:00");
	case -2:
		conf_error(p, w->vat, "bad unit \"%s\" in \"%s\" for %s"
		    " (expected w, d, h, m, s or ms)", conf_qt(qu, sizeof(qu), bad),
		    conf_qt(q, sizeof(q), w->value), pr->name);
		return VD_ERR;
	}
	v = ms;
	if (pr->type == CONF_T_TIME_S) {
		if (ms % 1000 != 0) {
			conf_error(p, w->vat, "%s takes whole seconds, not \"%s\"",
			    pr->name, conf_qt(q, sizeof(q), w->value));
			return VD_ERR;
		}
		v = ms / 1000;
	}
	if (range_check(p, pr, w, v) != VD_OK)
		return VD_ERR;
	*(int64_t *)field = v;
	return VD_OK;
}

static int
parse_str(struct parser *p, const struct prop *pr, const struct word *w,
    void *field, void *aux)
{
	size_t len = strlen(w->value);
	char *s;

	if (len < (size_t)pr->min) {
		conf_error(p, w->vat, "%s must not be empty", pr->name);
		return VD_ERR;
	}
	if (len > (size_t)pr->max) {
		conf_error(p, w->vat, "value for %s is too long (%zu bytes, at most %lld)",
		    pr->name, len, (long long)pr->max);
		return VD_ERR;
	}
	if ((s = conf_dupstr(p, w->vat, w->value)) == NULL)
		return VD_ERR;
	free(*(char **)field);
	*(char **)field = s;
	return VD_OK;
}

/* PARENTS: text, checked now so that a bad list is an error at its column. */
static int
parse_parents(struct parser *p, const struct prop *pr, const struct word *w,
    void *field, void *aux)
{
	struct parent_set *ps;
	char err[256];

	if ((ps = parent_set_new(w->value, NULL, 0, 0, 1000, err, sizeof(err))) == NULL) {
		conf_error(p, w->vat, "%s", err);
		return VD_ERR;
	}
	parent_set_free(ps);
	return parse_str(p, pr, w, field, aux);
}

/* ROUTES: text that router.c parses in each worker, checked now so that
 * `viaduct -t` and a reload reject it at its column, not a worker at start. */
static int
parse_routes(struct parser *p, const struct prop *pr, const struct word *w,
    void *field, void *aux)
{
	char err[256];

	if (router_check(pr->name, w->value, err, sizeof(err)) != VD_OK) {
		conf_error(p, w->vat, "%s", err);
		return VD_ERR;
	}
	return parse_str(p, pr, w, field, aux);
}

/*
 * PSEUDONYM: Via's received-by (RFC 9110 §7.6.3: a token, optionally
 * ":port"), empty for the host name.  Anything else would break the Via
 * line it is written into, or the loop check that looks for it there.
 */
static int
parse_pseudonym(struct parser *p, const struct prop *pr, const struct word *w,
    void *field, void *aux)
{
	const char *v = w->value, *colon = strchr(v, ':');
	size_t tl = colon != NULL ? (size_t)(colon - v) : strlen(v);

	for (size_t i = 0; i < tl; i++)
		if (!http_tchar[(unsigned char)v[i]]) {
			conf_error(p, w->vat, "%s must be a token (letters, digits and "
			    "!#$%%&'*+-.^_`|~), optionally :port", pr->name);
			return VD_ERR;
		}
	if (colon != NULL && (tl == 0 || colon[1] == '\0' ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))) {
		conf_error(p, w->vat, "%s: the part after ':' must be a port number",
		    pr->name);
		return VD_ERR;
	}
	return parse_str(p, pr, w, field, aux);
}

/* LOGLEVEL -> VD_LOG_*; LOGFMT -> the name itself. */
static int
parse_enum(struct parser *p, const struct prop *pr, const struct word *w,
    void *field, void *aux)
{
	static const char *const levels[] = { "error", "warn", "notice", "info", "debug" };
	static const int level_val[] = {
		VD_LOG_ERR, VD_LOG_WARN, VD_LOG_NOTICE, VD_LOG_INFO, VD_LOG_DEBUG,
	};
	static const char *const fmts[] = { "squid", "common", "combined", "json" };
	size_t i;

	if (pr->type == CONF_T_LOGLEVEL) {
		for (i = 0; i < VD_ARRLEN(levels); i++)
			if (strcmp(w->value, levels[i]) == 0) {
				*(int *)field = level_val[i];
				return VD_OK;
			}
		return bad_value(p, pr, w, "error, warn, notice, info or debug");
	}
	for (i = 0; i < VD_ARRLEN(fmts); i++)
		if (strcmp(w->value, fmts[i]) == 0) {
			char *s = conf_dupstr(p, w->vat, fmts[i]);

			if (s == NULL)
				return VD_ERR;
			free(*(char **)field);
			*(char **)field = s;
			return VD_OK;
		}
	return bad_value(p, pr, w, "squid, common, combined or json");
}

/* access-log: a file, none, or syslog[:FACILITY] (checked here). */
static const struct {
	const char	*name;
	int		 code;
} facilities[] = {
	{ "user", LOG_USER }, { "daemon", LOG_DAEMON },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

/* -1: not syslog; -2: syslog with an unknown facility; else the facility. */
static int
syslog_facility(const char *s)
{
	if (s == NULL || strncmp(s, "syslog", 6) != 0 || (s[6] != '\0' && s[6] != ':'))
		return -1;
	if (s[6] == '\0')
		return LOG_DAEMON;
	for (size_t i = 0; i < VD_ARRLEN(facilities); i++)
		if (strcmp(s + 7, facilities[i].name) == 0)
			return facilities[i].code;
	return -2;
}

bool
conf_log_syslog(const char *target, int *facility)
{
	int f = syslog_facility(target);

	if (f < 0)
		return false;
	if (facility != NULL)
		*facility = f;
	return true;
}

static int
parse_logtarget(struct parser *p, const struct prop *pr, const struct word *w,
    void *field, void *aux)
{
	if (syslog_facility(w->value) == -2)
		return bad_value(p, pr, w, "a file, none, or syslog[:FACILITY] with "
		    "FACILITY user, daemon or local0..local7");
	return parse_str(p, pr, w, field, aux);
}

bool
conf_addr_parse(const char *s, struct conf_listen *l)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->addr;

	memset(l, 0, sizeof(*l));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		l->addrlen = sizeof(*sin);
		return true;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		l->addrlen = sizeof(*sin6);
		return true;
	}
	return false;
}

/* src-address, parent-proxy: 0.0.0.0 and :: mean unset (AF_UNSPEC, len 0). */
static int
parse_addr(struct parser *p, const struct prop *pr, const struct word *w,
    void *field, void *aux)
{
	struct conf_listen l;

	if (!conf_addr_parse(w->value, &l))
		return bad_value(p, pr, w, "an IPv4 or IPv6 address");
	if (strcmp(w->value, "0.0.0.0") == 0 || strcmp(w->value, "::") == 0)
		memset(&l, 0, sizeof(l));
	memcpy(field, &l.addr, sizeof(l.addr));
	*(socklen_t *)aux = l.addrlen;
	return VD_OK;
}

/* One item of a PORTS, ADDRLIST or LISTEN list into l (zeroed first, so
 * that the caller may compare items whole). */
static int
list_item(struct parser *p, const struct prop *pr, const struct word *w,
    const char *item, struct conf_listen *l)
{
	char q[CONF_QBUF];
	const char *end;
	uint64_t port;

	memset(l, 0, sizeof(*l));
	switch (pr->type) {
	case CONF_T_PORTS:
		if (!num(item, &end, &port) || *end != '\0' || port < 1 || port > 65535) {
			conf_error(p, w->vat, "invalid port \"%s\" in %s (expected 1..65535)",
			    conf_qt(q, sizeof(q), item), pr->name);
			return VD_ERR;
		}
		((struct sockaddr_in *)&l->addr)->sin_port = (uint16_t)port;
		break;
	case CONF_T_ADDRLIST:
		if (!conf_addr_parse(item, l)) {
			conf_error(p, w->vat, "invalid address \"%s\" in %s (expected an IPv4 or IPv6 address)",
			    conf_qt(q, sizeof(q), item), pr->name);
			return VD_ERR;
		}
		break;
	default:
		if (vd_sockaddr_parse(item, -1, &l->addr, &l->addrlen) == -1 ||
		    ((struct sockaddr_in *)&l->addr)->sin_port == 0) {
			conf_error(p, w->vat, "invalid listener \"%s\" in %s (expected ADDR:PORT, [IPV6]:PORT)",
			    conf_qt(q, sizeof(q), item), pr->name);
			return VD_ERR;
		}
		break;
	}
	return VD_OK;
}

/*
 * The comma lists: PORTS, ADDRLIST, LISTEN.  Items are checked one by one;
 * an empty value is an empty list (allowed for the two address lists).
 */
static int
parse_list(struct parser *p, const struct prop *pr, const struct word *w,
    void *field, void *aux)
{
	char q[CONF_QBUF], item[128];
	const char *s = w->value, *e;
	int n = 0, max = pr->type == CONF_T_PORTS ? CONF_MAX_PORTS : (int)pr->max;
	struct conf_listen l[CONF_MAX_LISTEN > CONF_MAX_PORTS ? CONF_MAX_LISTEN : CONF_MAX_PORTS];

	if (*s == '\0' && pr->type == CONF_T_PORTS)
		return bad_value(p, pr, w, "one or more ports, comma separated");
	while (*s != '\0') {
		size_t len;

		e = strchr(s, ',');
		len = e != NULL ? (size_t)(e - s) : strlen(s);
		if (len == 0 || len >= sizeof(item))
			return bad_value(p, pr, w, "a comma list without empty items");
		memcpy(item, s, len);
		item[len] = '\0';
		if (n == max) {
			conf_error(p, w->vat, "too many items in %s (at most %d)", pr->name, max);
			return VD_ERR;
		}
		if (list_item(p, pr, w, item, &l[n]) != VD_OK)
			return VD_ERR;
		for (int i = 0; i < n; i++)
			if (memcmp(&l[i], &l[n], sizeof(l[n])) == 0) {
				conf_error(p, w->vat, "\"%s\" appears twice in %s",
				    conf_qt(q, sizeof(q), item), pr->name);
				return VD_ERR;
			}
		n++;
		s += len + (e != NULL);
		if (e != NULL && *s == '\0')
			return bad_value(p, pr, w, "a comma list without empty items");
	}
	if (pr->type == CONF_T_PORTS)
		for (int i = 0; i < n; i++)
			((uint16_t *)field)[i] =
			    ((struct sockaddr_in *)&l[i].addr)->sin_port;
	else
		memcpy(field, l, (size_t)n * sizeof(l[0]));
	*(int *)aux = n;
	return VD_OK;
}

/* One ADDR[/BITS] into pf; false when malformed or host bits are set. */
static bool
prefix_parse(const char *s, struct conf_prefix *pf)
{
	char a[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/'), *end;
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	uint64_t bits;
	int max, n;

	memset(pf, 0, sizeof(*pf));
	if (alen == 0 || alen >= sizeof(a))
		return false;
	memcpy(a, s, alen);
	a[alen] = '\0';
	if (inet_pton(AF_INET, a, pf->addr) == 1)
		pf->family = AF_INET;
	else if (inet_pton(AF_INET6, a, pf->addr) == 1)
		pf->family = AF_INET6;
	else
		return false;
	max = pf->family == AF_INET ? 32 : 128;
	pf->bits = max;
	if (slash != NULL) {
		if (!num(slash + 1, &end, &bits) || *end != '\0' || bits > (uint64_t)max)
			return false;
		pf->bits = (int)bits;
	}
	/* 10.0.0.1/8 is a typo more often than a wish: refuse host bits */
	for (n = pf->bits; n < max; n++)
		if (pf->addr[n / 8] & (0x80 >> (n % 8)))
			return false;
	/* ::ffff:a.b.c.d/96+n is a.b.c.d/n: clients are matched as IPv4 when
	 * mapped (conf_prefix_match), so the IPv6 form would match none */
	if (pf->family == AF_INET6 && pf->bits >= 96 &&
	    memcmp(pf->addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		memmove(pf->addr, pf->addr + 12, 4);
		memset(pf->addr + 4, 0, 12);
		pf->family = AF_INET;
		pf->bits -= 96;
	}
	return true;
}

/* PREFIXES: admin-allow; an empty list allows nobody. */
static int
parse_prefixes(struct parser *p, const struct prop *pr, const struct word *w,
    void *field, void *aux)
{
	struct conf_prefix l[CONF_MAX_PREFIXES];
	char q[CONF_QBUF], item[128];
	const char *s = w->value, *e;
	int n = 0;

	while (*s != '\0') {
		size_t len;

		e = strchr(s, ',');
		len = e != NULL ? (size_t)(e - s) : strlen(s);
		if (len == 0 || len >= sizeof(item) || (e != NULL && e[1] == '\0'))
			return bad_value(p, pr, w, "a comma list without empty items");
		if (n == (int)pr->max) {
			conf_error(p, w->vat, "too many items in %s (at most %d)", pr->name, n);
			return VD_ERR;
		}
		memcpy(item, s, len);
		item[len] = '\0';
		if (!prefix_parse(item, &l[n])) {
			conf_error(p, w->vat, "invalid prefix \"%s\" in %s (expected ADDR or "
			    "ADDR/BITS with no host bits set)", conf_qt(q, sizeof(q), item), pr->name);
			return VD_ERR;
		}
		n++;
		s += len + (e != NULL);
	}
	memcpy(field, l, (size_t)n * sizeof(l[0]));
	*(int *)aux = n;
	return VD_OK;
}

typedef int parse_fn(struct parser *, const struct prop *, const struct word *,
    void *, void *);

static parse_fn *const parsers[] = {
	[CONF_T_BOOL] = parse_bool,
	[CONF_T_INT] = parse_int,
	[CONF_T_U16] = parse_int,
	[CONF_T_WORKERS] = parse_int,
	[CONF_T_SIZE] = parse_size,
	[CONF_T_KSIZE] = parse_size,
	[CONF_T_CACHESIZE] = parse_size,
	[CONF_T_TIME_S] = parse_time,
	[CONF_T_TIME_MS] = parse_time,
	[CONF_T_STR] = parse_str,
	[CONF_T_PARENTS] = parse_parents,
	[CONF_T_ROUTES] = parse_routes,
	[CONF_T_LOGLEVEL] = parse_enum,
	[CONF_T_LOGFMT] = parse_enum,
	[CONF_T_ADDR] = parse_addr,
	[CONF_T_PORTS] = parse_list,
	[CONF_T_ADDRLIST] = parse_list,
	[CONF_T_LISTEN] = parse_list,
	[CONF_T_PREFIXES] = parse_prefixes,
	[CONF_T_LOGTARGET] = parse_logtarget,
	[CONF_T_PSEUDONYM] = parse_pseudonym,
};

int
conf_prop_set(struct parser *p, const struct prop *pr, const struct word *w,
    struct vd_conf *c)
{
	return parsers[pr->type](p, pr, w, (char *)c + pr->off, (char *)c + pr->aux);
}
