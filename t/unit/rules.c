/*
 * t/unit/rules.c — src/rules*.c: every classifier, both pattern forms,
 * negation, disabled rules, list defaults, the two-phase dst-address
 * evaluation and the compile errors, through conf_load_buf() as the daemon
 * loads them.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct.h"
#include "conf.h"
#include "rules.h"
#include "tap.h"

static struct {
	int	 nerr;
	char	 msg[8][512];
} d;

static void
diag(void *arg, bool is_error, const char *msg)
{
	(void)arg;
	if (!is_error)
		return;
	if (d.nerr < 8)
		snprintf(d.msg[d.nerr], sizeof(d.msg[0]), "%s", msg);
	d.nerr++;
}

static struct vd_conf *
load(const char *text)
{
	memset(&d, 0, sizeof(d));
	return conf_load_buf("t.conf", text, strlen(text), diag, NULL);
}

static struct sockaddr_storage src_ss, dst_ss;

static const struct sockaddr *
sa(struct sockaddr_storage *ss, const char *a)
{
	memset(ss, 0, sizeof(*ss));
	if (a == NULL)
		return NULL;
	if (inet_pton(AF_INET, a, &((struct sockaddr_in *)ss)->sin_addr) == 1)
		ss->ss_family = AF_INET;
	else if (inet_pton(AF_INET6, a, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
		ss->ss_family = AF_INET6;
	else
		abort();
	return (struct sockaddr *)ss;
}

/* method host port path src [dst] */
static struct rules_req
rq(const char *method, const char *host, uint16_t port, const char *path,
    const char *src, const char *dst)
{
	struct rules_req q = {
		.method = { method, strlen(method) },
		.host = { host, strlen(host) },
		.path = { path, strlen(path) },
		.dst_port = port,
		.local_port = 8080,
		.src = sa(&src_ss, src),
		.dst = sa(&dst_ss, dst),
	};
	return q;
}

static const struct rules *
rs_of(const struct vd_conf *c)
{
	return c != NULL ? c->rules : NULL;
}

/* access verdict for a GET to host/path from 10.0.0.1 */
static int
acc(const struct vd_conf *c, const char *host, const char *path)
{
	struct rules_req q = rq("GET", host, 80, path, "10.0.0.1", "192.0.2.1");

	return rules_match(rs_of(c), RULES_ACCESS, &q, NULL);
}

static void
test_defaults(void)
{
	struct vd_conf *c = load("/ip proxy\nset enabled=yes\n");
	struct rules_req q = rq("GET", "example.com", 80, "/", "10.0.0.1", NULL);
	struct rules_result r;

	ok(c != NULL && c->rules != NULL, "a conf without rules compiles");
	is_int(rules_match(c->rules, RULES_ACCESS, &q, &r), RULES_ALLOW, "access default: allow");
	is_int(r.index, -1, "the default has no rule index");
	is_int(rules_match(c->rules, RULES_CACHE, &q, NULL), RULES_ALLOW, "cache default: cache");
	is_int(rules_match(c->rules, RULES_DIRECT, &q, NULL), RULES_DENY,
	    "direct default: deny (through the parent)");
	ok(rules_cache_allowed(c->rules, &q), "rules_cache_allowed by default");
	ok(!rules_direct_allowed(c->rules, &q), "rules_direct_allowed is false by default");
	is_int(rules_match(NULL, RULES_DIRECT, &q, NULL), RULES_DENY, "no rules at all: defaults");
	conf_free(c);

	c = load("/ip proxy access\nadd\n/ip proxy cache\nadd\n/ip proxy direct\nadd\n");
	ok(c != NULL, "empty rules load");
	is_int(rules_match(c->rules, RULES_ACCESS, &q, &r), RULES_ALLOW,
	    "a rule with no classifier and no action: allow (RouterOS default action)");
	is_int(r.index, 0, "... and it is the deciding rule");
	is_int(r.line, 2, "... on line 2");
	is_int(rules_match(c->rules, RULES_DIRECT, &q, NULL), RULES_ALLOW,
	    "direct: an empty allow rule matches all");
	conf_free(c);
}

static void
test_first_match(void)
{
	struct vd_conf *c = load("/ip proxy access\n"
	    "add dst-host=a.example action=allow\n"
	    "add dst-host=*.example action=deny\n"
	    "add action=allow\n");
	struct rules_req q = rq("GET", "a.example", 80, "/", "10.0.0.1", NULL);
	struct rules_result r;

	ok(c != NULL, "three rules load");
	is_int(rules_count(c->rules, RULES_ACCESS), 3, "rules_count");
	is_int(rules_match(c->rules, RULES_ACCESS, &q, &r), RULES_ALLOW, "first match wins");
	is_int(r.index, 0, "rule 0 decided");
	q = rq("GET", "b.example", 80, "/", "10.0.0.1", NULL);
	is_int(rules_match(c->rules, RULES_ACCESS, &q, &r), RULES_DENY, "second rule denies");
	is_int(r.index, 1, "rule 1 decided");
	ok(r.redirect == NULL, "no redirect-to");
	q = rq("GET", "other.test", 80, "/", "10.0.0.1", NULL);
	is_int(rules_match(c->rules, RULES_ACCESS, &q, &r), RULES_ALLOW, "last rule allows");
	is_int(r.index, 2, "rule 2 decided");
	conf_free(c);
}

