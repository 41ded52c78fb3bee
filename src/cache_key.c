/*
 * cache_key.c — URL normalisation, Vary selection and the 128-bit key.
 * See cache_key.h for what is normalised and, as importantly, what is not.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "cache_key.h"

#define IS_OWS(c)	((c) == ' ' || (c) == '\t')

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static char
upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

char *
cache_key_hex(const struct cache_key *k, char buf[CACHE_KEY_HEXLEN + 1])
{
	static const char hx[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 16; i++) {
		buf[2 * i] = hx[k->b[i] >> 4];
		buf[2 * i + 1] = hx[k->b[i] & 15];
	}
	buf[CACHE_KEY_HEXLEN] = '\0';
	return buf;
}

static void
key_from_hash(XXH128_hash_t h, struct cache_key *k)
{
	int i;

	for (i = 0; i < 8; i++) {
		k->b[i] = (uint8_t)(h.high64 >> (56 - 8 * i));
		k->b[8 + i] = (uint8_t)(h.low64 >> (56 - 8 * i));
	}
}

struct out {
	char	*p;
	size_t	 size, len;
	bool	 over;
};

static void
emit(struct out *o, char c)
{
	if (o->len < o->size)
		o->p[o->len++] = c;
	else
		o->over = true;
}

/* Port digits without leading zeros; VD_DECLINED when it is the scheme's default. */
static int
norm_port(const char *p, size_t len, int defport, struct out *o)
{
	unsigned long v = 0;
	size_t i;
	char d[8];
	int n = 0;

	if (len == 0)
		return VD_DECLINED;	/* "host:" means the default port */
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return VD_ERR;
		v = v * 10 + (unsigned long)(p[i] - '0');
		if (v > 65535)
			return VD_ERR;
	}
	if (v == (unsigned long)defport)
		return VD_DECLINED;
	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	emit(o, ':');
	while (n > 0)
		emit(o, d[--n]);
	return VD_OK;
}

static int
norm_authority(const char *a, size_t alen, int defport, struct out *o)
{
	size_t i = 0, hend;

	if (alen == 0 || memchr(a, '@', alen) != NULL)
		return VD_ERR;	/* no host, or userinfo (RFC 9110 §4.2.4) */
	if (a[0] == '[') {
		const char *rb = memchr(a, ']', alen);
		if (rb == NULL)
			return VD_ERR;
		hend = (size_t)(rb - a) + 1;
	} else {
		const char *colon = memchr(a, ':', alen);
		hend = colon != NULL ? (size_t)(colon - a) : alen;
	}
	if (hend == 0 || (hend < alen && a[hend] != ':'))
		return VD_ERR;
	for (i = 0; i < hend; i++)
		emit(o, lower(a[i]));
	if (hend < alen && norm_port(a + hend + 1, alen - hend - 1, defport, o) == VD_ERR)
		return VD_ERR;
	return VD_OK;
}

int
cache_key_url_norm(const char *u, size_t len, char *buf, size_t size, size_t *outlen)
{
	struct out o = { buf, size, 0, false };
	const char *sep, *end;
	size_t i, slen, a0;
	int defport;

	for (i = 0; i < len; i++)
		if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
			return VD_ERR;
	sep = len >= 3 ? memmem(u, len, "://", 3) : NULL;
	if (sep == NULL)
		return VD_ERR;
	slen = (size_t)(sep - u);
	if (slen == 4 && strncasecmp(u, "http", 4) == 0)
		defport = 80;
	else if (slen == 5 && strncasecmp(u, "https", 5) == 0)
		defport = 443;
	else
		return VD_ERR;
	for (i = 0; i < slen; i++)
		emit(&o, lower(u[i]));
	emit(&o, ':'), emit(&o, '/'), emit(&o, '/');

	a0 = slen + 3;
	end = u + len;
	for (i = a0; i < len && u[i] != '/' && u[i] != '?' && u[i] != '#'; i++)
		;
	if (norm_authority(u + a0, i - a0, defport, &o) != VD_OK)
		return VD_ERR;
	if (i == len || u[i] != '/')
		emit(&o, '/');	/* empty path (RFC 9110 §4.2.3) */
	for (; u + i < end && u[i] != '#'; i++) {
		if (u[i] == '%' && i + 2 < len && is_hex(u[i + 1]) && is_hex(u[i + 2])) {
			emit(&o, '%');
			emit(&o, upper(u[i + 1]));
			emit(&o, upper(u[i + 2]));
			i += 2;
		} else
			emit(&o, u[i]);
	}
	if (o.over)
		return VD_ERR;
	*outlen = o.len;
	return VD_OK;
}

