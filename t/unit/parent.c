/*
 * t/unit/parent.c — src/parent.c: the parents syntax, weighted rendezvous
 * hashing (stability, weighted shares, minimal movement on removal),
 * failover order and the hold time, all with the clock passed in.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct.h"
#include "conf.h"
#include "parent.h"
#include "tap.h"

#define NURL	100000

static struct vd_str
url(char *buf, size_t n, int i)
{
	int len = snprintf(buf, n, "http://www.site%d.example/obj/%d.jpg", i % 977, i);

	return (struct vd_str){ buf, (size_t)len };
}

static struct parent_set *
set(const char *spec)
{
	char err[256];
	struct parent_set *ps = parent_set_new(spec, NULL, 0, 0, 30000, err, sizeof(err));

	if (ps == NULL)
		note("parent_set_new(%s): %s", spec, err);
	return ps;
}

static void
err_is(const char *spec, const char *want, const char *name)
{
	char err[256] = "";
	struct parent_set *ps = parent_set_new(spec, NULL, 0, 0, 30000, err, sizeof(err));

	ok(ps == NULL, name);
	is_str(err, want, "... the message");
	parent_set_free(ps);
}

static void
test_parse(void)
{
	struct parent_set *ps = set("10.0.0.1:3128/2,10.0.0.2:8080,[2001:db8::3]:3128/1000");
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char err[256];

	ok(ps != NULL && ps->n == 3, "three parents parse");
	is_str(ps->p[0].name, "10.0.0.1:3128", "IPv4 member name");
	is_int(ps->p[0].weight, 2, "its weight");
	is_int(ps->p[1].weight, 1, "weight defaults to 1");
	is_int(ntohs(((struct sockaddr_in *)&ps->p[1].addr)->sin_port), 8080, "port in the sockaddr");
	is_str(ps->p[2].name, "[2001:db8::3]:3128", "IPv6 member in brackets");
	is_int(ps->p[2].addr.ss_family, AF_INET6, "... is AF_INET6");
	is_int(ps->hold_ms, 30000, "hold time kept");
	parent_set_free(ps);

	ps = set("");
	ok(ps != NULL && ps->n == 0, "empty: no parents");
	parent_set_free(ps);

	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	ps = parent_set_new("10.0.0.1:3128/3", (struct sockaddr *)&sin, sizeof(sin), 3128,
	    5000, err, sizeof(err));
	ok(ps != NULL && ps->n == 2, "RouterOS parent-proxy plus a list");
	is_str(ps->p[0].name, "192.0.2.1:3128", "the RouterOS parent comes first");
	is_int(ps->p[0].weight, 1, "... with weight 1");
	parent_set_free(ps);
	ps = parent_set_new(NULL, (struct sockaddr *)&sin, sizeof(sin), 0, 5000, err, sizeof(err));
	ok(ps != NULL && ps->n == 0, "parent-proxy-port=0: no RouterOS parent");
	parent_set_free(ps);
	ps = parent_set_new("192.0.2.1:3128", (struct sockaddr *)&sin, sizeof(sin), 3128, 5000,
	    err, sizeof(err));
	ok(ps == NULL, "the RouterOS parent listed again is a duplicate");
	parent_set_free(ps);

	err_is("10.0.0.1", "parents: \"10.0.0.1\" needs ADDRESS:PORT (IPv6 in brackets)",
	    "no port");
	err_is("2001:db8::1:3128", "parents: \"2001:db8::1:3128\" needs ADDRESS:PORT (IPv6 in"
	    " brackets)", "IPv6 without brackets");
	err_is("[2001:db8::1]3128", "parents: \"[2001:db8::1]3128\" needs [IPv6]:PORT",
	    "brackets without :PORT");
	err_is("10.0.0.1:0", "parents: \"10.0.0.1:0\": port must be 1..65535", "port 0");
	err_is("10.0.0.1:70000", "parents: \"10.0.0.1:70000\": port must be 1..65535",
	    "port too large");
	err_is("10.0.0.1:3128/0", "parents: \"10.0.0.1:3128/0\": weight must be 1..1000",
	    "weight 0");
	err_is("10.0.0.1:3128/x", "parents: \"10.0.0.1:3128/x\": weight must be 1..1000",
	    "weight not a number");
	err_is("proxy.example:3128", "parents: \"proxy.example:3128\": invalid address"
	    " \"proxy.example\" (expected IPv4 or [IPv6])", "names are not addresses");
	err_is("10.0.0.1:3128,10.0.0.1:3128/2", "parents: 10.0.0.1:3128 is listed twice",
	    "duplicate member");
	{
		char big[PARENT_MAX * 20 + 32];
		size_t len = 0;

		for (int i = 0; i <= PARENT_MAX; i++)
			len += (size_t)snprintf(big + len, sizeof(big) - len, "%s10.0.%d.1:3128",
			    i ? "," : "", i);
		err_is(big, "parents: more than 64 parents", "too many members");
	}
}

static void
quiet(void *arg, bool is_error, const char *msg)
{
	(void)arg;
	if (is_error)
		note("%s", msg);
}

static void
test_conf(void)
{
	static const char text[] = "/ip proxy\nset parent-proxy=192.0.2.9 parent-proxy-port=3128\n"
	    "/viaduct\nset parents=10.0.0.1:3128/2,10.0.0.2:3128 parent-hold-time=1m\n";
	struct vd_conf *c = conf_load_buf("t.conf", text, sizeof(text) - 1, quiet, NULL);
	struct parent_set *ps;
	char err[256];

	ok(c != NULL, "parents and parent-hold-time load");
	ps = c != NULL ? parent_set_from_conf(c, err, sizeof(err)) : NULL;
	ok(ps != NULL && ps->n == 3, "set from conf: RouterOS parent + two");
	if (ps != NULL) {
		is_str(ps->p[0].name, "192.0.2.9:3128", "parent-proxy first");
		is_str(ps->p[1].name, "10.0.0.1:3128", "then the list");
		is_int(ps->hold_ms, 60000, "parent-hold-time=1m");
	}
	parent_set_free(ps);
	conf_free(c);
	c = conf_load_buf("t.conf", "", 0, quiet, NULL);
	ps = c != NULL ? parent_set_from_conf(c, err, sizeof(err)) : NULL;
	ok(ps != NULL && ps->n == 0 && ps->hold_ms == 30000, "defaults: no parent, 30s hold");
	parent_set_free(ps);
	conf_free(c);
}

static void
test_stable(void)
{
	struct parent_set *a = set("10.0.0.1:3128,10.0.0.2:3128,10.0.0.3:3128/2");
	struct parent_set *b = set("10.0.0.3:3128/2,10.0.0.1:3128,10.0.0.2:3128");
	char buf[128];
	int same = 0, again = 0;

	for (int i = 0; i < 10000; i++) {
		struct vd_str u = url(buf, sizeof(buf), i);
		int pa = parent_select(a, NULL, u, 0);

		again += parent_select(a, NULL, u, 12345) == pa;
		same += strcmp(a->p[pa].name, b->p[parent_select(b, NULL, u, 0)].name) == 0;
	}
	is_int(again, 10000, "the same URL always goes to the same parent");
	is_int(same, 10000, "... whatever the order the parents are listed in");
	parent_set_free(a);
	parent_set_free(b);
}

/* Share of NURL URLs per member, as a fraction. */
static void
shares(const struct parent_set *ps, double *out)
{
	char buf[128];
	int cnt[PARENT_MAX] = { 0 };

	for (int i = 0; i < NURL; i++)
		cnt[parent_select(ps, NULL, url(buf, sizeof(buf), i), 0)]++;
	for (int i = 0; i < ps->n; i++)
		out[i] = (double)cnt[i] / NURL;
}