static void
test_host(void)
{
	struct vd_conf *c = load("/ip proxy access\n"
	    "add dst-host=example action=deny\n"
	    "add dst-host=*.bad.test action=deny\n"
	    "add dst-host=ads.* action=deny\n"
	    "add dst-host=w?w.q.test action=deny\n"
	    "add dst-host=*mid*.test action=deny\n"
	    "add dst-host=:^re[0-9]+\\.test$ action=deny\n"
	    "add dst-host=:unanch action=deny\n");

	ok(c != NULL, "host patterns load");
	is_int(acc(c, "example", "/"), RULES_DENY, "exact wildcard matches the whole host");
	is_int(acc(c, "example.com", "/"), RULES_ALLOW, "\"example\" does not match example.com");
	is_int(acc(c, "EXAMPLE", "/"), RULES_DENY, "host is case-insensitive (exact)");
	is_int(acc(c, "x.bad.test", "/"), RULES_DENY, "*.suffix");
	is_int(acc(c, "X.BAD.Test", "/"), RULES_DENY, "*.suffix case-insensitive");
	is_int(acc(c, "bad.test", "/"), RULES_ALLOW, "*.bad.test needs the dot");
	is_int(acc(c, "ads.example.org", "/"), RULES_DENY, "prefix*");
	is_int(acc(c, "www.q.test", "/"), RULES_DENY, "? matches one character");
	is_int(acc(c, "wXw.q.test", "/"), RULES_DENY, "? matches any one character");
	is_int(acc(c, "ww.q.test", "/"), RULES_ALLOW, "? needs exactly one character");
	is_int(acc(c, "wxxw.q.test", "/"), RULES_ALLOW, "? is not two characters");
	is_int(acc(c, "amidb.test", "/"), RULES_DENY, "*mid* (translated to PCRE2)");
	is_int(acc(c, "AMIDB.TEST", "/"), RULES_DENY, "translated wildcard is caseless too");
	is_int(acc(c, "mid.test.org", "/"), RULES_ALLOW, "translated wildcard is anchored");
	is_int(acc(c, "re42.test", "/"), RULES_DENY, "anchored regex");
	is_int(acc(c, "xre42.test", "/"), RULES_ALLOW, "anchored regex: ^ holds");
	is_int(acc(c, "RE42.TEST", "/"), RULES_DENY, "host regex is caseless");
	is_int(acc(c, "www.unanch.org", "/"), RULES_DENY, "unanchored regex searches anywhere");
	conf_free(c);

	/* regex metacharacters in a wildcard are literal */
	c = load("/ip proxy access\nadd dst-host=a.b?c action=deny\n");
	is_int(acc(c, "a.bxc", "/"), RULES_DENY, "dot literal, ? wild");
	is_int(acc(c, "aXbxc", "/"), RULES_ALLOW, "a wildcard's . is not a regex dot");
	conf_free(c);
}

static void
test_path(void)
{
	struct vd_conf *c = load("/ip proxy access\n"
	    "add path=*.mp3 action=deny redirect-to=http://intra.example/blocked.html\n"
	    "add path=/exact action=deny\n"
	    "add path=/dir/* action=deny\n"
	    "add path=:\\.exe$ action=deny\n"
	    "add path=:/CaSe action=deny\n");
	struct rules_req q = rq("GET", "h.test", 80, "/music/a.mp3", "10.0.0.1", NULL);
	struct rules_result r;

	ok(c != NULL, "path patterns load");
	is_int(rules_match(c->rules, RULES_ACCESS, &q, &r), RULES_DENY, "*.mp3 matches a path");
	is_str(r.redirect, "http://intra.example/blocked.html", "redirect-to is returned");
	is_int(acc(c, "h.test", "/a.mp3x"), RULES_ALLOW, "*.mp3 matches the whole path");
	is_int(acc(c, "h.test", "/A.MP3"), RULES_ALLOW, "path wildcards are case-sensitive");
	is_int(acc(c, "h.test", "/exact"), RULES_DENY, "exact path");
	is_int(acc(c, "h.test", "/exact/more"), RULES_ALLOW, "exact path is whole-string");
	is_int(acc(c, "h.test", "/dir/x/y"), RULES_DENY, "prefix path");
	is_int(acc(c, "h.test", "/a/b.exe"), RULES_DENY, "regex with $");
	is_int(acc(c, "h.test", "/a/b.exe?x"), RULES_ALLOW, "regex $ at the end of path+query");
	is_int(acc(c, "h.test", "/x/CaSe/y"), RULES_DENY, "path regex searches anywhere");
	is_int(acc(c, "h.test", "/x/case/y"), RULES_ALLOW, "path regex is case-sensitive");
	conf_free(c);
}