void
cache_key_primary(const char *nurl, size_t len, struct cache_key *k)
{
	key_from_hash(XXH3_128bits(nurl, len), k);
}

void
cache_key_primary_at(const char *nurl, size_t len, const char *dst, struct cache_key *k)
{
	/* the destination seeds the URL's hash; | 1: never seed 0, the
	 * URL's own key */
	key_from_hash(XXH3_128bits_withSeed(nurl, len, XXH3_64bits(dst, strlen(dst)) | 1), k);
}

void
cache_key_reverse(const char *nurl, size_t len, const char *origin, uint16_t port,
    struct cache_key *k)
{
	char dst[300];

	/* "reverse " keeps it apart from any "addr:port" of _at() */
	(void)snprintf(dst, sizeof(dst), "reverse %.255s:%u", origin, (unsigned)port);
	cache_key_primary_at(nurl, len, dst, k);
}

int
cache_key_all(const char *nurl, size_t len, const char *origin, uint16_t port,
    struct cache_key k[2])
{
	cache_key_primary(nurl, len, &k[0]);
	if (origin == NULL)
		return 1;
	cache_key_reverse(nurl, len, origin, port, &k[1]);
	return 2;
}

static bool
is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
name_cmp(const struct vd_str *a, const struct vd_str *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int r = strncasecmp(a->p, b->p, n);

	return r != 0 ? r : (a->len > b->len) - (a->len < b->len);
}

int
cache_key_vary_names(const char *v, size_t len, char *buf, size_t size, size_t *outlen)
{
	struct vd_str names[CACHE_VARY_MAX], t;
	struct out o = { buf, size, 0, false };
	size_t i = 0, n0, j;
	int n = 0, k;

	while (i < len) {
		while (i < len && (IS_OWS(v[i]) || v[i] == ','))
			i++;
		if (i < len && v[i] == '*')
			return VD_DECLINED;
		for (n0 = i; i < len && is_tchar(v[i]); i++)
			;
		if (i == n0) {
			if (i < len)
				return VD_ERR;	/* not a token */
			break;
		}
		t = (struct vd_str){ v + n0, i - n0 };
		for (k = 0; k < n && name_cmp(&names[k], &t) != 0; k++)
			;
		if (k == n) {
			if (n == CACHE_VARY_MAX)
				return VD_ERR;
			/* insertion sort: a handful of names */
			for (k = n++; k > 0 && name_cmp(&names[k - 1], &t) > 0; k--)
				names[k] = names[k - 1];
			names[k] = t;
		}
	}
	for (k = 0; k < n; k++) {
		if (k > 0)
			emit(&o, ',');
		for (j = 0; j < names[k].len; j++)
			emit(&o, lower(names[k].p[j]));
	}
	if (o.over)
		return VD_ERR;
	*outlen = o.len;
	return VD_OK;
}

/*
 * Fields whose members are case-insensitive throughout: language ranges
 * (RFC 4647 §2), content-codings (RFC 9110 §8.4.1) and charsets (§8.3.2),
 * with their "q" weight.  RFC 9111 §4.1 lets a cache fold such values, so
 * "en" and "EN" select the same variant.
 */