static void
test_weights(void)
{
	static const struct { const char *spec; double want[4]; } cases[] = {
		{ "10.0.0.1:3128,10.0.0.2:3128", { .5, .5 } },
		{ "10.0.0.1:3128,10.0.0.2:3128/3", { .25, .75 } },
		{ "10.0.0.1:3128/1,10.0.0.2:3128/2,10.0.0.3:3128/1", { .25, .5, .25 } },
		{ "10.0.0.1:3128/10,10.0.0.2:3128/1,10.0.0.3:3128/5,10.0.0.4:3128/4",
		    { .5, .05, .25, .2 } },
	};

	for (size_t k = 0; k < VD_ARRLEN(cases); k++) {
		struct parent_set *ps = set(cases[k].spec);
		double got[PARENT_MAX], worst = 0;
		char name[256];

		shares(ps, got);
		for (int i = 0; i < ps->n; i++) {
			double d = got[i] - cases[k].want[i];

			worst = d < 0 ? (-d > worst ? -d : worst) : (d > worst ? d : worst);
			note("%s: member %d share %.4f (want %.2f)", cases[k].spec, i, got[i],
			    cases[k].want[i]);
		}
		/* 100k draws: one standard deviation is at most 0.0016 */
		snprintf(name, sizeof(name), "weights %s: shares within 0.01 of w/sum(w)",
		    cases[k].spec);
		ok(worst < 0.01, name);
		parent_set_free(ps);
	}
}

