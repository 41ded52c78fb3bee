/*
 * parent.c — parent proxy arrays: parse, weighted rendezvous hashing,
 * failover order, down-marking.  See parent.h for the contract.
 *
 * Why rendezvous and not a CARP ring or a consistent-hash ring: with a
 * score per member and URL there is no ring to build or to rebalance, a
 * member's removal moves exactly its own URLs (each one's next member by
 * score is simply the runner-up), and failover order falls out of the same
 * sort.  Weighted as -w / ln(h) (Schindelhauer and Schomaker's logarithmic
 * method): with h uniform in (0,1), -ln(h)/w is exponential with rate w,
 * so the member with the smallest such value — the highest score — is i
 * with probability w_i / sum(w).  The cost, one XXH3 of the URL and one
 * logarithm per member, is nothing next to the connection that follows.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL		/* no link dependency (the fuzz targets link no libxxhash) */
#include <xxhash.h>

#include "viaduct.h"
#include "conf.h"
#include "parent.h"

/*
 * Natural logarithm of x in (0, 1], without libm (the daemon links none):
 * x = m * 2^e with m in [1, 2), ln x = e ln 2 + 2 atanh((m-1)/(m+1)); the
 * series in s = (m-1)/(m+1) < 1/3 is within 1e-15 after 16 terms.  Exact
 * to the last bits is not needed, only the same answer in every process,
 * which a fixed sequence of operations gives.
 */
static double
ln01(double x)
{
	static const double ln2 = 0.693147180559945309417232121458;
	double m = x, s, s2, t, sum = 0;
	int e = 0;

	while (m < 1.0) {
		m *= 2;
		e--;
	}
	s = (m - 1) / (m + 1);
	s2 = s * s;
	t = s;
	for (int k = 1; k < 32; k += 2) {
		sum += t / k;
		t *= s2;
	}
	return e * ln2 + 2 * sum;
}

double
parent_score(const struct parent_set *ps, int i, struct vd_str url)
{
	uint64_t x = XXH3_64bits_withSeed(url.p != NULL ? url.p : "", url.len, ps->p[i].id);
	/* the top 53 bits, centred in their interval: h in (0, 1), never 0 or 1 */
	double h = ((double)(x >> 11) + 0.5) * (1.0 / 9007199254740992.0);

	return (double)ps->p[i].weight / -ln01(h);
}

int
parent_order(const struct parent_set *ps, const struct parent_health *ph,
    struct vd_str url, int64_t now, int *order, int max)
{
	double score[PARENT_MAX];
	int idx[PARENT_MAX], n = 0;

	if (ps == NULL)
		return 0;
	for (int i = 0; i < ps->n; i++) {
		double sc;
		int j;

		if (ph != NULL && !parent_is_up(ph, i, now))
			continue;
		sc = parent_score(ps, i, url);
		/* insertion by decreasing score; a tie keeps configuration order */
		for (j = n; j > 0 && score[j - 1] < sc; j--) {
			score[j] = score[j - 1];
			idx[j] = idx[j - 1];
		}
		score[j] = sc;
		idx[j] = i;
		n++;
	}
	if (n > max)
		n = max;
	memcpy(order, idx, (size_t)n * sizeof(*order));
	return n;
}

int
parent_select(const struct parent_set *ps, const struct parent_health *ph,
    struct vd_str url, int64_t now)
{
	int first;

	return parent_order(ps, ph, url, now, &first, 1) == 1 ? first : -1;
}

void
parent_mark_down(const struct parent_set *ps, struct parent_health *ph, int i,
    int64_t now)
{
	if (i >= 0 && i < PARENT_MAX)
		ph->down_until[i] = now + (ps->hold_ms > 0 ? ps->hold_ms : 1);
}

void
parent_mark_up(struct parent_health *ph, int i)
{
	if (i >= 0 && i < PARENT_MAX)
		ph->down_until[i] = 0;
}

bool
parent_is_up(const struct parent_health *ph, int i, int64_t now)
{
	return ph->down_until[i] == 0 || now >= ph->down_until[i];
}

/* ---------------------------------------------------------------- parsing */

/* A member's canonical name and id, from its address (port included). */
static void
member_name(struct parent *p)
{
	char a[INET6_ADDRSTRLEN];
	uint16_t port;

	if (p->addr.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&p->addr;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		port = ntohs(sin->sin_port);
		snprintf(p->name, sizeof(p->name), "%s:%u", a, (unsigned)port);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&p->addr;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		port = ntohs(sin6->sin6_port);
		snprintf(p->name, sizeof(p->name), "[%s]:%u", a, (unsigned)port);
	}
	p->id = XXH3_64bits(p->name, strlen(p->name));
}

