/*
 * conf.c — the configuration file: RouterOS export syntax in, an immutable
 * struct vd_conf out.
 *
 * Design note.  Three layers, each of which reports every error it finds
 * and carries on, so that one `viaduct -t` run lists all the mistakes:
 *
 *   lines       physical lines are joined into logical lines.  A line that
 *               ends in an odd number of backslashes continues; the next
 *               line's leading blanks are dropped (RouterOS wraps exports
 *               at 80 columns, even inside a word, and indents the rest by
 *               four spaces).  Every byte keeps its physical line and
 *               column, so messages point into the file as the operator
 *               sees it.  A line whose first non-blank is `#` is a comment.
 *   words       a logical line splits on blanks into words; `#` at the
 *               start of a word ends the line.  A word is NAME=VALUE or a
 *               bare word; "quoted" parts take RouterOS escapes, unquoted
 *               parts are literal (exports quote every value that holds a
 *               backslash, so a literal `\.` in a hand-written regex works).
 *   statements  a section header (/ip proxy ...), then `set` or `add` and
 *               their properties.  `set` is table-driven from conf_tbl.h:
 *               one parser per value type, no per-property code.  `add`
 *               lines are kept verbatim for rules.c.
 *
 * Defaults are the table's default text, parsed by the same code before the
 * file is read.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "viaduct.h"
#include "log.h"
#include "util.h"
#include "conf.h"
#include "parent.h"
#include "router.h"
#include "conf_tbl.h"
#include "rules.h"

#define CONF_MAX_WORDS		256
#define CONF_MAX_FILE		(16 * 1024 * 1024)
#define CONF_QUOTE_MAX		60	/* bytes of offending text quoted in a message */
#define CONF_MSG_MAX		1024

#define SEC_NONE		(-1)	/* before the first section header */
#define SEC_SKIP		(-2)	/* inside an unknown section: already reported */

struct prop {
	const char	*name;
	int		 section;
	int		 type;
	int64_t		 min, max;
	const char	*dflt;
	size_t		 off, aux;
	const char	*doc;
};