static void
test_removal(void)
{
	struct parent_set *all = set("10.0.0.1:3128,10.0.0.2:3128/2,10.0.0.3:3128,10.0.0.4:3128");
	struct parent_set *less = set("10.0.0.1:3128,10.0.0.2:3128/2,10.0.0.4:3128");
	char buf[128];
	int kept = 0, stayers = 0, moved_ok = 0, movers = 0;

	/* member 2 of `all` (10.0.0.3) is the removed one */
	for (int i = 0; i < NURL; i++) {
		struct vd_str u = url(buf, sizeof(buf), i);
		int order[PARENT_MAX], n = parent_order(all, NULL, u, 0, order, PARENT_MAX);
		const char *now = less->p[parent_select(less, NULL, u, 0)].name;

		if (n != 4)
			break;
		if (order[0] != 2) {
			stayers++;
			kept += strcmp(all->p[order[0]].name, now) == 0;
		} else {
			movers++;
			moved_ok += strcmp(all->p[order[1]].name, now) == 0;
		}
	}
	is_int(kept, stayers, "removing a parent: every URL not on it keeps its parent");
	is_int(moved_ok, movers, "... and its URLs go to their runner-up");
	ok(movers > NURL / 6 && movers < NURL / 4, "... which were about its share (1/5)");
	parent_set_free(all);
	parent_set_free(less);
}

static void
test_failover(void)
{
	struct parent_set *ps = set("10.0.0.1:3128,10.0.0.2:3128,10.0.0.3:3128");
	struct parent_health h;
	struct vd_str u = VD_STR("http://example.com/a");
	int order[PARENT_MAX], o2[PARENT_MAX], n, n2, seen = 0;

	memset(&h, 0, sizeof(h));
	n = parent_order(ps, &h, u, 1000, order, PARENT_MAX);
	is_int(n, 3, "all live: three to try");
	for (int i = 0; i < n; i++)
		seen |= 1 << order[i];
	is_int(seen, 7, "each member once");
	ok(parent_score(ps, order[0], u) > parent_score(ps, order[1], u) &&
	    parent_score(ps, order[1], u) > parent_score(ps, order[2], u),
	    "in decreasing score");
	is_int(parent_select(ps, &h, u, 1000), order[0], "select is the first");
	is_int(parent_order(ps, &h, u, 1000, o2, 2), 2, "max bounds the order");
	ok(o2[0] == order[0] && o2[1] == order[1], "... keeping its head");

	parent_mark_down(ps, &h, order[0], 1000);
	ok(!parent_is_up(&h, order[0], 1000), "marked down");
	n2 = parent_order(ps, &h, u, 1000, o2, PARENT_MAX);
	ok(n2 == 2 && o2[0] == order[1] && o2[1] == order[2],
	    "failover: the next parent by score, then the one after");
	parent_mark_down(ps, &h, order[1], 1000);
	is_int(parent_select(ps, &h, u, 1000), order[2], "two down: the third");
	parent_mark_down(ps, &h, order[2], 1000);
	is_int(parent_order(ps, &h, u, 1000, o2, PARENT_MAX), 0, "all down: none (go direct)");
	is_int(parent_select(ps, &h, u, 1000), -1, "select: -1");
	parent_set_free(ps);
}

static void
test_hold(void)
{
	struct parent_set *ps = set("10.0.0.1:3128,10.0.0.2:3128");
	struct parent_health h;
	struct vd_str u = VD_STR("http://example.com/held");
	int first, other;

	memset(&h, 0, sizeof(h));
	first = parent_select(ps, &h, u, 0);
	other = 1 - first;
	parent_mark_down(ps, &h, first, 10000);
	is_int(parent_select(ps, &h, u, 10000), other, "down: its URL fails over");
	is_int(parent_select(ps, &h, u, 39999), other, "still down 1 ms before the hold ends");
	ok(!parent_is_up(&h, first, 39999), "parent_is_up agrees");
	is_int(parent_select(ps, &h, u, 40000), first, "hold over (30s): probed again");
	parent_mark_down(ps, &h, first, 40000);
	is_int(parent_select(ps, &h, u, 69999), other, "a failed probe: down for another hold");
	parent_mark_up(&h, first);
	is_int(parent_select(ps, &h, u, 40001), first, "a success: up at once");
	ok(parent_is_up(&h, other, 0), "the other was never down");
	parent_set_free(ps);
}

int
main(void)
{
	test_parse();
	test_conf();
	test_stable();
	test_weights();
	test_removal();
	test_failover();
	test_hold();
	return done_testing();
}