/* Regexes whose required-literal prefilter is easy to get wrong: each must
 * still match what PCRE2 matches. */
static void
test_prefilter(void)
{
	static const struct { const char *re, *subject; int want; } cases[] = {
		{ ":x{2}y", "/xxy", RULES_DENY }, { ":x{2}y", "/xy", RULES_ALLOW },
		{ ":a+b", "/aab", RULES_DENY }, { ":ab?c", "/ac", RULES_DENY },
		{ ":(ab)*c", "/c", RULES_DENY }, { ":(a|b)cd", "/bcd", RULES_DENY },
		{ ":ab|xy", "/xy", RULES_DENY }, { ":\\.?zz", "/zz", RULES_DENY },
		{ ":[)]q", "/)q", RULES_DENY }, { ":\\d+kk", "/1kk", RULES_DENY },
		{ ":(?i)UPPER", "/upper", RULES_DENY }, { ":\\x41bc", "/Abc", RULES_DENY },
		{ ":\\Qa)b\\E", "/a)b", RULES_DENY }, { ":foo\\.bar", "/fooxbar", RULES_ALLOW },
		{ "*a?c*", "/zabcz", RULES_DENY }, { "*a?c*", "/zacz", RULES_ALLOW },
		/* a POSIX class's inner ']' does not end the class early */
		{ ":ads[[:digit:]]\\.x", "/ads1.x", RULES_DENY },
		{ ":ads[[:digit:]]\\.x", "/adsa.x", RULES_ALLOW },
		/* a '{' that is no quantifier is a literal, and a '(' after it
		 * does not hide a top-level '|' */
		{ ":{((}}c)(z/.*).x?})|zzzq", "/.{}}cz/rqx}b.", RULES_DENY },
		{ ":a{,2}b", "/a{,2}b", RULES_DENY },
		/* a verb ends the match where it stands */
		{ ":/ac(*ACCEPT)zzzzz", "/acq", RULES_DENY },
	};
	char conf[256], name[160];

	for (size_t i = 0; i < VD_ARRLEN(cases); i++) {
		struct vd_conf *c;

		snprintf(conf, sizeof(conf), "/ip proxy access\nadd path=%s action=deny\n",
		    cases[i].re);
		c = load(conf);
		snprintf(name, sizeof(name), "path=%s on %s", cases[i].re, cases[i].subject);
		is_int(c ? acc(c, "h", cases[i].subject) : -1, cases[i].want, name);
		conf_free(c);
	}
	/* host prefilter works on the folded host */
	struct vd_conf *c = load("/ip proxy access\nadd dst-host=:Mixed\\.Case$ action=deny\n");
	is_int(acc(c, "www.MIXED.case", "/"), RULES_DENY, "host regex literal folded both sides");
	conf_free(c);
}

static void
test_negation(void)
{
	struct vd_conf *c = load("/ip proxy access\n"
	    "add dst-host=!*.good.test action=deny\n");

	ok(c != NULL, "negated host loads");
	is_int(acc(c, "x.good.test", "/"), RULES_ALLOW, "!pattern: a match is excluded");
	is_int(acc(c, "evil.test", "/"), RULES_DENY, "!pattern: anything else matches");
	conf_free(c);

	c = load("/ip proxy access\nadd dst-port=!80,443 action=deny\n"
	    "add src-address=!10.0.0.0/8 action=deny\n"
	    "add path=!:^/ok action=deny\n"
	    "add method=!get action=deny\n");
	struct rules_req q = rq("GET", "h", 8080, "/ok", "10.1.1.1", NULL);
	struct rules_result r;

	ok(c != NULL, "negated port list, address, regex, method load");
	is_int(rules_match(c->rules, RULES_ACCESS, &q, &r), RULES_DENY, "!80,443: 8080 matches");
	is_int(r.index, 0, "by the port rule");
	q = rq("GET", "h", 443, "/ok", "192.168.1.1", NULL);
	rules_match(c->rules, RULES_ACCESS, &q, &r);
	is_int(r.index, 1, "!10.0.0.0/8 matches 192.168.1.1");
	q = rq("GET", "h", 443, "/no", "10.1.1.1", NULL);
	rules_match(c->rules, RULES_ACCESS, &q, &r);
	is_int(r.index, 2, "!:^/ok matches /no");
	q = rq("POST", "h", 443, "/ok", "10.1.1.1", NULL);
	rules_match(c->rules, RULES_ACCESS, &q, &r);
	is_int(r.index, 3, "method=!get matches POST");
	q = rq("GET", "h", 443, "/ok", "10.1.1.1", NULL);
	is_int(rules_match(c->rules, RULES_ACCESS, &q, &r), RULES_ALLOW, "none of the negations match");
	is_int(r.index, -1, "default");
	conf_free(c);
}

