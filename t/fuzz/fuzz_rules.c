/*
 * t/fuzz/fuzz_rules.c — libFuzzer target for the rule compiler and matcher.
 *
 * Input: rule-list text (any /ip proxy access|cache|direct lines), then a
 * NUL byte, then a request "METHOD HOST PORT PATH SRC [DST]" split on
 * blanks.  Invariants: conf_load_buf() with rules_compile() never crashes or
 * leaks; a loaded conf always has compiled rules; every verdict is one of
 * the three, its rule index is -1 or an enabled rule inside the list; a
 * request with dst never needs the address; with dst-less requests only
 * RULES_NEED_ADDR may differ from the with-dst answer; the indexed match
 * always decides as the plain linear walk does (rules_peek_linear).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct.h"
#include "conf.h"
#include "rules.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
quiet(void *arg, bool is_error, const char *msg)
{
	(void)arg;
	(void)is_error;
	(void)msg;
}

static const struct sockaddr *
addr(const char *s, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (s != NULL && inet_pton(AF_INET, s, &((struct sockaddr_in *)ss)->sin_addr) == 1)
		ss->ss_family = AF_INET;
	else if (s != NULL && inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
		ss->ss_family = AF_INET6;
	else
		return NULL;
	return (struct sockaddr *)ss;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t clen = nul ? (size_t)(nul - data) : size;
	char req[512], *f[6] = { "GET", "example.com", "80", "/", "10.0.0.1", NULL };
	struct sockaddr_storage src, dst;
	struct rules_result res, res2;
	struct rules_req q;
	struct vd_conf *c;
	int nf = 0;

	c = conf_load_buf("fuzz", (const char *)data, clen, quiet, NULL);
	if (c == NULL)
		return 0;
	if (c->rules == NULL)
		abort();
	if (nul != NULL) {
		size_t rl = size - clen - 1 < sizeof(req) - 1 ? size - clen - 1 : sizeof(req) - 1;
		char *save = NULL, *t;

		memcpy(req, nul + 1, rl);
		req[rl] = '\0';
		for (t = strtok_r(req, " ", &save); t != NULL && nf < 6;
		    t = strtok_r(NULL, " ", &save))
			f[nf++] = t;
	}
	q = (struct rules_req){ { f[0], strlen(f[0]) }, { f[1], strlen(f[1]) },
	    { f[3], strlen(f[3]) }, (uint16_t)atoi(f[2]), 8080, addr(f[4], &src), NULL, false };
	for (int l = 0; l < RULES_NLISTS; l++) {
		enum rules_verdict v = rules_match(c->rules, l, &q, &res);

		if (v != res.verdict || (v != RULES_ALLOW && v != RULES_DENY &&
		    v != RULES_NEED_ADDR))
			abort();
		if (res.index < -1 || res.index >= rules_count(c->rules, l))
			abort();
		if (rules_peek_linear(c->rules, l, &q, &res2) != v || res2.index != res.index)
			abort();
		if (v == RULES_NEED_ADDR && res.index != -1)
			abort();
		if ((q.dst = addr(f[5], &dst)) == NULL)
			q.dst = addr("192.0.2.1", &dst);
		if (rules_peek(c->rules, l, &q, &res2) == RULES_NEED_ADDR)
			abort();
		if (v != RULES_NEED_ADDR && (res2.verdict != v || res2.index != res.index))
			abort();
		q.dst = NULL;
	}
	conf_free(c);
	return 0;
}
