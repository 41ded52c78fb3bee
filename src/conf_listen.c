/*
 * conf_listen.c — what a loaded conf asks to listen on (conf_listeners,
 * conf_admin_listeners) and whom the admin listener answers
 * (conf_prefix_match); conf.h declares them.  Read-only on the conf, no
 * allocation: the master calls these at every load and the admin listener
 * on every connection.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "viaduct.h"
#include "conf.h"
#include "conf_value.h"

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
		conf_addr_parse("127.0.0.1", &lo);
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
		conf_addr_parse("0.0.0.0", &wild[0]);
		conf_addr_parse("::", &wild[1]);
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