static void
test_disabled(void)
{
	struct vd_conf *c = load("/ip proxy access\n"
	    "add action=deny disabled=yes comment=\"off for now\"\n"
	    "add action=deny dst-host=x disabled=no\n");
	struct rules_result r;
	struct rules_req q = rq("GET", "y", 80, "/", "10.0.0.1", NULL);

	ok(c != NULL, "disabled rules load");
	is_int(rules_match(c->rules, RULES_ACCESS, &q, &r), RULES_ALLOW, "a disabled rule never matches");
	is_int(r.index, -1, "the default decided");
	is_int(acc(c, "x", "/"), RULES_DENY, "disabled=no is enabled");
	is_int(rules_count(c->rules, RULES_ACCESS), 2, "disabled rules keep their index");
	conf_free(c);
}

static void
test_addresses(void)
{
	struct vd_conf *c = load("/ip proxy access\n"
	    "add src-address=192.168.1.0/24 action=deny\n"
	    "add src-address=10.0.0.5-10.0.0.9 action=deny\n"
	    "add src-address=172.16.3.4 action=deny\n"
	    "add src-address=2001:db8::/32 action=deny\n"
	    "add src-address=10.1.2.3/16 action=deny\n"
	    "add src-address=::ffff:127.0.0.0/104 action=deny\n"	/* written mapped */
	    "add src-address=::ffff:10.9.9.9 action=deny\n");
	struct rules_result r;
	static const struct { const char *a; int idx; } cases[] = {
		{ "127.0.0.3", 5 }, { "::ffff:127.1.2.3", 5 }, { "10.9.9.9", 6 },
		{ "128.0.0.1", -1 },
		{ "192.168.1.0", 0 }, { "192.168.1.255", 0 }, { "192.168.2.0", -1 },
		{ "10.0.0.5", 1 }, { "10.0.0.9", 1 }, { "10.0.0.4", -1 }, { "10.0.0.10", -1 },
		{ "172.16.3.4", 2 }, { "172.16.3.5", -1 },
		{ "2001:db8:1::1", 3 }, { "2001:db9::1", -1 },
		{ "::ffff:192.168.1.7", 0 },	/* v4-mapped client on a :: socket */
		{ "10.1.255.255", 4 }, { "10.2.0.0", -1 },
	};

	ok(c != NULL, "address forms load");
	for (size_t i = 0; i < VD_ARRLEN(cases); i++) {
		struct rules_req q = rq("GET", "h", 80, "/", cases[i].a, NULL);
		char name[128];

		rules_match(c->rules, RULES_ACCESS, &q, &r);
		snprintf(name, sizeof(name), "src %s -> rule %d", cases[i].a, cases[i].idx);
		is_int(r.index, cases[i].idx, name);
	}
	struct rules_req q = rq("GET", "h", 80, "/", NULL, NULL);
	rules_match(c->rules, RULES_ACCESS, &q, &r);
	is_int(r.index, -1, "unknown client address matches no src-address rule");
	conf_free(c);
}

static void
test_ports_methods(void)
{
	struct vd_conf *c = load("/ip proxy access\n"
	    "add dst-port=80,8080-8090 action=deny\n"
	    "add local-port=3128 action=deny\n"
	    "add method=connect dst-port=!443 action=deny\n"
	    "add method=PURGE,delete action=deny\n"
	    "add method=any dst-port=1 action=deny\n");
	struct rules_result r;
	struct rules_req q;

	ok(c != NULL, "ports and methods load");
	ok(rules_uses_local_port(c->rules, RULES_ACCESS), "access list uses local-port");
	ok(!rules_uses_local_port(c->rules, RULES_CACHE), "cache list does not");
	q = rq("GET", "h", 80, "/", "10.0.0.1", NULL);
	rules_match(c->rules, RULES_ACCESS, &q, &r);
	is_int(r.index, 0, "port 80 in the list");
	q = rq("GET", "h", 8085, "/", "10.0.0.1", NULL);
	rules_match(c->rules, RULES_ACCESS, &q, &r);
	is_int(r.index, 0, "port 8085 in the range");
	q = rq("GET", "h", 8091, "/", "10.0.0.1", NULL);
	rules_match(c->rules, RULES_ACCESS, &q, &r);
	is_int(r.index, -1, "port 8091 outside");
	q.local_port = 3128;
	rules_match(c->rules, RULES_ACCESS, &q, &r);
	is_int(r.index, 1, "local-port");
	q = rq("CONNECT", "h", 22, "", "10.0.0.1", NULL);
	rules_match(c->rules, RULES_ACCESS, &q, &r);
	is_int(r.index, 2, "CONNECT to 22 (method is case-insensitive)");
	q = rq("CONNECT", "h", 443, "", "10.0.0.1", NULL);
	rules_match(c->rules, RULES_ACCESS, &q, &r);
	is_int(r.index, -1, "CONNECT to 443 passes");
	q = rq("purge", "h", 443, "/", "10.0.0.1", NULL);
	rules_match(c->rules, RULES_ACCESS, &q, &r);
	is_int(r.index, 3, "any token as a method");
	q = rq("DELETE", "h", 443, "/", "10.0.0.1", NULL);
	rules_match(c->rules, RULES_ACCESS, &q, &r);
	is_int(r.index, 3, "method list");
	q = rq("DELET", "h", 443, "/", "10.0.0.1", NULL);
	rules_match(c->rules, RULES_ACCESS, &q, &r);
	is_int(r.index, -1, "a method prefix is not the method");
	q = rq("FOO", "h", 1, "/", "10.0.0.1", NULL);
	rules_match(c->rules, RULES_ACCESS, &q, &r);
	is_int(r.index, 4, "method=any");
	conf_free(c);
}