static const struct prop props[] = {
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

static const char *const sec_names[] = {
	[CONF_SEC_PROXY] = "/ip proxy",
	[CONF_SEC_VIADUCT] = "/viaduct",
	[CONF_SEC_ACCESS] = "/ip proxy access",
	[CONF_SEC_CACHE] = "/ip proxy cache",
	[CONF_SEC_DIRECT] = "/ip proxy direct",
};

struct pos {
	int	 line, col;
};

struct word {
	char		*text;		/* unescaped; cut at the first unquoted '=' */
	char		*value;		/* after that '=', or NULL for a bare word */
	struct pos	 at;		/* the word's first byte */
	struct pos	 vat;		/* the value's first byte */
};

struct parser {
	const char	*name;
	conf_diag_cb	*diag;
	void		*arg;
	int		 nerrors;
	bool		 oom;
	struct vd_conf	*conf;
	int		 section;

	char		*lbuf;		/* the logical line; byte i came from lpos[i] */
	struct pos	*lpos;
	size_t		 llen, lcap;
	char		*wbuf;		/* unescaped words */
	struct word	 words[CONF_MAX_WORDS];
	int		 nwords;
	struct pos	 set_at[VD_ARRLEN(props)];	/* where each property was last set */
};

/* ---- diagnostics ---- */

/* The offending text, quoted safely: non-printables escaped, long text cut. */
static const char *
qt(char *buf, size_t size, const char *s)
{
	size_t o = 0, i;

	for (i = 0; s[i] != '\0' && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == CONF_QUOTE_MAX) {
			o += (size_t)snprintf(buf + o, size - o, "...");
			break;
		}
		if (c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, size - o, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\%02X", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}
#define QBUF	(CONF_QUOTE_MAX * 4 + 8)

static void
report(struct parser *p, bool is_error, const char *msg)
{
	if (is_error)
		p->nerrors++;
	if (p->diag != NULL)
		p->diag(p->arg, is_error, msg);
	else
		fprintf(stderr, "%s\n", msg);
}

static void __attribute__((format(printf, 4, 5)))
diag(struct parser *p, bool is_error, struct pos at, const char *fmt, ...)
{
	char msg[CONF_MSG_MAX];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "%s:%d:%d: %s", p->name, at.line, at.col,
	    is_error ? "" : "warning: ");
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	report(p, is_error, msg);
}
#define error(p, at, ...)	diag((p), true, (at), __VA_ARGS__)

static void
nomem(struct parser *p, struct pos at)
{
	if (!p->oom)
		error(p, at, "out of memory");
	p->oom = true;
}

static char *
dupstr(struct parser *p, struct pos at, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		nomem(p, at);
	return d;
}

/* ---- lines ---- */

static bool
line_reserve(struct parser *p, size_t need)
{
	size_t cap = p->lcap ? p->lcap : 256;
	char *b, *w;
	struct pos *ps;

	if (need <= p->lcap)
		return true;
	while (cap < need)
		cap *= 2;
	b = realloc(p->lbuf, cap);
	if (b != NULL)
		p->lbuf = b;
	ps = realloc(p->lpos, cap * sizeof(*ps));
	if (ps != NULL)
		p->lpos = ps;
	/* a word's text never outgrows its raw bytes; each word adds a NUL */
	w = realloc(p->wbuf, cap + CONF_MAX_WORDS + 1);
	if (w != NULL)
		p->wbuf = w;
	if (b == NULL || ps == NULL || w == NULL)
		return false;
	p->lcap = cap;
	return true;
}

static bool
line_append(struct parser *p, const char *s, size_t n, int line, int col)
{
	if (!line_reserve(p, p->llen + n + 1))
		return false;
	memcpy(p->lbuf + p->llen, s, n);
	for (size_t i = 0; i < n; i++)
		p->lpos[p->llen + i] = (struct pos){ line, col + (int)i };
	p->llen += n;
	return true;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * The next logical line into p->lbuf, from buf at *off (physical line
 * number in *lineno).  False at the end of the input.
 */
static bool
next_line(struct parser *p, const char *buf, size_t len, size_t *off,
    int *lineno)
{
	bool cont = false;

	p->llen = 0;
	while (*off < len) {
		const char *s = buf + *off, *nl = memchr(s, '\n', len - *off);
		size_t n = nl != NULL ? (size_t)(nl - s) : len - *off;
		size_t i = 0, k;
		bool more;

		*off += n + (nl != NULL);
		(*lineno)++;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		while (i < n && is_blank(s[i]))
			i++;
		if (!cont && i < n && s[i] == '#')
			continue;
		if (!cont)
			i = 0;
		for (k = n; k > i && s[k - 1] == '\\'; k--)
			;
		more = (n - k) % 2 == 1;
		if (!line_append(p, s + i, more ? n - 1 - i : n - i, *lineno,
		    (int)i + 1)) {
			nomem(p, (struct pos){ *lineno, 1 });
			return false;
		}
		if (!more)
			return true;
		cont = true;
	}
	return cont;
}

/* ---- words ---- */

static struct pos
pos_at(struct parser *p, size_t i)
{
	if (i < p->llen)
		return p->lpos[i];
	if (p->llen == 0)
		return (struct pos){ 0, 1 };
	return (struct pos){ p->lpos[p->llen - 1].line, p->lpos[p->llen - 1].col + 1 };
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One RouterOS escape after a backslash at lbuf[*ip]; false on error. */
static bool
unescape(struct parser *p, size_t *ip, char **wp)
{
	static const char from[] = "\"\\$?_ntabfrv", to[] = "\"\\$? \n\t\a\b\f\r\v";
	size_t i = *ip + 1;
	char c = p->lbuf[i];
	const char *e = c != '\0' ? strchr(from, c) : NULL;
	int hi, lo;

	if (e != NULL) {
		*(*wp)++ = to[e - from];
		*ip = i + 1;
		return true;
	}
	hi = hexval(c);
	lo = i + 1 < p->llen ? hexval(p->lbuf[i + 1]) : -1;
	if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
		*(*wp)++ = (char)(hi << 4 | lo);
		*ip = i + 2;
		return true;
	}
	if (hi == 0 && lo == 0)
		error(p, pos_at(p, *ip), "\"\\00\" (a NUL byte) is not allowed in a value");
	else
		error(p, pos_at(p, *ip), "unknown escape \"\\%c\" in a quoted value"
		    " (expected one of \\\" \\\\ \\n \\t \\$ \\? \\_ \\a \\b \\f \\r \\v or \\XX hex)",
		    c >= 0x20 && c < 0x7f ? c : '?');
	return false;
}

/* A "quoted" part starting at lbuf[*ip]; false on error. */
static bool
unquote(struct parser *p, size_t *ip, char **wp)
{
	size_t i = *ip + 1;

	while (i < p->llen) {
		char c = p->lbuf[i];

		if (c == '"') {
			*ip = i + 1;
			return true;
		}
		if (c == '\0') {
			error(p, p->lpos[i], "NUL byte in the file");
			return false;
		}
		if (c == '\\' && i + 1 < p->llen) {
			if (!unescape(p, &i, wp))
				return false;
			continue;
		}
		*(*wp)++ = c;
		i++;
	}
	error(p, p->lpos[*ip], "unterminated quoted string (no closing '\"' on this line)");
	return false;
}

/* Split the logical line into p->words; false (after an error) drops it. */
static bool
split_words(struct parser *p)
{
	size_t i = 0;
	char *w = p->wbuf;

	p->nwords = 0;
	for (;;) {
		struct word *wd;

		while (i < p->llen && is_blank(p->lbuf[i]))
			i++;
		if (i == p->llen || p->lbuf[i] == '#')
			return true;
		if (p->nwords == CONF_MAX_WORDS) {
			error(p, p->lpos[i], "too many words on one line (at most %d)",
			    CONF_MAX_WORDS);
			return false;
		}
		wd = &p->words[p->nwords++];
		*wd = (struct word){ .text = w, .at = p->lpos[i] };
		while (i < p->llen && !is_blank(p->lbuf[i])) {
			char c = p->lbuf[i];

			if (c == '"') {
				if (!unquote(p, &i, &w))
					return false;
			} else if (c == '\0') {
				error(p, p->lpos[i], "NUL byte in the file");
				return false;
			} else if (c == '=' && wd->value == NULL) {
				*w++ = '\0';
				wd->value = w;
				wd->vat = pos_at(p, ++i);
			} else {
				*w++ = c;
				i++;
			}
		}
		*w++ = '\0';
	}
}

/* ---- values: one parser per type ---- */

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
	char q[QBUF], r[80];

	if (v >= pr->min && v <= pr->max)
		return VD_OK;
	fmt_range(r, sizeof(r), pr);
	error(p, w->vat, "value \"%s\" out of range for %s (%s)",
	    qt(q, sizeof(q), w->value), pr->name, r);
	return VD_ERR;
}

static int
bad_value(struct parser *p, const struct prop *pr, const struct word *w,
    const char *expected)
{
	char q[QBUF];

	error(p, w->vat, "invalid value \"%s\" for %s (expected %s)",
	    qt(q, sizeof(q), w->value), pr->name, expected);
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
	char q[QBUF], qu[QBUF];
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
			error(p, w->vat, "bad unit \"%s\" in \"%s\" for %s"
			    " (expected KiB, MiB, GiB or TiB)", qt(qu, sizeof(qu), end),
			    qt(q, sizeof(q), v), pr->name);
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
	size_t i;

	*ms = 0;
	for (bool first = true; *s != '\0'; first = false) {
		if (!num(s, &e, &n) || n > 1000000000000ULL)
			return -1;
		if (*e == ':')
			return time_clock(e, n, ms);
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
		*ms += (int64_t)n * units[i].ms;
		if (*ms > INT64_MAX / 4)
			return -1;
		s = u;
	}
	return 0;
}

static int
parse_time(struct parser *p, const struct prop *pr, const struct word *w,
    void *field, void *aux)
{
	char q[QBUF], qu[QBUF];
	const char *bad = NULL;
	int64_t ms, v;

	switch (time_parse(w->value, &ms, &bad)) {
	case -1:
		return bad_value(p, pr, w,
		    "a time such as 30s, 1h30m, 3d, 250ms or 00:30:00");
	case -2:
		error(p, w->vat, "bad unit \"%s\" in \"%s\" for %s"
		    " (expected w, d, h, m, s or ms)", qt(qu, sizeof(qu), bad),
		    qt(q, sizeof(q), w->value), pr->name);
		return VD_ERR;
	}
	v = ms;
	if (pr->type == CONF_T_TIME_S) {
		if (ms % 1000 != 0) {
			error(p, w->vat, "%s takes whole seconds, not \"%s\"",
			    pr->name, qt(q, sizeof(q), w->value));
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
		error(p, w->vat, "%s must not be empty", pr->name);
		return VD_ERR;
	}
	if (len > (size_t)pr->max) {
		error(p, w->vat, "value for %s is too long (%zu bytes, at most %lld)",
		    pr->name, len, (long long)pr->max);
		return VD_ERR;
	}
	if ((s = dupstr(p, w->vat, w->value)) == NULL)
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
		error(p, w->vat, "%s", err);
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
		error(p, w->vat, "%s", err);
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
			char *s = dupstr(p, w->vat, fmts[i]);

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

/* An address without a port into l (port 0); false when malformed. */
static bool
addr_parse(const char *s, struct conf_listen *l)
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

	if (!addr_parse(w->value, &l))
		return bad_value(p, pr, w, "an IPv4 or IPv6 address");
	if (strcmp(w->value, "0.0.0.0") == 0 || strcmp(w->value, "::") == 0)
		memset(&l, 0, sizeof(l));
	memcpy(field, &l.addr, sizeof(l.addr));
	*(socklen_t *)aux = l.addrlen;
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
	char q[QBUF], item[128];
	const char *s = w->value, *e, *end;
	int n = 0, max = pr->type == CONF_T_PORTS ? CONF_MAX_PORTS : (int)pr->max;
	struct conf_listen l[CONF_MAX_LISTEN > CONF_MAX_PORTS ? CONF_MAX_LISTEN : CONF_MAX_PORTS];
	uint64_t port;

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
			error(p, w->vat, "too many items in %s (at most %d)", pr->name, max);
			return VD_ERR;
		}
		switch (pr->type) {
		case CONF_T_PORTS:
			if (!num(item, &end, &port) || *end != '\0' || port < 1 || port > 65535) {
				error(p, w->vat, "invalid port \"%s\" in %s (expected 1..65535)",
				    qt(q, sizeof(q), item), pr->name);
				return VD_ERR;
			}
			memset(&l[n], 0, sizeof(l[n]));
			((struct sockaddr_in *)&l[n].addr)->sin_port = (uint16_t)port;
			break;
		case CONF_T_ADDRLIST:
			if (!addr_parse(item, &l[n])) {
				error(p, w->vat, "invalid address \"%s\" in %s (expected an IPv4 or IPv6 address)",
				    qt(q, sizeof(q), item), pr->name);
				return VD_ERR;
			}
			break;
		default:
			if (vd_sockaddr_parse(item, -1, &l[n].addr, &l[n].addrlen) == -1 ||
			    ((struct sockaddr_in *)&l[n].addr)->sin_port == 0) {
				error(p, w->vat, "invalid listener \"%s\" in %s (expected ADDR:PORT, [IPV6]:PORT)",
				    qt(q, sizeof(q), item), pr->name);
				return VD_ERR;
			}
			break;
		}
		for (int i = 0; i < n; i++)
			if (memcmp(&l[i], &l[n], sizeof(l[n])) == 0) {
				error(p, w->vat, "\"%s\" appears twice in %s",
				    qt(q, sizeof(q), item), pr->name);
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
	return true;
}

/* PREFIXES: admin-allow; an empty list allows nobody. */
static int
parse_prefixes(struct parser *p, const struct prop *pr, const struct word *w,
    void *field, void *aux)
{
	struct conf_prefix l[CONF_MAX_PREFIXES];
	char q[QBUF], item[128];
	const char *s = w->value, *e;
	int n = 0;

	while (*s != '\0') {
		size_t len;

		e = strchr(s, ',');
		len = e != NULL ? (size_t)(e - s) : strlen(s);
		if (len == 0 || len >= sizeof(item) || (e != NULL && e[1] == '\0'))
			return bad_value(p, pr, w, "a comma list without empty items");
		if (n == (int)pr->max) {
			error(p, w->vat, "too many items in %s (at most %d)", pr->name, n);
			return VD_ERR;
		}
		memcpy(item, s, len);
		item[len] = '\0';
		if (!prefix_parse(item, &l[n])) {
			error(p, w->vat, "invalid prefix \"%s\" in %s (expected ADDR or "
			    "ADDR/BITS with no host bits set)", qt(q, sizeof(q), item), pr->name);
			return VD_ERR;
		}
		n++;
		s += len + (e != NULL);
	}
	memcpy(field, l, (size_t)n * sizeof(l[0]));
	*(int *)aux = n;
	return VD_OK;
}

bool
conf_prefix_match(const struct conf_prefix *pf, int n, const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
	const uint8_t *a;
	int fam = sa->sa_family;

	if (fam == AF_INET)
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	else if (fam == AF_INET6) {
		a = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			fam = AF_INET;
			a += 12;
		}
	} else
		return false;
	for (int i = 0; i < n; i++) {
		int full = pf[i].bits / 8, rest = pf[i].bits % 8;

		if (pf[i].family != fam || memcmp(a, pf[i].addr, (size_t)full) != 0)
			continue;
		if (rest == 0 || ((a[full] ^ pf[i].addr[full]) & (0xff00 >> rest)) == 0)
			return true;
	}
	return false;
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
};

static int
prop_set(struct parser *p, const struct prop *pr, const struct word *w,
    struct vd_conf *c)
{
	return parsers[pr->type](p, pr, w, (char *)c + pr->off, (char *)c + pr->aux);
}

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

static const struct prop *
prop_find(int section, const char *name)
{
	for (size_t i = 0; i < VD_ARRLEN(props); i++)
		if (props[i].section == section && strcmp(props[i].name, name) == 0)
			return &props[i];
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
	char q[QBUF], hint[128] = "";
	const char *best = NULL;
	int bestd = 3, d, other = -1;
	size_t i;

	if (p->section <= CONF_SEC_VIADUCT) {
		for (i = 0; i < VD_ARRLEN(props); i++) {
			if (props[i].section != p->section) {
				if (strcmp(props[i].name, w->text) == 0)
					other = props[i].section;
				continue;
			}
			if ((d = levenshtein(w->text, props[i].name)) < bestd) {
				bestd = d;
				best = props[i].name;
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
		snprintf(hint, sizeof(hint), " (it belongs in %s)", sec_names[other]);
	else if (best != NULL)
		snprintf(hint, sizeof(hint), " (did you mean \"%s\"?)", best);
	error(p, w->at, "unknown property \"%s\" in %s%s", qt(q, sizeof(q), w->text),
	    sec_names[p->section], hint);
}

/* ---- statements ---- */

static bool
missing_eq(struct parser *p, const struct word *w)
{
	char q[QBUF];

	if (w->value != NULL)
		return false;
	error(p, w->at, "missing \"=\" after \"%s\" (expected NAME=VALUE)",
	    qt(q, sizeof(q), w->text));
	return true;
}

/* set NAME=VALUE ... in /ip proxy or /viaduct */
static void
set_props(struct parser *p, int i)
{
	for (; i < p->nwords; i++) {
		const struct word *w = &p->words[i];
		const struct prop *pr;

		if (missing_eq(p, w))
			continue;
		if ((pr = prop_find(p->section, w->text)) == NULL) {
			unknown_prop(p, w);
			continue;
		}
		if (prop_set(p, pr, w, p->conf) != VD_OK)
			continue;
		p->set_at[pr - props] = w->vat;
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
	char q[QBUF];
	int other;

	if (missing_eq(p, w))
		return false;
	if (!rule_prop_ok(p->section, w->text, &other)) {
		unknown_prop(p, w);
		return false;
	}
	for (int j = 0; j < r->nprops; j++)
		if (strcmp(r->props[j].name, w->text) == 0) {
			error(p, w->at, "%s given twice in one rule", w->text);
			return false;
		}
	if (strcmp(w->text, "action") == 0 && strcmp(w->value, "allow") != 0 &&
	    strcmp(w->value, "deny") != 0) {
		error(p, w->vat, "invalid value \"%s\" for action (expected allow or deny)",
		    qt(q, sizeof(q), w->value));
		return false;
	}
	if (strcmp(w->text, "disabled") == 0 && strcmp(w->value, "yes") != 0 &&
	    strcmp(w->value, "no") != 0 && strcmp(w->value, "true") != 0 &&
	    strcmp(w->value, "false") != 0) {
		error(p, w->vat, "invalid value \"%s\" for disabled (expected yes or no)",
		    qt(q, sizeof(q), w->value));
		return false;
	}
	return true;
}

/* add NAME=VALUE ... in a rule list: kept verbatim. */
static void
add_rule(struct parser *p, int i)
{
	struct conf_rules *rl = rules_of(p->conf, p->section);
	struct conf_rule *r, *nr;
	int n = rl->nrules;

	if ((n & (n - 1)) == 0) {	/* grow at powers of two */
		nr = realloc(rl->rules, (size_t)(n ? n * 2 : 1) * sizeof(*nr));
		if (nr == NULL) {
			nomem(p, p->words[i - 1].at);
			return;
		}
		rl->rules = nr;
	}
	r = &rl->rules[rl->nrules++];
	*r = (struct conf_rule){ .line = p->words[i - 1].at.line };
	if (p->nwords > i && (r->props = calloc((size_t)(p->nwords - i),
	    sizeof(*r->props))) == NULL) {
		nomem(p, p->words[i].at);
		return;
	}
	for (; i < p->nwords; i++) {
		const struct word *w = &p->words[i];
		struct conf_rule_prop *rp = &r->props[r->nprops];

		if (!rule_prop_check(p, r, w))
			continue;
		rp->name = dupstr(p, w->at, w->text);
		rp->value = dupstr(p, w->vat, w->value);
		rp->line = w->vat.line;
		rp->col = w->vat.col;
		r->nprops++;
	}
}

/*
 * A section header: "/ip proxy access", "/ip/proxy/access" (v7) or
 * "/viaduct", possibly followed by a command on the same line (RouterOS
 * accepts "/ip proxy set enabled=yes").  Returns the index of the first
 * word after the path.
 */
static int
section_header(struct parser *p)
{
	char path[256] = "", q[QBUF];
	size_t i;
	int w;

	for (w = 0; w < p->nwords; w++) {
		const char *t = p->words[w].text;

		if (w > 0 && (p->words[w].value != NULL || t[0] == '/' ||
		    strcmp(t, "set") == 0 || strcmp(t, "add") == 0))
			break;
		if (p->words[w].value != NULL)
			break;
		for (; *t != '\0'; t++) {
			size_t o = strlen(path);

			if (o + 2 >= sizeof(path))
				break;
			path[o] = *t == '/' && o > 0 ? ' ' : *t;
			path[o + 1] = '\0';
		}
		if (w + 1 < p->nwords && strlen(path) + 2 < sizeof(path))
			strcat(path, " ");
	}
	for (i = strlen(path); i > 1 && path[i - 1] == ' '; i--)
		path[i - 1] = '\0';
	for (i = 0; i < VD_ARRLEN(sec_names); i++)
		if (strcmp(path, sec_names[i]) == 0) {
			p->section = (int)i;
			return w;
		}
	error(p, p->words[0].at, "unknown section \"%s\" (expected /ip proxy,"
	    " /ip proxy access, /ip proxy cache, /ip proxy direct or /viaduct)",
	    qt(q, sizeof(q), path));
	p->section = SEC_SKIP;
	return p->nwords;
}

static void
statement(struct parser *p)
{
	char q[QBUF], qv[QBUF];
	const struct word *cmd;
	const char *want, *other;
	int i = 0;

	if (p->words[0].text[0] == '/' && p->words[0].value == NULL)
		i = section_header(p);
	if (i == p->nwords || p->section == SEC_SKIP)
		return;
	cmd = &p->words[i];
	if (p->section == SEC_NONE) {
		error(p, cmd->at, "\"%s\" before any section header (start with one"
		    " such as /ip proxy)", qt(q, sizeof(q), cmd->text));
		return;
	}
	want = p->section >= CONF_SEC_ACCESS ? "add" : "set";
	other = p->section >= CONF_SEC_ACCESS ? "set" : "add";
	if (cmd->value != NULL) {
		error(p, cmd->at, "missing command before \"%s=%s\" (expected \"%s\")",
		    qt(q, sizeof(q), cmd->text), qt(qv, sizeof(qv), cmd->value), want);
		return;
	}
	if (strcmp(cmd->text, other) == 0) {
		error(p, cmd->at, "\"%s\" is not allowed in %s (use \"%s\")",
		    other, sec_names[p->section], want);
		return;
	}
	if (strcmp(cmd->text, want) != 0) {
		error(p, cmd->at, "unknown command \"%s\" in %s (expected \"%s\")",
		    qt(q, sizeof(q), cmd->text), sec_names[p->section], want);
		return;
	}
	if (p->section >= CONF_SEC_ACCESS)
		add_rule(p, i + 1);
	else
		set_props(p, i + 1);
}

/* ---- the whole ---- */

static void
rules_free(struct conf_rules *rl)
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
	for (size_t i = 0; i < VD_ARRLEN(props); i++)
		if (props[i].type == CONF_T_STR || props[i].type == CONF_T_LOGFMT ||
		    props[i].type == CONF_T_PARENTS || props[i].type == CONF_T_LOGTARGET ||
		    props[i].type == CONF_T_ROUTES)
			free(*(char **)((char *)c + props[i].off));
	rules_free(&c->access);
	rules_free(&c->cache);
	rules_free(&c->direct);
	rules_destroy(c->rules);
	parent_set_free(c->parent_set);
	free(c->file);
	free(c);
}

/* A conf holding every default; NULL when out of memory. */
static struct vd_conf *
conf_defaults(struct parser *p)
{
	struct vd_conf *c = calloc(1, sizeof(*c));
	int nerr = p->nerrors;

	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < VD_ARRLEN(props); i++) {
		struct word w = { .text = (char *)props[i].name,
		    .value = (char *)props[i].dflt, .at = { 0, 0 }, .vat = { 0, 0 } };

		prop_set(p, &props[i], &w, c);
	}
	if (p->nerrors != nerr) {	/* only when out of memory */
		conf_free(c);
		return NULL;
	}
	return c;
}

static void
rules_diag(void *arg, int line, int col, const char *msg)
{
	struct parser *p = arg;

	error(p, ((struct pos){ line, col }), "%s", msg);
}

static int
port_of(const struct conf_listen *l)
{
	return ntohs(l->addr.ss_family == AF_INET ?
	    ((const struct sockaddr_in *)&l->addr)->sin_port :
	    ((const struct sockaddr_in6 *)&l->addr)->sin6_port);
}

/*
 * The admin listener never shares a port with the proxy: one socket for
 * both would hand /metrics and PURGE to the proxy port's clients, and a
 * wildcard proxy socket would make the loopback bind fail anyway.
 */
static void
admin_check(struct parser *p)
{
	struct conf_listen px[CONF_MAX_PORTS * CONF_MAX_LISTEN + CONF_MAX_LISTEN];
	const struct prop *pr = prop_find(CONF_SEC_VIADUCT, "admin-port");
	int n;

	if (p->conf->admin_port == 0)
		return;
	n = conf_listeners(p->conf, px, (int)VD_ARRLEN(px));
	for (int i = 0; i < n; i++)
		if (port_of(&px[i]) == p->conf->admin_port) {
			error(p, p->set_at[pr - props], "admin-port %u is also a port of "
			    "the proxy (port, listen); the admin listener needs its own",
			    (unsigned)p->conf->admin_port);
			return;
		}
}

static void
parse_all(struct parser *p, const char *buf, size_t len)
{
	size_t off = 0;
	int lineno = 0;

	while (!p->oom && next_line(p, buf, len, &off, &lineno))
		if (split_words(p) && p->nwords > 0)
			statement(p);
	/* rules.c checks what the lists' values mean (addresses, ports,
	 * patterns) and compiles them into the immutable conf */
	if (p->nerrors == 0 && !p->oom)
		p->conf->rules = rules_compile(p->conf, rules_diag, p);
	if (p->nerrors == 0 && !p->oom)
		admin_check(p);
	/* the parent array too: built once here, shared by every worker */
	if (p->nerrors == 0 && !p->oom) {
		char err[CONF_MSG_MAX];

		if ((p->conf->parent_set = parent_set_from_conf(p->conf, err,
		    sizeof(err))) == NULL)
			error(p, ((struct pos){ 0, 0 }), "%s", err);
	}
}

struct vd_conf *
conf_load_buf(const char *name, const char *buf, size_t len,
    conf_diag_cb *diag_cb, void *arg)
{
	struct parser p = { .name = name, .diag = diag_cb, .arg = arg,
	    .section = SEC_NONE };

	p.conf = conf_defaults(&p);
	if (p.conf == NULL ||
	    (p.conf->file = strdup(name)) == NULL)
		nomem(&p, (struct pos){ 0, 0 });
	else
		parse_all(&p, buf, len);
	free(p.lbuf);
	free(p.lpos);
	free(p.wbuf);
	if (p.nerrors > 0) {
		conf_free(p.conf);
		return NULL;
	}
	return p.conf;
}

static void
load_fail(const char *file, conf_diag_cb *diag_cb, void *arg, const char *what,
    int errnum)
{
	struct parser p = { .name = file, .diag = diag_cb, .arg = arg };
	char msg[CONF_MSG_MAX];

	snprintf(msg, sizeof(msg), "%s: %s: %s", file, what, strerror(errnum));
	report(&p, true, msg);
}

struct vd_conf *
conf_load(const char *file, conf_diag_cb *diag_cb, void *arg)
{
	struct vd_conf *c;
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1) {
		load_fail(file, diag_cb, arg, "cannot open", errno);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || (!S_ISREG(st.st_mode) && (errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL)) ||
	    (st.st_size > CONF_MAX_FILE && (errno = EFBIG))) {
		load_fail(file, diag_cb, arg, "cannot read", errno);
		close(fd);
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		load_fail(file, diag_cb, arg, "cannot read", errno);
		close(fd);
		return NULL;
	}
	while (len < (size_t)st.st_size &&
	    (n = read(fd, buf + len, (size_t)st.st_size - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			load_fail(file, diag_cb, arg, "cannot read", errno);
			free(buf);
			close(fd);
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	c = conf_load_buf(file, buf, len, diag_cb, arg);
	free(buf);
	return c;
}

/* ---- listeners ---- */

static void
listen_add(struct conf_listen *out, int *n, int max, const struct conf_listen *l)
{
	for (int i = 0; i < *n; i++)
		if (out[i].addrlen == l->addrlen &&
		    memcmp(&out[i].addr, &l->addr, l->addrlen) == 0)
			return;
	if (*n < max)
		out[(*n)++] = *l;
}

int
conf_admin_listeners(const struct vd_conf *c, struct conf_listen *out, int max)
{
	struct conf_listen lo;
	const struct conf_listen *la = c->admin_address;
	int nla = c->nadmin_address, n = 0;

	if (c->admin_port == 0)
		return 0;
	if (nla == 0) {		/* never a wildcard by omission: loopback */
		addr_parse("127.0.0.1", &lo);
		la = &lo;
		nla = 1;
	}
	for (int a = 0; a < nla; a++) {
		struct conf_listen l = la[a];

		if (l.addr.ss_family == AF_INET)
			((struct sockaddr_in *)&l.addr)->sin_port = htons(c->admin_port);
		else
			((struct sockaddr_in6 *)&l.addr)->sin6_port = htons(c->admin_port);
		listen_add(out, &n, max, &l);
	}
	return n;
}

int
conf_listeners(const struct vd_conf *c, struct conf_listen *out, int max)
{
	struct conf_listen wild[2];
	const struct conf_listen *la = c->listen_address;
	int nla = c->nlisten_address, n = 0;

	if (nla == 0) {
		addr_parse("0.0.0.0", &wild[0]);
		addr_parse("::", &wild[1]);
		la = wild;
		nla = 2;
	}
	for (int a = 0; a < nla; a++)
		for (int i = 0; i < c->nports; i++) {
			struct conf_listen l = la[a];

			if (l.addr.ss_family == AF_INET)
				((struct sockaddr_in *)&l.addr)->sin_port = htons(c->ports[i]);
			else
				((struct sockaddr_in6 *)&l.addr)->sin6_port = htons(c->ports[i]);
			listen_add(out, &n, max, &l);
		}
	for (int i = 0; i < c->nlisten; i++)
		listen_add(out, &n, max, &c->listen[i]);
	return n;
}