static bool
folds_case(const char *name, size_t nlen)
{
	static const char *const f[] = { "accept-language", "accept-encoding", "accept-charset" };

	for (size_t i = 0; i < VD_ARRLEN(f); i++)
		if (strlen(f[i]) == nlen && strncasecmp(f[i], name, nlen) == 0)
			return true;
	return false;
}

static void
hash_lower(XXH3_state_t *st, const char *p, size_t len)
{
	char buf[64];
	size_t i, n;

	while (len > 0) {
		n = len < sizeof(buf) ? len : sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] | 0x20) : p[i];
		XXH3_128bits_update(st, buf, n);
		p += n;
		len -= n;
	}
}

/* Hash one field's members, trimmed, joined by ","; returns whether it was present. */
static bool
hash_field(XXH3_state_t *st, const char *name, size_t nlen, const struct http_field *f, int n)
{
	bool present = false, first = true, fold = folds_case(name, nlen);
	size_t i, m0, m1;
	int k;

	for (k = 0; k < n; k++) {
		if (f[k].name.len != nlen || strncasecmp(f[k].name.p, name, nlen) != 0)
			continue;
		if (!present)
			XXH3_128bits_update(st, "\x02", 1);
		present = true;
		for (i = 0; i <= f[k].value.len; i = m1 + 1) {
			for (m1 = i; m1 < f[k].value.len && f[k].value.p[m1] != ','; m1++)
				;
			for (m0 = i; m0 < m1 && IS_OWS(f[k].value.p[m0]); m0++)
				;
			for (i = m1; i > m0 && IS_OWS(f[k].value.p[i - 1]); i--)
				;
			if (i == m0)
				continue;	/* empty list member (RFC 9110 §5.6.1) */
			if (!first)
				XXH3_128bits_update(st, ",", 1);
			first = false;
			if (fold)
				hash_lower(st, f[k].value.p + m0, i - m0);
			else
				XXH3_128bits_update(st, f[k].value.p + m0, i - m0);
		}
	}
	return present;
}

void
cache_key_variant(const struct cache_key *primary, const char *nurl, size_t len,
    const char *names, size_t nlen, const struct http_field *fields, int n, struct cache_key *k)
{
	XXH3_state_t st;
	size_t i = 0, n0;

	XXH3_128bits_reset(&st);
	/* the primary key first: a variant is its marker's, in the marker's
	 * namespace (a transparent destination's, a reverse origin's) */
	XXH3_128bits_update(&st, primary->b, sizeof(primary->b));
	XXH3_128bits_update(&st, nurl, len);
	XXH3_128bits_update(&st, "\0", 1);
	while (i < nlen) {
		for (n0 = i; i < nlen && names[i] != ','; i++)
			;
		XXH3_128bits_update(&st, names + n0, i - n0);
		XXH3_128bits_update(&st, ":", 1);
		if (!hash_field(&st, names + n0, i - n0, fields, n))
			XXH3_128bits_update(&st, "\x01", 1);	/* absent != empty */
		XXH3_128bits_update(&st, "\n", 1);
		i++;
	}
	key_from_hash(XXH3_128bits_digest(&st), k);
}

/* Length of "scheme://authority" of a normalised URL. */
static size_t
origin_len(const char *u, size_t len)
{
	const char *s = memmem(u, len, "://", 3), *p;

	if (s == NULL)
		return 0;
	p = memchr(s + 3, '/', len - (size_t)(s + 3 - u));
	return p != NULL ? (size_t)(p - u) : len;
}

static bool
has_scheme(const char *r, size_t len)
{
	size_t i;

	if (len == 0 || !((r[0] | 0x20) >= 'a' && (r[0] | 0x20) <= 'z'))
		return false;
	for (i = 1; i < len; i++) {
		if (r[i] == ':')
			return true;
		if (!is_tchar(r[i]) || r[i] == '/')
			return false;
	}
	return false;
}

/* The last segment of out[0..*n) and the "/" before it, gone. */
static void
drop_segment(const char *out, size_t *n)
{
	while (*n > 0 && out[*n - 1] != '/')
		(*n)--;
	if (*n > 0)
		(*n)--;
}