static void
test_two_phase(void)
{
	struct vd_conf *c = load("/ip proxy access\n"
	    "add dst-host=early.test action=allow\n"
	    "add dst-address=192.0.2.0/24 action=deny\n"
	    "add dst-address=!2001:db8::/32 dst-host=v6.test action=deny\n");
	struct rules_result r;
	struct rules_req q;

	ok(c != NULL, "dst-address loads");
	q = rq("GET", "early.test", 80, "/", "10.0.0.1", NULL);
	is_int(rules_match(c->rules, RULES_ACCESS, &q, &r), RULES_ALLOW,
	    "decided before dst-address: no address needed");
	q = rq("GET", "late.test", 80, "/", "10.0.0.1", NULL);
	is_int(rules_match(c->rules, RULES_ACCESS, &q, &r), RULES_NEED_ADDR,
	    "a dst-address rule without the address: need address");
	q = rq("GET", "late.test", 80, "/", "10.0.0.1", "192.0.2.77");
	is_int(rules_match(c->rules, RULES_ACCESS, &q, &r), RULES_DENY, "with the address: deny");
	is_int(r.index, 1, "by rule 1");
	q = rq("GET", "late.test", 80, "/", "10.0.0.1", "198.51.100.1");
	is_int(rules_match(c->rules, RULES_ACCESS, &q, &r), RULES_ALLOW, "another address: allow");
	q = rq("GET", "v6.test", 80, "/", "10.0.0.1", "2001:db8::1");
	is_int(rules_match(c->rules, RULES_ACCESS, &q, &r), RULES_ALLOW, "negated IPv6 prefix: inside");
	q = rq("GET", "v6.test", 80, "/", "10.0.0.1", "2001:db9::1");
	rules_match(c->rules, RULES_ACCESS, &q, &r);
	is_int(r.index, 2, "negated IPv6 prefix: outside matches");
	conf_free(c);

	c = load("/ip proxy cache\nadd dst-address=192.0.2.0/24 action=deny\n");
	q = rq("GET", "late.test", 80, "/", "10.0.0.1", NULL);
	ok(!rules_cache_allowed(c->rules, &q), "cache: need address counts as no");
	q = rq("GET", "late.test", 80, "/", "10.0.0.1", "198.51.100.1");
	ok(rules_cache_allowed(c->rules, &q), "cache: with the address, no match caches");
	conf_free(c);
}

static void
test_lists(void)
{
	struct vd_conf *c = load("/ip proxy cache\nadd dst-host=:\\.bank\\.example$ action=deny\n"
	    "/ip proxy direct\nadd dst-host=*.lan action=allow\n");
	struct rules_req q = rq("GET", "www.bank.example", 80, "/", "10.0.0.1", NULL);

	ok(c != NULL, "cache and direct lists load");
	ok(!rules_cache_allowed(c->rules, &q), "cache deny");
	is_int(rules_match(c->rules, RULES_ACCESS, &q, NULL), RULES_ALLOW, "lists are separate");
	q = rq("GET", "www.other.example", 80, "/", "10.0.0.1", NULL);
	ok(rules_cache_allowed(c->rules, &q), "cache: no match caches");
	ok(!rules_direct_allowed(c->rules, &q), "direct: no match is deny");
	q = rq("GET", "printer.lan", 80, "/", "10.0.0.1", NULL);
	ok(rules_direct_allowed(c->rules, &q), "direct allow");
	is_str(rules_list_name(RULES_DIRECT), "direct", "list name");
	conf_free(c);
}

static void
load_err(const char *text, const char *want, const char *name)
{
	struct vd_conf *c = load(text);

	ok(c == NULL, name);
	if (!ok(d.nerr >= 1 && strcmp(d.msg[0], want) == 0, name))
		note("got \"%s\" (%d errors), want \"%s\"", d.nerr ? d.msg[0] : "", d.nerr, want);
	conf_free(c);
}

