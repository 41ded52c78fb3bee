/*
 * router.c — listener modes and the reverse-mode origin map (router.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "viaduct.h"
#include "conf.h"
#include "http_parse.h"
#include "parent.h"
#include "router.h"

#define ROUTER_MAX_PORTS	CONF_MAX_PORTS
#define ROUTER_MAX_ORIGINS	256

struct router_origin {
	char		 host[256];	/* as in Host, lower case, no port */
	char		 origin[256];	/* address or name, no brackets */
	uint16_t	 port;
};

struct router {
	uint16_t	 tports[ROUTER_MAX_PORTS], rports[ROUTER_MAX_PORTS];
	int		 ntports, nrports;
	struct router_origin *origins;
	int		 norigins;
	/* per worker like the router itself: which parents are marked down */
	struct parent_health parents;
};

static int
parse_ports(const char *s, uint16_t *ports, int *n, const char *name,
    char *err, size_t errlen)
{
	char *end;
	unsigned long v;

	*n = 0;
	while (s != NULL && *s != '\0') {
		v = strtoul(s, &end, 10);
		if (end == s || v < 1 || v > 65535 || (*end != ',' && *end != '\0') ||
		    *n == ROUTER_MAX_PORTS) {
			snprintf(err, errlen, "%s: expected a comma list of ports 1-65535", name);
			return VD_ERR;
		}
		ports[(*n)++] = (uint16_t)v;
		s = *end == ',' ? end + 1 : end;
	}
	return VD_OK;
}

/* One "host=origin:port" item of reverse-origins. */
static int
parse_origin(struct router_origin *o, const char *p, size_t len)
{
	const char *eq = memchr(p, '=', len);
	struct vd_str h;
	size_t hl;

	if (eq == NULL || eq == p || (hl = (size_t)(eq - p)) >= sizeof(o->host))
		return VD_ERR;
	for (size_t i = 0; i < hl; i++)
		o->host[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
	o->host[hl] = '\0';
	p = eq + 1;
	len -= hl + 1;
	if (http_parse_authority(p, len, 80, &h, &o->port) != VD_OK)
		return VD_ERR;
	if (h.len > 1 && h.p[0] == '[') {
		h.p++;
		h.len -= 2;
	}
	if (h.len == 0 || h.len >= sizeof(o->origin))
		return VD_ERR;
	memcpy(o->origin, h.p, h.len);
	o->origin[h.len] = '\0';
	return VD_OK;
}

static int
parse_origins(struct router *r, const char *s, char *err, size_t errlen)
{
	r->origins = calloc(ROUTER_MAX_ORIGINS, sizeof(*r->origins));
	if (r->origins == NULL) {
		snprintf(err, errlen, "out of memory");
		return VD_ERR;
	}
	while (s != NULL && *s != '\0') {
		const char *e = strchr(s, ',');
		size_t len = e != NULL ? (size_t)(e - s) : strlen(s);

		if (r->norigins == ROUTER_MAX_ORIGINS ||
		    parse_origin(&r->origins[r->norigins], s, len) != VD_OK) {
			snprintf(err, errlen, "reverse-origins: bad item \"%.*s\" (expected HOST=ORIGIN:PORT)",
			    (int)(len > 100 ? 100 : len), s);
			return VD_ERR;
		}
		r->norigins++;
		s = e != NULL ? e + 1 : s + len;
	}
	return VD_OK;
}

struct router *
router_create(const struct vd_conf *cf, char *err, size_t errlen)
{
	struct router *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (parse_ports(cf->transparent_ports, r->tports, &r->ntports,
	    "transparent-ports", err, errlen) != VD_OK ||
	    parse_ports(cf->reverse_ports, r->rports, &r->nrports,
	    "reverse-ports", err, errlen) != VD_OK ||
	    parse_origins(r, cf->reverse_origins, err, errlen) != VD_OK) {
		router_free(r);
		return NULL;
	}
	return r;
}

int
router_check(const char *prop, const char *value, char *err, size_t errlen)
{
	struct router *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return VD_ERR;
	}
	if (strcmp(prop, "reverse-origins") == 0)
		rc = parse_origins(r, value, err, errlen);
	else
		rc = parse_ports(value, r->tports, &r->ntports, prop, err, errlen);
	router_free(r);
	return rc;
}

struct parent_health *
router_parent_health(struct router *r)
{
	return &r->parents;
}

void
router_free(struct router *r)
{
	if (r == NULL)
		return;
	free(r->origins);
	free(r);
}

bool
router_has_modes(const struct router *r)
{
	return r->ntports > 0 || r->nrports > 0;
}

enum router_mode
router_mode(const struct router *r, uint16_t port)
{
	for (int i = 0; i < r->ntports; i++)
		if (r->tports[i] == port)
			return ROUTER_TRANSPARENT;
	for (int i = 0; i < r->nrports; i++)
		if (r->rports[i] == port)
			return ROUTER_REVERSE;
	return ROUTER_PROXY;
}

int
router_reverse(const struct router *r, struct vd_str host, const char **oh,
    uint16_t *op)
{
	for (int i = 0; i < r->norigins; i++) {
		const struct router_origin *o = &r->origins[i];

		if (strlen(o->host) == host.len &&
		    strncasecmp(o->host, host.p, host.len) == 0) {
			*oh = o->origin;
			*op = o->port;
			return VD_OK;
		}
	}
	return VD_DECLINED;
}

int
router_reverse_url(const struct router *r, const char *url, size_t len, const char **oh,
    uint16_t *op)
{
	const char *h = memmem(url, len, "://", 3), *e;

	if (h == NULL)
		return VD_DECLINED;
	/* an IPv6 literal keeps its brackets, as route() gives it */
	e = h += 3;
	if (*h == '[')
		while (e < url + len && *e++ != ']')
			;
	while (e < url + len && *e != ':' && *e != '/' && *e != '?')
		e++;
	return router_reverse(r, (struct vd_str){ h, (size_t)(e - h) }, oh, op);
}