static int
member_add(struct parent_set *ps, const char *addr, uint16_t port, long weight,
    const char *item, char *err, size_t errlen)
{
	struct parent *p;

	if (ps->n == PARENT_MAX) {
		snprintf(err, errlen, "parents: more than %d parents", PARENT_MAX);
		return VD_ERR;
	}
	p = &ps->p[ps->n];
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&p->addr)->sin_addr) == 1) {
		p->addr.ss_family = AF_INET;
		((struct sockaddr_in *)&p->addr)->sin_port = htons(port);
		p->addrlen = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&p->addr)->sin6_addr) == 1) {
		p->addr.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&p->addr)->sin6_port = htons(port);
		p->addrlen = sizeof(struct sockaddr_in6);
	} else {
		snprintf(err, errlen, "parents: \"%s\": invalid address \"%s\" (expected"
		    " IPv4 or [IPv6])", item, addr);
		return VD_ERR;
	}
	p->weight = (uint32_t)weight;
	member_name(p);
	for (int i = 0; i < ps->n; i++)
		if (strcmp(ps->p[i].name, p->name) == 0) {
			snprintf(err, errlen, "parents: %s is listed twice", p->name);
			return VD_ERR;
		}
	ps->n++;
	return VD_OK;
}

/* One ADDR:PORT[/WEIGHT] or [ADDR6]:PORT[/WEIGHT] (NUL-terminated item). */
static int
member_parse(struct parent_set *ps, char *item, char *err, size_t errlen)
{
	char orig[128], *addr = item, *colon, *slash, *end;
	long port, weight = 1;

	snprintf(orig, sizeof(orig), "%s", item);
	if ((slash = strchr(item, '/')) != NULL) {
		*slash++ = '\0';
		weight = strtol(slash, &end, 10);
		if (*slash < '0' || *slash > '9' || *end != '\0' || weight < 1 ||
		    weight > PARENT_WEIGHT_MAX) {
			snprintf(err, errlen, "parents: \"%s\": weight must be 1..%d", orig,
			    PARENT_WEIGHT_MAX);
			return VD_ERR;
		}
	}
	if (item[0] == '[') {
		addr = item + 1;
		if ((colon = strchr(addr, ']')) == NULL || colon[1] != ':') {
			snprintf(err, errlen, "parents: \"%s\" needs [IPv6]:PORT", orig);
			return VD_ERR;
		}
		*colon++ = '\0';
	} else if ((colon = strrchr(item, ':')) == NULL || strchr(item, ':') != colon) {
		snprintf(err, errlen, "parents: \"%s\" needs ADDRESS:PORT (IPv6 in brackets)",
		    orig);
		return VD_ERR;
	}
	*colon++ = '\0';
	port = strtol(colon, &end, 10);
	if (*colon < '0' || *colon > '9' || *end != '\0' || port < 1 || port > 65535) {
		snprintf(err, errlen, "parents: \"%s\": port must be 1..65535", orig);
		return VD_ERR;
	}
	return member_add(ps, addr, (uint16_t)port, weight, orig, err, errlen);
}

static int
single_add(struct parent_set *ps, const struct sockaddr *sa, uint16_t port)
{
	struct parent *p = &ps->p[ps->n++];

	memset(p, 0, sizeof(*p));
	if (sa->sa_family == AF_INET) {
		memcpy(&p->addr, sa, sizeof(struct sockaddr_in));
		((struct sockaddr_in *)&p->addr)->sin_port = htons(port);
		p->addrlen = sizeof(struct sockaddr_in);
	} else {
		memcpy(&p->addr, sa, sizeof(struct sockaddr_in6));
		((struct sockaddr_in6 *)&p->addr)->sin6_port = htons(port);
		p->addrlen = sizeof(struct sockaddr_in6);
	}
	p->weight = 1;
	member_name(p);
	return VD_OK;
}

struct parent_set *
parent_set_new(const char *parents, const struct sockaddr *single, socklen_t single_len,
    uint16_t single_port, int64_t hold_ms, char *err, size_t errlen)
{
	struct parent_set *ps;
	char *copy = NULL, *item, *save = NULL;

	if ((ps = calloc(1, sizeof(*ps))) == NULL ||
	    (parents != NULL && (copy = strdup(parents)) == NULL)) {
		snprintf(err, errlen, "parents: out of memory");
		free(ps);
		return NULL;
	}
	ps->hold_ms = hold_ms;
	if (single != NULL && single_len > 0 && single_port != 0 &&
	    (single->sa_family == AF_INET || single->sa_family == AF_INET6))
		single_add(ps, single, single_port);
	for (item = copy != NULL ? strtok_r(copy, ",", &save) : NULL; item != NULL;
	    item = strtok_r(NULL, ",", &save))
		if (member_parse(ps, item, err, errlen) != VD_OK) {
			free(copy);
			free(ps);
			return NULL;
		}
	free(copy);
	return ps;
}

struct parent_set *
parent_set_from_conf(const struct vd_conf *c, char *err, size_t errlen)
{
	return parent_set_new(c->parents, (const struct sockaddr *)&c->parent_proxy,
	    c->parent_proxy_len, c->parent_proxy_port, c->parent_hold_time, err, errlen);
}

void
parent_set_free(struct parent_set *ps)
{
	free(ps);
}