static void
test_errors(void)
{
	load_err("/ip proxy access\nadd dst-host=:a(b action=deny\n",
	    "t.conf:2:15: missing closing parenthesis at offset 3", "bad host regex");
	load_err("/ip proxy access\nadd action=deny path=!:x[\n",
	    "t.conf:2:24: missing terminating ] for character class at offset 2",
	    "bad negated path regex: column of the regex");
	load_err("/ip proxy access\nadd src-address=10.0.0.300\n",
	    "t.conf:2:17: invalid address \"10.0.0.300\" for src-address (expected ADDRESS,"
	    " ADDRESS-ADDRESS or ADDRESS/PREFIX)", "bad address");
	load_err("/ip proxy access\nadd src-address=10.0.0.0/33\n",
	    "t.conf:2:17: invalid address \"10.0.0.0/33\" for src-address (expected ADDRESS,"
	    " ADDRESS-ADDRESS or ADDRESS/PREFIX)", "prefix too long");
	load_err("/ip proxy access\nadd dst-address=10.0.0.9-10.0.0.1\n",
	    "t.conf:2:17: invalid address \"10.0.0.9-10.0.0.1\" for dst-address (expected ADDRESS,"
	    " ADDRESS-ADDRESS or ADDRESS/PREFIX)", "reversed range");
	load_err("/ip proxy access\nadd dst-address=10.0.0.1-::1\n",
	    "t.conf:2:17: invalid address \"10.0.0.1-::1\" for dst-address (expected ADDRESS,"
	    " ADDRESS-ADDRESS or ADDRESS/PREFIX)", "mixed families");
	load_err("/ip proxy access\nadd dst-port=90-80\n",
	    "t.conf:2:14: invalid port range \"90-80\" for dst-port (expected a list of PORT or"
	    " PORT-PORT, 0-65535, such as 80,8080-8090)", "bad port range");
	load_err("/ip proxy access\nadd local-port=70000\n",
	    "t.conf:2:16: invalid port range \"70000\" for local-port (expected a list of PORT or"
	    " PORT-PORT, 0-65535, such as 80,8080-8090)", "port out of range");
	load_err("/ip proxy access\nadd dst-port=80,\n",
	    "t.conf:2:14: invalid port range \"80,\" for dst-port (expected a list of PORT or"
	    " PORT-PORT, 0-65535, such as 80,8080-8090)", "empty list element");
	load_err("/ip proxy access\nadd method=g@t\n",
	    "t.conf:2:12: invalid method \"g@t\" (expected a list of methods such as get,head"
	    " or any)", "bad method");
	load_err("/ip proxy access\nadd dst-host=!\n",
	    "t.conf:2:14: nothing after \"!\" in dst-host", "lone !");
	load_err("/ip proxy access\nadd action=deny redirect-to=\"http://a b/\"\n",
	    "t.conf:2:29: invalid redirect-to \"http://a b/\" (expected a URL without blanks or"
	    " control characters)", "redirect-to with a blank");

	/* every error is reported, not only the first */
	struct vd_conf *c = load("/ip proxy access\nadd dst-host=:(\n/ip proxy cache\n"
	    "add src-address=x\n");
	ok(c == NULL && d.nerr == 2, "two errors in two lists, both reported");
	conf_free(c);
}

/* access: index of the deciding rule, and the linear walk must agree */
static int
aidx(const struct vd_conf *c, const char *host, const char *path, const char *src,
    uint16_t port)
{
	struct rules_req q = rq("GET", host, port, path, src, "192.0.2.1");
	struct rules_result r, lr;

	rules_peek(rs_of(c), RULES_ACCESS, &q, &r);
	rules_peek_linear(rs_of(c), RULES_ACCESS, &q, &lr);
	if (r.index != lr.index || r.verdict != lr.verdict)
		note("index and linear walk disagree on %s%s: %d vs %d", host, path,
		    r.index, lr.index);
	return r.index != lr.index ? -99 : r.index;
}

