/*
 * conf_lex.c — the reader of RouterOS export syntax: logical lines and
 * their words (conf_lex.h), with the file position of every byte so that
 * a message points into the file as the operator sees it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "viaduct.h"
#include "conf_parser.h"
#include "conf_diag.h"
#include "conf_lex.h"

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

bool
conf_next_line(struct parser *p, const char *buf, size_t len, size_t *off,
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
			conf_nomem(p, (struct pos){ *lineno, 1 });
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
		conf_error(p, pos_at(p, *ip), "\"\\00\" (a NUL byte) is not allowed in a value");
	else
		conf_error(p, pos_at(p, *ip), "unknown escape \"\\%c\" in a quoted value"
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
			conf_error(p, p->lpos[i], "NUL byte in the file");
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
	conf_error(p, p->lpos[*ip], "unterminated quoted string (no closing '\"' on this line)");
	return false;
}

bool
conf_split_words(struct parser *p)
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
			conf_error(p, p->lpos[i], "too many words on one line (at most %d)",
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
				conf_error(p, p->lpos[i], "NUL byte in the file");
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
