/* t/unit/router.c — listener modes and the reverse-origin map. */
#include "config.h"

#include <string.h>

#include "viaduct.h"
#include "conf.h"
#include "router.h"
#include "tap.h"

static struct router *
mk(const char *tp, const char *rp, const char *ro, char *err, size_t errlen)
{
	struct vd_conf cf;

	memset(&cf, 0, sizeof(cf));
	cf.transparent_ports = (char *)tp;
	cf.reverse_ports = (char *)rp;
	cf.reverse_origins = (char *)ro;
	return router_create(&cf, err, errlen);
}

int
main(void)
{
	char err[256];
	struct router *r;
	const char *oh = NULL;
	uint16_t op = 0;

	r = mk("", "", "", err, sizeof(err));
	ok(r != NULL && !router_has_modes(r), "empty lists: explicit proxy only");
	is_int(router_mode(r, 8080), ROUTER_PROXY, "any port is a proxy port");
	router_free(r);

	r = mk("3129,3130", "80", "www.example.com=10.0.0.5:8080,Other.Example=[2001:db8::1],n.example=origin.lan:81",
	    err, sizeof(err));
	ok(r != NULL && router_has_modes(r), "ports and origins parse");
	is_int(router_mode(r, 3130), ROUTER_TRANSPARENT, "transparent port");
	is_int(router_mode(r, 80), ROUTER_REVERSE, "reverse port");
	is_int(router_mode(r, 8080), ROUTER_PROXY, "other ports: proxy");
	ok(router_reverse(r, VD_STR("WWW.example.COM"), &oh, &op) == VD_OK && strcmp(oh, "10.0.0.5") == 0 &&
	    op == 8080, "host matched case-insensitively");
	ok(router_reverse(r, VD_STR("other.example"), &oh, &op) == VD_OK && strcmp(oh, "2001:db8::1") == 0 &&
	    op == 80, "IPv6 origin, default port 80, brackets removed");
	ok(router_reverse(r, VD_STR("n.example"), &oh, &op) == VD_OK && strcmp(oh, "origin.lan") == 0 &&
	    op == 81, "origin by name");
	ok(router_reverse(r, VD_STR("www.example.co"), &oh, &op) == VD_DECLINED, "a prefix is not a match");
	ok(router_reverse(r, VD_STR("unknown"), &oh, &op) == VD_DECLINED, "unknown host");
	router_free(r);

	ok(mk("0", "", "", err, sizeof(err)) == NULL && strstr(err, "transparent-ports") != NULL, "port 0 rejected");
	ok(mk("", "80,x", "", err, sizeof(err)) == NULL && strstr(err, "reverse-ports") != NULL, "junk port rejected");
	ok(mk("", "", "noequals", err, sizeof(err)) == NULL && strstr(err, "noequals") != NULL, "item without = rejected");
	ok(mk("", "", "a=b:99999", err, sizeof(err)) == NULL, "bad origin port rejected");
	ok(mk("", "", "=b:80", err, sizeof(err)) == NULL, "empty host rejected");
	return done_testing();
}