static void
test_index(void)
{
	struct vd_conf *c = load("/ip proxy access\n"
	    "add dst-host=:^www\\.a\\.test$ action=deny\n"		/* 0 regex, no label */
	    "add dst-host=www.a.test action=allow\n"			/* 1 exact */
	    "add dst-host=*.b.test action=allow\n"			/* 2 suffix */
	    "add dst-host=*b.test action=deny\n"			/* 3 suffix, no dot */
	    "add dst-host=x.c.test action=allow disabled=yes\n"		/* 4 disabled exact */
	    "add dst-host=!*.c.test path=/neg action=deny\n"		/* 5 negated */
	    "add dst-host=X.C.Test action=deny\n"			/* 6 upper-case exact */
	    "add dst-host=*.c.test action=allow\n"			/* 7 suffix after exact */
	    "add src-address=10.9.0.0/16 action=deny\n"		/* 8 prefix */
	    "add src-address=10.9.8.0/24 action=allow\n"		/* 9 longer prefix, later */
	    "add src-address=10.7.0.1-10.7.0.9 action=deny\n"		/* 10 range, not a prefix */
	    "add path=*.exe action=deny\n"				/* 11 path suffix */
	    "add dst-host=:\\.lbl\\.test$ action=deny\n"		/* 12 regex with a label */
	    "add path=:/seg/[0-9]+ action=deny\n"			/* 13 path regex with /seg/ */
	    "add dst-port=8443 action=deny\n"				/* 14 one port */
	    "add dst-host=*.d.test action=allow\n"			/* 15 suffix */
	    "add dst-host=*.e.d.test action=deny\n");			/* 16 longer suffix, later */

	ok(c != NULL, "index: the mixed list loads");
	is_int(aidx(c, "www.a.test", "/", "1.1.1.1", 80), 0,
	    "an earlier unindexed regex beats a later exact rule");
	is_int(aidx(c, "y.b.test", "/", "1.1.1.1", 80), 2, "*.b.test by the suffix index");
	is_int(aidx(c, "xb.test", "/", "1.1.1.1", 80), 3, "*b.test (no dot) still matches, unindexed");
	is_int(aidx(c, "b.test", "/", "1.1.1.1", 80), 3, "*.b.test needs the dot; *b.test takes it");
	is_int(aidx(c, "x.c.test", "/", "1.1.1.1", 80), 6,
	    "a disabled indexed rule is skipped; an upper-case pattern is folded");
	is_int(aidx(c, "X.c.TEST", "/", "1.1.1.1", 80), 6, "the request host is folded too");
	is_int(aidx(c, "q.c.test", "/", "1.1.1.1", 80), 7, "suffix after a non-matching exact");
	is_int(aidx(c, "zz.test", "/neg", "1.1.1.1", 80), 5, "a negated host (unindexed) matches");
	is_int(aidx(c, "y.c.test", "/neg", "1.1.1.1", 80), 7, "... and is excluded in order");
	is_int(aidx(c, "h.test", "/", "10.9.8.7", 80), 8, "the earlier, shorter prefix wins");
	is_int(aidx(c, "h.test", "/", "10.9.1.1", 80), 8, "/16 prefix");
	is_int(aidx(c, "h.test", "/", "::ffff:10.9.8.7", 80), 8, "v4-mapped client in a v4 prefix");
	is_int(aidx(c, "h.test", "/", "10.7.0.5", 80), 10, "a range that is no prefix");
	is_int(aidx(c, "h.test", "/", "10.7.0.10", 80), -1, "... and its end");
	is_int(aidx(c, "h.test", "/a/b.exe", "1.1.1.1", 80), 11, "path suffix index");
	is_int(aidx(c, "h.test", "/a/b.exe?x", "1.1.1.1", 80), -1, "path suffix is whole-string");
	is_int(aidx(c, "a.LBL.test", "/", "1.1.1.1", 80), 12, "host regex found by its label");
	is_int(aidx(c, "a.lbl.test.org", "/", "1.1.1.1", 80), -1, "... and still anchored by $");
	is_int(aidx(c, "h.test", "/x/seg/42", "1.1.1.1", 80), 13, "path regex found by its segment");
	is_int(aidx(c, "h.test", "/x/seg/", "1.1.1.1", 80), -1, "... and still a regex");
	is_int(aidx(c, "h.test", "/", "1.1.1.1", 8443), 14, "one-port rule by the port index");
	is_int(aidx(c, "x.e.d.test", "/", "1.1.1.1", 80), 15, "the earlier of two suffixes wins");
	is_int(aidx(c, "h.test", "/", NULL, 80), -1, "no client address: no src rule");
	{
		char big[400];

		memset(big, 'a', sizeof(big) - 8);
		memcpy(big + sizeof(big) - 8, ".b.test", 8);
		is_int(aidx(c, big, "/", "1.1.1.1", 80), 2,
		    "a host too long to fold takes the plain walk and still matches");
	}
	conf_free(c);
}

/* Random lists of the forms the index treats differently, random requests:
 * the indexed answer is always the linear walk's. */
static const char *const rforms[] = {
	"dst-host=%s", "dst-host=*.%s", "dst-host=*%s", "dst-host=!%s", "dst-host=!*.%s",
	"dst-host=:\\.%s$", "dst-host=:^%s", "dst-host=%s*", "dst-host=?%s",
	"path=*.%s", "path=/%s/*", "path=:/%s/", "path=*/%s",
	"src-address=10.%d.0.0/16", "src-address=10.0.%d.0/24", "src-address=!10.%d.0.0/16",
	"src-address=10.0.0.%d-10.0.0.200", "src-address=2001:db8:%d::/48",
	"dst-port=%d", "dst-port=80,%d", "method=post", "",
	/* keyed by a trigram of their literals (IK_HGRAM, IK_PGRAM) */
	"dst-host=*%s*", "dst-host=*%s*.ab", "dst-host=?%s*", "dst-host=:%s[0-9]*$",
	"path=*%s*", "path=/*%s?", "path=:%s\\.x", "dst-host=!*%s*",
};
static const char *const rwords[] = { "a", "b", "ab", "ba", "x.a", "b.ab", "A", "exe", "a.b",
    "abc", "bab", "xab.a", "ABC" };

