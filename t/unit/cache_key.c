/* Unit tests for src/cache_key.c: URL normalisation, Vary selection, keys. */
#include "config.h"

#include <string.h>

#include "cache_key.h"
#include "tap.h"

static void
test_norm(void)
{
	static const struct { const char *in, *want, *name; } t[] = {
		{ "http://example.com/a", "http://example.com/a", "already normal" },
		{ "HTTP://Example.COM/a", "http://example.com/a", "RFC 9110 §4.2.3: scheme and host case-insensitive" },
		{ "http://example.com:80/a", "http://example.com/a", "RFC 9110 §4.2.3: default port removed" },
		{ "https://example.com:443/a", "https://example.com/a", "RFC 9110 §4.2.3: https default port removed" },
		{ "http://example.com:/a", "http://example.com/a", "RFC 3986 §6.2.3: empty port" },
		{ "http://example.com:0080/a", "http://example.com/a", "leading zeros of the port" },
		{ "http://example.com:8080/a", "http://example.com:8080/a", "other port kept" },
		{ "https://example.com:80/a", "https://example.com:80/a", "80 is not https's default" },
		{ "http://example.com", "http://example.com/", "RFC 9110 §4.2.3: empty path -> /" },
		{ "http://example.com?q=1", "http://example.com/?q=1", "empty path with a query" },
		{ "http://example.com/A/b?Q=X", "http://example.com/A/b?Q=X", "path and query case kept" },
		{ "http://example.com/%7e%2fa", "http://example.com/%7E%2Fa", "RFC 3986 §6.2.2.1: percent hex uppercased" },
		{ "http://example.com/%41", "http://example.com/%41", "percent-encoded unreserved not decoded (conservative)" },
		{ "http://example.com/~a", "http://example.com/~a", "unreserved not encoded" },
		{ "http://example.com/%zz%4", "http://example.com/%zz%4", "malformed percent left byte for byte" },
		{ "http://example.com/a#frag", "http://example.com/a", "fragment dropped" },
		{ "http://[::1]:80/x", "http://[::1]/x", "IPv6 literal, default port" },
		{ "http://[FE80::A]:81/x", "http://[fe80::a]:81/x", "IPv6 literal lowercased" },
		{ "http://example.com/a/../b", "http://example.com/a/../b", "dot-segments left alone (conservative)" },
	};
	static const struct { const char *in, *name; } bad[] = {
		{ "ftp://example.com/", "only http and https" },
		{ "http://user@example.com/", "RFC 9110 §4.2.4: userinfo refused" },
		{ "http:///a", "no host" },
		{ "http://example.com:99999/", "port out of range" },
		{ "http://example.com:8a/", "port not numeric" },
		{ "example.com/a", "no scheme" },
		{ "http://exa mple.com/", "space in URL" },
		{ "http://[::1/", "unterminated IPv6 literal" },
	};
	char out[256];
	size_t i, n;

	for (i = 0; i < VD_ARRLEN(t); i++) {
		int rc = cache_key_url_norm(t[i].in, strlen(t[i].in), out, sizeof(out) - 1, &n);
		if (rc == VD_OK)
			out[n] = '\0';
		is_str(rc == VD_OK ? out : "(error)", t[i].want, t[i].name);
	}
	for (i = 0; i < VD_ARRLEN(bad); i++)
		is_int(cache_key_url_norm(bad[i].in, strlen(bad[i].in), out, sizeof(out), &n), VD_ERR,
		    bad[i].name);
	is_int(cache_key_url_norm("http://example.com/abcdef", 25, out, 10, &n), VD_ERR,
	    "output too small -> VD_ERR");
}

static void
test_primary(void)
{
	struct cache_key a, b, c;
	char hex[CACHE_KEY_HEXLEN + 1];

	cache_key_primary("http://a/", 9, &a);
	cache_key_primary("http://a/", 9, &b);
	cache_key_primary("http://b/", 9, &c);
	ok(memcmp(&a, &b, 16) == 0, "same URL -> same key");
	ok(memcmp(&a, &c, 16) != 0, "different URL -> different key");
	ok(strlen(cache_key_hex(&a, hex)) == 32, "hex key is 32 digits");
}

static void
test_vary_names(void)
{
	static const struct { const char *in, *want; int rc; const char *name; } t[] = {
		{ "Accept-Encoding", "accept-encoding", VD_OK, "one name, lowercased" },
		{ "User-Agent, Accept-Encoding", "accept-encoding,user-agent", VD_OK, "sorted" },
		{ "accept-encoding,ACCEPT-ENCODING , Accept", "accept,accept-encoding", VD_OK, "duplicates dropped" },
		{ "", "", VD_OK, "empty Vary" },
		{ "Accept, *", NULL, VD_DECLINED, "RFC 9111 §4.1: * never matches" },
		{ "Accept, (x)", NULL, VD_ERR, "not a token" },
	};
	char out[256];
	size_t i, n;
	int rc;

	for (i = 0; i < VD_ARRLEN(t); i++) {
		rc = cache_key_vary_names(t[i].in, strlen(t[i].in), out, sizeof(out) - 1, &n);
		if (rc == VD_OK)
			out[n] = '\0';
		ok(rc == t[i].rc && (t[i].want == NULL || strcmp(out, t[i].want) == 0), t[i].name);
	}
	is_int(cache_key_vary_names("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", 33, out, sizeof(out), &n),
	    VD_ERR, "more than CACHE_VARY_MAX names -> VD_ERR");
}

#define F(n, v)	{ { n, sizeof(n) - 1 }, { v, sizeof(v) - 1 } }

