/*
 * router.h — which way an origin-form request goes: the mode of the
 * listener it arrived on (by local port: transparent-ports, reverse-ports)
 * and, in reverse mode, the configured origin of its Host
 * (reverse-origins).  Absolute-form requests are explicit proxy requests on
 * every listener; CONNECT is a tunnel on every listener.
 *
 * router_create() parses the two port lists and the origin map of the conf
 * once per worker (the conf holds them as text); nothing here does I/O.
 */
#ifndef VD_ROUTER_H
#define VD_ROUTER_H

#include <stdint.h>

#include "viaduct.h"

struct vd_conf;
struct router;

enum router_mode {
	ROUTER_PROXY,		/* explicit proxy: absolute-form expected */
	ROUTER_TRANSPARENT,	/* origin-form: SO_ORIGINAL_DST, else Host */
	ROUTER_REVERSE,		/* origin-form: Host -> configured origin */
};

/* NULL on a malformed list; *err then says what (a static string or errbuf). */
struct router	*router_create(const struct vd_conf *, char *errbuf, size_t errlen);
/* Check one of the properties router_create() parses ("transparent-ports",
 * "reverse-ports", "reverse-origins"): VD_OK or VD_ERR with errbuf set. */
int		 router_check(const char *prop, const char *value, char *errbuf, size_t errlen);
void		 router_free(struct router *);
/* Does any listener serve other than explicit proxy? (skips getsockname) */
bool		 router_has_modes(const struct router *);
enum router_mode router_mode(const struct router *, uint16_t local_port);
/* The origin for a Host (its host part, no port): VD_OK or VD_DECLINED. */
int		 router_reverse(const struct router *, struct vd_str host,
		    const char **origin_host, uint16_t *origin_port);
/* The same for the host of an absolute URL as the cache key normalises it
 * ("http://host[:port]/..."). */
int		 router_reverse_url(const struct router *, const char *url, size_t len,
		    const char **origin_host, uint16_t *origin_port);

#endif
