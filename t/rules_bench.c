/*
 * t/rules_bench.c — matcher micro-benchmark (not a test): N rules of mixed
 * forms (exact, *.suffix and prefix* hosts, `?` and *mid* wildcards, host
 * and path regexes, addresses, ports, methods), then as many access-list
 * evaluations as fit in S seconds on one core.  Most requests match none
 * of the rules: without the index each walks the whole list.
 *
 * The realistic mix (the default) is mostly exact and *.domain hosts,
 * client networks and extensions, with 6% regexes, mid-string wildcards and
 * port rules; `uniform` gives every form the same share (60% unindexable).
 *
 *   t/rules_bench [NRULES=10000] [SECONDS=2] [real|uniform]
 * prints the config load+compile time and matches per second.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "viaduct.h"
#include "conf.h"
#include "rules.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
diag(void *arg, bool is_error, const char *msg)
{
	(void)arg;
	if (is_error)
		fprintf(stderr, "%s\n", msg);
}

/* Rule i of the uniform mix: every form as often as any other, so that six
 * rules in ten (regexes, mid-string wildcards, ports) are not indexable. */
static int
rule_uniform(char *p, size_t n, int i)
{
	switch (i % 10) {
	case 0: return snprintf(p, n, "add dst-host=www.site%d.example action=deny\n", i);
	case 1: return snprintf(p, n, "add dst-host=*.ads%d.example action=deny\n", i);
	case 2: return snprintf(p, n, "add dst-host=tracker%d.* action=deny\n", i);
	case 3: return snprintf(p, n, "add path=*.ext%d action=deny\n", i);
	case 4: return snprintf(p, n, "add dst-host=w?w.q%d.example action=deny\n", i);
	case 5: return snprintf(p, n, "add dst-host=:^cdn[0-9]+\\.n%d\\.example$ action=deny\n", i);
	case 6: return snprintf(p, n, "add path=:/api/v%d/ action=deny\n", i);
	case 7: return snprintf(p, n, "add src-address=10.%d.%d.0/24 action=deny\n",
	    (i / 256) % 256, i % 256);
	case 8: return snprintf(p, n, "add dst-port=%d method=post action=deny\n", 10000 + i);
	default: return snprintf(p, n, "add dst-host=*mid%d*.example path=/x/* action=deny\n", i);
	}
}

/* Rule i of the realistic mix, per hundred: what operators write (block
 * lists of names and domains, client networks) and a few of the rest. */
static int
rule_real(char *p, size_t n, int i)
{
	int f = i % 100;

	if (f < 50)
		return snprintf(p, n, "add dst-host=www.site%d.example action=deny\n", i);
	if (f < 80)
		return snprintf(p, n, "add dst-host=*.ads%d.example action=deny\n", i);
	if (f < 90)
		return snprintf(p, n, "add src-address=10.%d.%d.0/24 action=deny\n",
		    (i / 256) % 256, i % 256);
	if (f < 94)
		return snprintf(p, n, "add path=*.ext%d action=deny\n", i);
	if (f < 96)
		return snprintf(p, n, "add dst-host=:^cdn[0-9]+\\.n%d\\.example$ action=deny\n", i);
	if (f < 97)
		return snprintf(p, n, "add path=:/api/v%d/ action=deny\n", i);
	if (f < 98)
		return snprintf(p, n, "add dst-host=w?w.q%d.example action=deny\n", i);
	if (f < 99)
		return snprintf(p, n, "add dst-port=%d method=post action=deny\n", 10000 + i);
	return snprintf(p, n, "add dst-host=*mid%d*.example path=/x/* action=deny\n", i);
}

int
main(int argc, char **argv)
{
	int nrules = argc > 1 ? atoi(argv[1]) : 10000;
	double secs = argc > 2 ? atof(argv[2]) : 2.0, t0, t1;
	bool uniform = argc > 3 && strcmp(argv[3], "uniform") == 0;
	size_t cap = (size_t)nrules * 96 + 64, len = 0;
	char *buf = malloc(cap);
	struct vd_conf *c;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	static const char *const hosts[] = { "www.example.com", "static.cdn.example.net",
	    "a.b.c.d.example.org", "WWW.Site7.Example", "localhost" };
	static const char *const paths[] = { "/", "/index.html", "/img/logo.png?v=3",
	    "/api/v2/users/42", "/very/long/path/to/some/resource/that/goes/on.js" };
	unsigned long n = 0, denied = 0;

	if (buf == NULL || nrules < 0 || nrules > RULES_MAX * 3)
		return 2;
	len += (size_t)snprintf(buf, cap, "/ip proxy access\n");
	for (int i = 0; i < nrules; i++) {
		if (i > 0 && i % RULES_MAX == 0)	/* a list holds RULES_MAX */
			len += (size_t)snprintf(buf + len, cap - len, "/ip proxy %s\n",
			    i / RULES_MAX == 1 ? "cache" : "direct");
		len += (size_t)(uniform ? rule_uniform : rule_real)(buf + len, cap - len, i);
	}
	t0 = now();
	c = conf_load_buf("bench", buf, len, diag, NULL);
	t1 = now();
	if (c == NULL)
		return 1;
	printf("rules: %d, %s mix (access list: %d)\n", nrules, uniform ? "uniform" : "realistic",
	    rules_count(c->rules, RULES_ACCESS));
	printf("load+compile: %.1f ms (%.2f us per rule)\n", (t1 - t0) * 1e3,
	    nrules ? (t1 - t0) * 1e6 / nrules : 0.0);
	inet_pton(AF_INET, "192.168.7.9", &sin.sin_addr);
	t0 = now();
	do {
		for (int k = 0; k < 64; k++, n++) {
			const char *h = hosts[n % VD_ARRLEN(hosts)];
			const char *p = paths[(n / 5) % VD_ARRLEN(paths)];
			struct rules_req q = { { "GET", 3 }, { h, strlen(h) }, { p, strlen(p) },
			    80, 8080, (struct sockaddr *)&sin, (struct sockaddr *)&sin, false };

			denied += rules_match(c->rules, RULES_ACCESS, &q, NULL) == RULES_DENY;
		}
		t1 = now();
	} while (t1 - t0 < secs);
	printf("matches: %lu in %.2f s = %.0f per second per core (%.2f us each), %lu denied\n",
	    n, t1 - t0, (double)n / (t1 - t0), (t1 - t0) * 1e6 / (double)n, denied);
	conf_free(c);
	free(buf);
	return 0;
}