static void
test_variant(void)
{
	const char *u = "http://a/x";
	const char *names = "accept-encoding,accept-language";
	struct http_field f1[] = { F("Accept-Encoding", "gzip, br"), F("Accept-Language", "en") };
	struct http_field f2[] = { F("accept-language", "en"), F("ACCEPT-ENCODING", "gzip,br") };
	struct http_field f3[] = { F("Accept-Encoding", "gzip"), F("Accept-Encoding", "br"),
	    F("Accept-Language", "en") };
	struct http_field f4[] = { F("Accept-Encoding", "br, gzip"), F("Accept-Language", "en") };
	struct http_field f5[] = { F("Accept-Language", "en") };
	struct http_field f6[] = { F("Accept-Encoding", ""), F("Accept-Language", "en") };
	struct http_field f7[] = { F("Accept-Encoding", "gzip, br"), F("Accept-Language", "en"),
	    F("User-Agent", "x") };
	struct http_field f8[] = { F("Accept-Encoding", "gzip,  ,br"), F("Accept-Language", "en") };
	struct cache_key k1, k2, k3, k4, k5, k6, k7, k8, kp, pk, pa, ka;
	size_t ul = strlen(u), nl = strlen(names);

	cache_key_primary(u, ul, &pk);
	cache_key_primary_at(u, ul, "192.0.2.1:80", &pa);
	cache_key_variant(&pa, u, ul, names, nl, f1, 2, &ka);
	cache_key_variant(&pk, u, ul, names, nl, f1, 2, &k1);
	cache_key_variant(&pk, u, ul, names, nl, f2, 2, &k2);
	cache_key_variant(&pk, u, ul, names, nl, f3, 3, &k3);
	cache_key_variant(&pk, u, ul, names, nl, f4, 2, &k4);
	cache_key_variant(&pk, u, ul, names, nl, f5, 1, &k5);
	cache_key_variant(&pk, u, ul, names, nl, f6, 2, &k6);
	cache_key_variant(&pk, u, ul, names, nl, f7, 3, &k7);
	cache_key_variant(&pk, u, ul, names, nl, f8, 2, &k8);
	cache_key_primary(u, ul, &kp);
	ok(memcmp(&k1, &k2, 16) == 0, "RFC 9111 §4.1: field names case-insensitive, OWS after comma normalised");
	ok(memcmp(&k1, &k3, 16) == 0, "RFC 9111 §4.1: several field lines combine");
	ok(memcmp(&k1, &k4, 16) != 0, "member order matters (not reordered)");
	ok(memcmp(&k5, &k6, 16) != 0, "RFC 9111 §4.1: absent differs from empty");
	ok(memcmp(&k1, &k5, 16) != 0, "absent differs from present");
	ok(memcmp(&k1, &k7, 16) == 0, "fields not named in Vary do not matter");
	ok(memcmp(&k1, &k8, 16) == 0, "empty list members ignored");
	ok(memcmp(&k1, &kp, 16) != 0, "variant key differs from the primary key");
	ok(memcmp(&k1, &ka, 16) != 0,
	    "the same variant under another primary key (a transparent destination's) is another key");
}

static void
test_same_origin(void)
{
	static const struct { const char *ref, *want; int rc; const char *name; } t[] = {
		{ "/b", "http://a.example/b", VD_OK, "RFC 9111 §4.4: absolute path, same origin" },
		{ "http://A.example:80/c", "http://a.example/c", VD_OK, "absolute URL, same origin after normalising" },
		{ "http://b.example/c", NULL, VD_DECLINED, "RFC 9111 §4.4: other host never invalidated" },
		{ "https://a.example/c", NULL, VD_DECLINED, "other scheme is another origin" },
		{ "http://a.example:8080/c", NULL, VD_DECLINED, "other port is another origin" },
		{ "//a.example/d", "http://a.example/d", VD_OK, "network-path reference" },
		{ "//b.example/d", NULL, VD_DECLINED, "network-path to another host" },
		{ "e", "http://a.example/dir/e", VD_OK, "relative path against the target's directory" },
		{ "?q=2", "http://a.example/dir/x?q=2", VD_OK, "query-only reference" },
		{ "http://user@a.example/", NULL, VD_ERR, "malformed reference" },
		{ "../x/c", "http://a.example/x/c", VD_OK, "RFC 3986 §5.2.4: '..' removed with its segment" },
		{ "./b", "http://a.example/dir/b", VD_OK, "'.' removed" },
		{ "/a/b/../../c/./d?q=/../", "http://a.example/c/d?q=/../", VD_OK,
		    "dot segments in an absolute path, not in the query" },
		{ "../../../../e", "http://a.example/e", VD_OK, "'..' above the root stays at the root" },
		{ "/x/..", "http://a.example/", VD_OK, "a trailing '..' leaves the directory" },
		{ "/x/.", "http://a.example/x/", VD_OK, "a trailing '.' too" },
		{ "/x/.hidden/..y", "http://a.example/x/.hidden/..y", VD_OK, "dots inside a segment are no dot segments" },
		{ "http://a.example/p/../q", "http://a.example/q", VD_OK, "an absolute URL is resolved too" },
	};
	const char *base = "http://a.example/dir/x?q=1";
	char out[256];
	size_t i, n;
	int rc;

	for (i = 0; i < VD_ARRLEN(t); i++) {
		rc = cache_key_same_origin(base, strlen(base), t[i].ref, strlen(t[i].ref), out,
		    sizeof(out) - 1, &n);
		if (rc == VD_OK)
			out[n] = '\0';
		if (!ok(rc == t[i].rc && (t[i].want == NULL || strcmp(out, t[i].want) == 0), t[i].name))
			note("rc %d out %s", rc, rc == VD_OK ? out : "-");
	}
}

int
main(void)
{
	test_norm();
	test_primary();
	test_vary_names();
	test_variant();
	test_same_origin();
	return done_testing();
}