static unsigned
rnd(unsigned *st)
{
	*st = *st * 1103515245u + 12345u;
	return (*st >> 16) & 0x7fff;
}

static void
test_index_random(void)
{
	static const char *const hs[] = { "a", "b", "ab", "x.a", "y.x.a", "b.ab", "A.B.AB", "ba",
	    "q.a.b", "", "a.", ".a", "abc.ab", "xabc7", "babx.a", "ab.abc.x", "xXAB.a9",
	    "zbabab.ab" };
	static const char *const ps[] = { "/", "/a/x", "/x.exe", "/b/b/", "/ab/a.b", "/x/a",
	    "/a/", "/exe", "/abc/x", "/xbab.x", "/qabcq", "/ABC.x", "/bab" };
	static const char *const srcs[] = { "10.1.2.3", "10.0.1.9", "10.3.0.1", "10.0.0.150",
	    "2001:db8:1::5", "::ffff:10.2.0.1", "192.0.2.1", NULL };
	unsigned st = 12345;
	int bad = 0, n = 0;

	for (int round = 0; round < 200; round++) {
		char buf[8192];
		size_t len = (size_t)snprintf(buf, sizeof(buf), "/ip proxy access\n");
		int nr = 1 + (int)(rnd(&st) % 40);
		struct vd_conf *c;

		for (int i = 0; i < nr; i++) {
			char prop[64];
			const char *f = rforms[rnd(&st) % VD_ARRLEN(rforms)];

			if (strstr(f, "%d") != NULL)
				snprintf(prop, sizeof(prop), f, (int)(rnd(&st) % 4));
			else if (strstr(f, "%s") != NULL)
				snprintf(prop, sizeof(prop), f, rwords[rnd(&st) % VD_ARRLEN(rwords)]);
			else
				snprintf(prop, sizeof(prop), "%s", f);
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "add %s action=%s%s\n",
			    prop, rnd(&st) % 2 ? "deny" : "allow",
			    rnd(&st) % 8 == 0 ? " disabled=yes" : "");
		}
		if ((c = load(buf)) == NULL) {
			bad++;
			note("random list failed to load: %s", d.msg[0]);
			continue;
		}
		for (int j = 0; j < 60; j++, n++) {
			const char *m = rnd(&st) % 4 ? "GET" : "POST";
			uint16_t port = (uint16_t)(rnd(&st) % 3 == 0 ? 80 : rnd(&st) % 4);
			struct rules_req q = rq(m, hs[rnd(&st) % VD_ARRLEN(hs)], port,
			    ps[rnd(&st) % VD_ARRLEN(ps)], srcs[rnd(&st) % VD_ARRLEN(srcs)], NULL);
			struct rules_result r, lr;

			rules_peek(c->rules, RULES_ACCESS, &q, &r);
			rules_peek_linear(c->rules, RULES_ACCESS, &q, &lr);
			if (r.verdict != lr.verdict || r.index != lr.index) {
				if (bad++ < 5)
					note("differ: %.*s %.*s -> %d/%d vs %d/%d in\n%s",
					    (int)q.host.len, q.host.p, (int)q.path.len, q.path.p,
					    r.verdict, r.index, lr.verdict, lr.index, buf);
			}
		}
		conf_free(c);
	}
	is_int(bad, 0, "random lists: the index decides as the linear walk does");
	ok(n > 10000, "... over many requests");
}

static void
test_many(void)
{
	size_t cap = (RULES_MAX + 2) * 32, len = 0;
	char *buf = malloc(cap);
	struct vd_conf *c;

	len += (size_t)snprintf(buf + len, cap - len, "/ip proxy access\n");
	for (int i = 0; i < RULES_MAX; i++)
		len += (size_t)snprintf(buf + len, cap - len, "add dst-host=h%d.test\n", i);
	c = load(buf);
	ok(c != NULL && rules_count(c->rules, RULES_ACCESS) == RULES_MAX, "RULES_MAX rules load");
	conf_free(c);
	len += (size_t)snprintf(buf + len, cap - len, "add dst-host=one.too.many\n");
	c = load(buf);
	ok(c == NULL, "RULES_MAX + 1 rules do not");
	{
		char want[128];

		snprintf(want, sizeof(want), "t.conf:%d:1: too many rules in /ip proxy access"
		    " (at most %d)", RULES_MAX + 2, RULES_MAX);
		is_str(d.msg[0], want, "too many rules: the message");
	}
	conf_free(c);
	free(buf);
}

int
main(void)
{
	test_defaults();
	test_first_match();
	test_host();
	test_path();
	test_prefilter();
	test_negation();
	test_disabled();
	test_addresses();
	test_ports_methods();
	test_two_phase();
	test_lists();
	test_errors();
	test_index();
	test_index_random();
	test_many();
	return done_testing();
}