/*
 * RFC 3986 §5.2.4 remove_dot_segments: the path in[0..n), which this may
 * change, into out (n bytes at most); its length.
 */
static size_t
remove_dots(char *in, size_t n, char *out)
{
	size_t i = 0, o = 0;

#define AT(s)	(n - i >= sizeof(s) - 1 && memcmp(in + i, s, sizeof(s) - 1) == 0)
#define IS(s)	(n - i == sizeof(s) - 1 && memcmp(in + i, s, sizeof(s) - 1) == 0)
	while (i < n) {
		if (AT("../"))			/* A */
			i += 3;
		else if (AT("./"))
			i += 2;
		else if (AT("/./"))		/* B */
			i += 2;
		else if (IS("/."))
			in[i += 1] = '/';
		else if (AT("/../")) {		/* C */
			i += 3;
			drop_segment(out, &o);
		} else if (IS("/..")) {
			in[i += 2] = '/';
			drop_segment(out, &o);
		} else if (IS(".") || IS("..")) {	/* D */
			i = n;
		} else {			/* E: the first segment, with its "/" */
			do
				out[o++] = in[i++];
			while (i < n && in[i] != '/');
		}
	}
#undef AT
#undef IS
	return o;
}

/* The dot segments of a normalised URL's path resolved, in place. */
static void
url_remove_dots(char *u, size_t *len)
{
	size_t ol = origin_len(u, *len), pe, n;
	const char *q = memchr(u + ol, '?', *len - ol);
	char path[8192], res[8192];

	pe = q != NULL ? (size_t)(q - u) : *len;
	if (pe - ol > sizeof(path) || memchr(u + ol, '.', pe - ol) == NULL)
		return;
	memcpy(path, u + ol, pe - ol);
	n = remove_dots(path, pe - ol, res);
	if (n == 0)
		res[n++] = '/';
	memmove(u + ol + n, u + pe, *len - pe);
	memcpy(u + ol, res, n);
	*len = *len - (pe - ol) + n;
}

int
cache_key_same_origin(const char *nu, size_t nlen, const char *ref, size_t rlen, char *out,
    size_t size, size_t *outlen)
{
	char tmp[8192];
	struct out o = { tmp, sizeof(tmp), 0, false };
	size_t ol = origin_len(nu, nlen), i, dir;
	const char *q;

	if (ol == 0)
		return VD_ERR;
	while (rlen > 0 && IS_OWS(*ref))
		ref++, rlen--;
	while (rlen > 0 && IS_OWS(ref[rlen - 1]))
		rlen--;
	if (has_scheme(ref, rlen)) {
		;		/* absolute */
	} else if (rlen >= 2 && ref[0] == '/' && ref[1] == '/') {
		for (i = 0; nu[i] != ':'; i++)	/* network-path: the target's scheme */
			emit(&o, nu[i]);
		emit(&o, ':');
	} else if (rlen >= 1 && ref[0] == '/') {
		for (i = 0; i < ol; i++)
			emit(&o, nu[i]);
	} else {
		/* relative: the target's path up to its last "/" (or all of it for "?q") */
		q = memchr(nu + ol, '?', nlen - ol);
		dir = q != NULL ? (size_t)(q - nu) : nlen;
		if (rlen == 0 || ref[0] != '?')
			while (dir > ol && nu[dir - 1] != '/')
				dir--;
		for (i = 0; i < dir; i++)
			emit(&o, nu[i]);
	}
	for (i = 0; i < rlen; i++)
		emit(&o, ref[i]);
	if (o.over || cache_key_url_norm(tmp, o.len, out, size, outlen) != VD_OK)
		return VD_ERR;
	url_remove_dots(out, outlen);	/* RFC 3986 §5.2.2: resolving removes them */
	if (origin_len(out, *outlen) != ol || memcmp(out, nu, ol) != 0)
		return VD_DECLINED;
	return VD_OK;
}
