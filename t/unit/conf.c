/* t/unit/conf.c — the configuration parser: every property, unit, escape and
 * error message, through conf_load_buf(). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "viaduct.h"
#include "log.h"
#include "util.h"
#include "conf.h"
#include "conf_tbl.h"
#include "admin.h"
#include "tap.h"

#define NDIAG	32

struct diags {
	char	 msg[NDIAG][600];
	bool	 err[NDIAG];
	int	 n, nerr, nwarn;
};

static struct diags d;

static void
collect(void *arg, bool is_error, const char *msg)
{
	struct diags *dd = arg;

	if (dd->n < NDIAG) {
		snprintf(dd->msg[dd->n], sizeof(dd->msg[0]), "%s", msg);
		dd->err[dd->n] = is_error;
	}
	dd->n++;
	if (is_error)
		dd->nerr++;
	else
		dd->nwarn++;
}

static struct vd_conf *
load(const char *text)
{
	memset(&d, 0, sizeof(d));
	return conf_load_buf("t.conf", text, strlen(text), collect, &d);
}

static void
show_diags(void)
{
	for (int i = 0; i < d.n && i < NDIAG; i++)
		note("diag: %s", d.msg[i]);
}

/* Loads cleanly: no error, exactly `warns` warnings. */
static struct vd_conf *
load_ok(const char *text, int warns, const char *name)
{
	struct vd_conf *c = load(text);

	if (!ok(c != NULL && d.nerr == 0 && d.nwarn == warns, name))
		show_diags();
	return c;
}

/* Fails with exactly one diagnostic, `want`. */
static void
load_err(const char *text, const char *want, const char *name)
{
	struct vd_conf *c = load(text);

	ok(c == NULL, name);
	if (!ok(d.n == 1 && d.nerr == 1 && strcmp(d.msg[0], want) == 0, name)) {
		note("want: %s", want);
		show_diags();
	}
	conf_free(c);
}

static const char *
addr_str(const struct sockaddr_storage *ss, char *buf)
{
	return vd_sockaddr_fmt((const struct sockaddr *)ss, buf, VD_SOCKADDR_STRLEN);
}

static void
test_defaults(void)
{
	struct vd_conf *c = load_ok("", 0, "an empty file loads with every default");
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (c == NULL)
		return;
	is_int(c->enabled, 0, "enabled=no");
	is_int(c->src_address_len, 0, "src-address unset");
	is_int(c->nports, 1, "one port");
	is_int(c->ports[0], 8080, "port=8080");
	is_int(c->anonymous, 0, "anonymous=no");
	is_int(c->parent_proxy_len, 0, "parent-proxy=0.0.0.0 is unset");
	is_int(c->parent_proxy_port, 0, "parent-proxy-port=0");
	is_str(c->cache_administrator, "webmaster", "cache-administrator=webmaster");
	is_int(c->max_cache_size, CONF_SIZE_NONE, "max-cache-size=none");
	is_int(c->max_cache_object_size, 50000 * 1024LL, "max-cache-object-size=50000KiB");
	is_int(c->cache_on_disk, 0, "cache-on-disk=no");
	is_str(c->cache_path, "proxy-cache", "cache-path=proxy-cache");
	is_int(c->max_client_connections, 600, "max-client-connections=600");
	is_int(c->max_server_connections, 600, "max-server-connections=600");
	is_int(c->max_fresh_time, 3 * 86400, "max-fresh-time=3d");
	is_int(c->serialize_connections, 0, "serialize-connections=no");
	is_int(c->always_from_cache, 0, "always-from-cache=no");
	is_int(c->cache_hit_dscp, 4, "cache-hit-dscp=4");
	is_int(c->workers, ncpu < 1 ? 1 : ncpu > 64 ? 64 : ncpu, "workers=auto is the online CPUs");
	is_str(c->user, "", "user empty");
	is_str(c->group, "", "group empty");
	is_str(c->pid_file, RUNSTATEDIR "/viaduct.pid", "pid-file under RUNSTATEDIR");
	is_str(c->run_dir, RUNSTATEDIR "/viaduct", "run-dir under RUNSTATEDIR");
	is_str(c->error_log, LOCALSTATEDIR "/log/viaduct/error.log", "error-log under LOCALSTATEDIR");
	is_int(c->log_level, VD_LOG_NOTICE, "log-level=notice");
	is_str(c->access_log, LOCALSTATEDIR "/log/viaduct/access.log", "access-log under LOCALSTATEDIR");
	is_str(c->access_log_format, "squid", "access-log-format=squid");
	is_int(c->nlisten_address, 2, "listen-address=0.0.0.0,::");
	is_int(c->nlisten, 0, "no extra listeners");
	is_str(c->via_pseudonym, "", "via-pseudonym empty");
	is_int(c->shutdown_timeout, 30000, "shutdown-timeout=30s");
	is_int(c->request_header_timeout, 30000, "request-header-timeout=30s");
	is_int(c->keepalive_timeout, 75000, "keepalive-timeout=75s");
	is_int(c->connect_timeout, 10000, "connect-timeout=10s");
	is_int(c->response_timeout, 60000, "response-timeout=60s");
	is_int(c->idle_timeout, 60000, "idle-timeout=60s");
	is_int(c->max_request_line, 16384, "max-request-line=16KiB");
	is_int(c->max_header_size, 65536, "max-header-size=64KiB");
	is_int(c->max_headers, 128, "max-headers=128");
	is_str(c->file, "t.conf", "file name kept");
	is_int(c->access.nrules + c->cache.nrules + c->direct.nrules, 0, "no rules");
	conf_free(c);
}

/* Every property with a value other than its default: each loads without a
 * warning (every property is implemented). */
static const struct { const char *sec, *set; } nondefault[] = {
	{ "/ip proxy", "enabled=yes" },
	{ "/ip proxy", "src-address=192.0.2.1" },
	{ "/ip proxy", "port=3128,8080" },
	{ "/ip proxy", "anonymous=true" },
	/* each with the other: either alone warns that no parent is used */
	{ "/ip proxy", "parent-proxy=2001:db8::1 parent-proxy-port=3128" },
	{ "/ip proxy", "parent-proxy-port=3128 parent-proxy=2001:db8::1" },
	{ "/ip proxy", "cache-administrator=ops@example.net" },
	{ "/ip proxy", "max-cache-size=unlimited" },
	{ "/ip proxy", "max-cache-object-size=1024" },
	{ "/ip proxy", "cache-on-disk=yes" },
	{ "/ip proxy", "cache-path=/var/cache/viaduct" },
	{ "/ip proxy", "max-client-connections=1000" },
	{ "/ip proxy", "max-server-connections=2000" },
	{ "/ip proxy", "max-fresh-time=1w2d" },
	{ "/ip proxy", "serialize-connections=yes" },
	{ "/ip proxy", "always-from-cache=yes" },
	{ "/ip proxy", "cache-hit-dscp=63" },
	{ "/viaduct", "workers=3" },
	{ "/viaduct", "user=proxy" },
	{ "/viaduct", "group=proxy" },
	{ "/viaduct", "pid-file=var/viaduct.pid" },
	{ "/viaduct", "run-dir=var/run" },
	{ "/viaduct", "error-log=stderr" },
	{ "/viaduct", "log-level=debug" },
	{ "/viaduct", "access-log=none" },
	{ "/viaduct", "access-log-format=json" },
	{ "/viaduct", "listen-address=127.0.0.1,::1" },
	{ "/viaduct", "listen=[::1]:9090,127.0.0.2:81" },
	{ "/viaduct", "via-pseudonym=cache1" },
	{ "/viaduct", "shutdown-timeout=0" },
	{ "/viaduct", "request-header-timeout=5s" },
	{ "/viaduct", "keepalive-timeout=1m" },
	{ "/viaduct", "connect-timeout=250ms" },
	{ "/viaduct", "response-timeout=00:02:00" },
	{ "/viaduct", "idle-timeout=1h30m" },
	{ "/viaduct", "max-request-line=8KiB" },
	{ "/viaduct", "max-header-size=1MiB" },
	{ "/viaduct", "max-headers=64" },
	{ "/viaduct", "server-idle-timeout=15s" },
	{ "/viaduct", "max-idle-per-server=4" },
	{ "/viaduct", "max-request-body=100MiB" },
	{ "/viaduct", "connect-ports=443,8443" },
	{ "/viaduct", "tunnel-idle-timeout=1h" },
	/* each with a listener of its port: one without warns */
	{ "/viaduct", "transparent-ports=3129 listen=127.0.0.1:3129" },
	{ "/viaduct", "reverse-ports=80 listen=127.0.0.1:80" },
	{ "/viaduct", "reverse-origins=www.example.com=10.0.0.5:8080" },
	{ "/viaduct", "dns-servers=192.0.2.53" },
	{ "/viaduct", "parents=10.0.0.1:3128/2" },
	{ "/viaduct", "parent-hold-time=1m" },
	{ "/viaduct", "admin-address=::1" },
	{ "/viaduct", "admin-port=8081" },
	{ "/viaduct", "admin-allow=192.0.2.0/24" },
	{ "/viaduct", "syslog-socket=/run/log.sock" },
};

static void
check_nondefault(const struct vd_conf *c, const char *set)
{
	char a[VD_SOCKADDR_STRLEN], b[VD_SOCKADDR_STRLEN];

#define IS(cond) ok((cond), set)
	if (!strncmp(set, "enabled=", 8)) IS(c->enabled);
	else if (!strncmp(set, "src-address=", 12))
		IS(c->src_address_len == sizeof(struct sockaddr_in) &&
		    !strcmp(addr_str(&c->src_address, a), "192.0.2.1:0"));
	else if (!strncmp(set, "port=", 5))
		IS(c->nports == 2 && c->ports[0] == 3128 && c->ports[1] == 8080);
	else if (!strncmp(set, "anonymous=", 10)) IS(c->anonymous);
	else if (!strncmp(set, "parent-proxy=", 13))
		IS(c->parent_proxy_len == sizeof(struct sockaddr_in6) &&
		    !strcmp(addr_str(&c->parent_proxy, a), "[2001:db8::1]:0"));
	else if (!strncmp(set, "parent-proxy-port=", 18)) IS(c->parent_proxy_port == 3128);
	else if (!strncmp(set, "cache-administrator=", 20))
		IS(!strcmp(c->cache_administrator, "ops@example.net"));
	else if (!strncmp(set, "max-cache-size=", 15)) IS(c->max_cache_size == CONF_SIZE_UNLIMITED);
	else if (!strncmp(set, "max-cache-object-size=", 22))
		IS(c->max_cache_object_size == 1024 * 1024);
	else if (!strncmp(set, "cache-on-disk=", 14)) IS(c->cache_on_disk);
	else if (!strncmp(set, "cache-path=", 11)) IS(!strcmp(c->cache_path, "/var/cache/viaduct"));
	else if (!strncmp(set, "max-client-connections=", 23)) IS(c->max_client_connections == 1000);
	else if (!strncmp(set, "max-server-connections=", 23)) IS(c->max_server_connections == 2000);
	else if (!strncmp(set, "max-fresh-time=", 15)) IS(c->max_fresh_time == 9 * 86400);
	else if (!strncmp(set, "serialize-connections=", 22)) IS(c->serialize_connections);
	else if (!strncmp(set, "always-from-cache=", 18)) IS(c->always_from_cache);
	else if (!strncmp(set, "cache-hit-dscp=", 15)) IS(c->cache_hit_dscp == 63);
	else if (!strncmp(set, "workers=", 8)) IS(c->workers == 3);
	else if (!strncmp(set, "user=", 5)) IS(!strcmp(c->user, "proxy"));
	else if (!strncmp(set, "group=", 6)) IS(!strcmp(c->group, "proxy"));
	else if (!strncmp(set, "pid-file=", 9)) IS(!strcmp(c->pid_file, "var/viaduct.pid"));
	else if (!strncmp(set, "run-dir=", 8)) IS(!strcmp(c->run_dir, "var/run"));
	else if (!strncmp(set, "error-log=", 10)) IS(!strcmp(c->error_log, "stderr"));
	else if (!strncmp(set, "log-level=", 10)) IS(c->log_level == VD_LOG_DEBUG);
	else if (!strncmp(set, "access-log=", 11)) IS(!strcmp(c->access_log, "none"));
	else if (!strncmp(set, "access-log-format=", 18)) IS(!strcmp(c->access_log_format, "json"));
	else if (!strncmp(set, "listen-address=", 15))
		IS(c->nlisten_address == 2 &&
		    !strcmp(addr_str(&c->listen_address[0].addr, a), "127.0.0.1:0") &&
		    !strcmp(addr_str(&c->listen_address[1].addr, b), "[::1]:0"));
	else if (!strncmp(set, "listen=", 7))
		IS(c->nlisten == 2 &&
		    !strcmp(addr_str(&c->listen[0].addr, a), "[::1]:9090") &&
		    !strcmp(addr_str(&c->listen[1].addr, b), "127.0.0.2:81"));
	else if (!strncmp(set, "via-pseudonym=", 14)) IS(!strcmp(c->via_pseudonym, "cache1"));
	else if (!strncmp(set, "shutdown-timeout=", 17)) IS(c->shutdown_timeout == 0);
	else if (!strncmp(set, "request-header-timeout=", 23)) IS(c->request_header_timeout == 5000);
	else if (!strncmp(set, "keepalive-timeout=", 18)) IS(c->keepalive_timeout == 60000);
	else if (!strncmp(set, "connect-timeout=", 16)) IS(c->connect_timeout == 250);
	else if (!strncmp(set, "response-timeout=", 17)) IS(c->response_timeout == 120000);
	else if (!strncmp(set, "idle-timeout=", 13)) IS(c->idle_timeout == 5400000);
	else if (!strncmp(set, "max-request-line=", 17)) IS(c->max_request_line == 8192);
	else if (!strncmp(set, "max-header-size=", 16)) IS(c->max_header_size == 1048576);
	else if (!strncmp(set, "max-headers=", 12)) IS(c->max_headers == 64);
	else if (!strncmp(set, "server-idle-timeout=", 20)) IS(c->server_idle_timeout == 15000);
	else if (!strncmp(set, "max-idle-per-server=", 20)) IS(c->max_idle_per_server == 4);
	else if (!strncmp(set, "max-request-body=", 17)) IS(c->max_request_body == 104857600);
	else if (!strncmp(set, "connect-ports=", 14))
		IS(c->nconnect_ports == 2 && c->connect_ports[0] == 443 && c->connect_ports[1] == 8443);
	else if (!strncmp(set, "tunnel-idle-timeout=", 20)) IS(c->tunnel_idle_timeout == 3600000);
	else if (!strncmp(set, "transparent-ports=", 18)) IS(!strcmp(c->transparent_ports, "3129"));
	else if (!strncmp(set, "reverse-ports=", 14)) IS(!strcmp(c->reverse_ports, "80"));
	else if (!strncmp(set, "reverse-origins=", 16))
		IS(!strcmp(c->reverse_origins, "www.example.com=10.0.0.5:8080"));
	else if (!strncmp(set, "dns-servers=", 12)) IS(!strcmp(c->dns_servers, "192.0.2.53"));
	else if (!strncmp(set, "parents=", 8)) IS(!strcmp(c->parents, "10.0.0.1:3128/2"));
	else if (!strncmp(set, "parent-hold-time=", 17)) IS(c->parent_hold_time == 60000);
	else if (!strncmp(set, "admin-address=", 14))
		IS(c->nadmin_address == 1 && !strcmp(addr_str(&c->admin_address[0].addr, a), "[::1]:0"));
	else if (!strncmp(set, "admin-port=", 11)) IS(c->admin_port == 8081);
	else if (!strncmp(set, "admin-allow=", 12))
		IS(c->nadmin_allow == 1 && c->admin_allow[0].family == AF_INET &&
		    c->admin_allow[0].bits == 24 && c->admin_allow[0].addr[0] == 192);
	else if (!strncmp(set, "syslog-socket=", 14)) IS(!strcmp(c->syslog_socket, "/run/log.sock"));
	else
		ok(0, set);
#undef IS
}

static void
test_every_property(void)
{
	static const char *const names[] = {
#define CONF_PROP(n, s, t, mi, ma, dflt, f, a, doc)	n,
		CONF_PROPS
#undef CONF_PROP
	};
	char buf[256];

	for (size_t i = 0; i < VD_ARRLEN(nondefault); i++) {
		struct vd_conf *c;

		snprintf(buf, sizeof(buf), "%s\nset %s\n", nondefault[i].sec, nondefault[i].set);
		c = load_ok(buf, 0, "loads without a warning");
		if (c != NULL)
			check_nondefault(c, nondefault[i].set);
		conf_free(c);
	}
	/* the table and this test cover the same names */
	for (size_t i = 0; i < VD_ARRLEN(names); i++) {
		size_t j, n = strlen(names[i]);

		for (j = 0; j < VD_ARRLEN(nondefault); j++)
			if (!strncmp(nondefault[j].set, names[i], n) && nondefault[j].set[n] == '=')
				break;
		snprintf(buf, sizeof(buf), "property %s has a non-default case", names[i]);
		ok(j < VD_ARRLEN(nondefault), buf);
	}
	is_int(VD_ARRLEN(names), VD_ARRLEN(nondefault), "as many cases as properties");

	/* each default written out explicitly is accepted and warns about nothing */
	{
		static const char *const dflt_names[] = {
#define CONF_PROP(n, s, t, mi, ma, dflt, f, a, doc)	n "=\"" dflt "\"",
			CONF_PROPS
#undef CONF_PROP
		};
		static const int dflt_secs[] = {
#define CONF_PROP(n, s, t, mi, ma, dflt, f, a, doc)	s,
			CONF_PROPS
#undef CONF_PROP
		};
		for (size_t i = 0; i < VD_ARRLEN(dflt_names); i++) {
			struct vd_conf *c;

			snprintf(buf, sizeof(buf), "%s\nset %s\n",
			    dflt_secs[i] == CONF_SEC_PROXY ? "/ip proxy" : "/viaduct", dflt_names[i]);
			c = load_ok(buf, 0, dflt_names[i]);
			conf_free(c);
		}
	}
}

static void
test_units(void)
{
	static const struct { const char *set; size_t off; int64_t want; } cases[] = {
#define F(f)	offsetof(struct vd_conf, f)
		{ "/ip proxy\nset max-cache-size=100", F(max_cache_size), 102400 },
		{ "/ip proxy\nset max-cache-size=none", F(max_cache_size), CONF_SIZE_NONE },
		{ "/ip proxy\nset max-cache-size=unlimited", F(max_cache_size), CONF_SIZE_UNLIMITED },
		{ "/ip proxy\nset max-cache-size=2KiB", F(max_cache_size), 2048 },
		{ "/ip proxy\nset max-cache-size=3MiB", F(max_cache_size), 3LL << 20 },
		{ "/ip proxy\nset max-cache-size=4GiB", F(max_cache_size), 4LL << 30 },
		{ "/ip proxy\nset max-cache-size=1TiB", F(max_cache_size), 1LL << 40 },
		{ "/ip proxy\nset max-cache-object-size=50000KiB", F(max_cache_object_size), 51200000 },
		{ "/viaduct\nset max-request-line=300", F(max_request_line), 300 },
		{ "/viaduct\nset max-request-line=1MiB", F(max_request_line), 1 << 20 },
		{ "/ip proxy\nset max-fresh-time=3d", F(max_fresh_time), 259200 },
		{ "/ip proxy\nset max-fresh-time=1w", F(max_fresh_time), 604800 },
		{ "/ip proxy\nset max-fresh-time=1h30m", F(max_fresh_time), 5400 },
		{ "/ip proxy\nset max-fresh-time=45s", F(max_fresh_time), 45 },
		{ "/ip proxy\nset max-fresh-time=00:30:00", F(max_fresh_time), 1800 },
		{ "/ip proxy\nset max-fresh-time=1d00:30:00", F(max_fresh_time), 88200 },
		{ "/ip proxy\nset max-fresh-time=120", F(max_fresh_time), 120 },
		{ "/viaduct\nset connect-timeout=250ms", F(connect_timeout), 250 },
		{ "/viaduct\nset connect-timeout=1s500ms", F(connect_timeout), 1500 },
		{ "/viaduct\nset connect-timeout=00:00:01.5", F(connect_timeout), 1500 },
		{ "/viaduct\nset connect-timeout=01:02", F(connect_timeout), 3720000 },
		{ "/viaduct\nset connect-timeout=7", F(connect_timeout), 7000 },
#undef F
	};
	for (size_t i = 0; i < VD_ARRLEN(cases); i++) {
		struct vd_conf *c = load(cases[i].set);
		const char *name = strchr(cases[i].set, '=') + 1;

		if (!ok(c != NULL && d.nerr == 0, name))
			show_diags();
		if (c != NULL)
			is_int(*(int64_t *)((char *)c + cases[i].off), cases[i].want, name);
		conf_free(c);
	}
	{
		struct vd_conf *c = load("/ip proxy\nset enabled=true anonymous=false\n");

		ok(c != NULL && c->enabled && !c->anonymous, "true/false are booleans too");
		conf_free(c);
	}
}

static void
test_errors(void)
{
	static const struct { const char *text, *want, *name; } cases[] = {
		{ "/ip proxy\nset max-cache-sise=1\n",
		  "t.conf:2:5: unknown property \"max-cache-sise\" in /ip proxy (did you mean \"max-cache-size\"?)",
		  "unknown property, with a suggestion" },
		{ "/ip proxy\nset frobnicate=1\n",
		  "t.conf:2:5: unknown property \"frobnicate\" in /ip proxy",
		  "unknown property, nothing close" },
		{ "/ip proxy\nset workers=2\n",
		  "t.conf:2:5: unknown property \"workers\" in /ip proxy (it belongs in /viaduct)",
		  "property of the other section" },
		{ "/ip proxy\nset enabled=maybe\n",
		  "t.conf:2:13: invalid value \"maybe\" for enabled (expected yes or no)",
		  "bad boolean" },
		{ "/ip proxy\nset max-cache-size=100KB\n",
		  "t.conf:2:20: bad unit \"KB\" in \"100KB\" for max-cache-size (expected KiB, MiB, GiB or TiB)",
		  "bad size unit" },
		{ "/viaduct\nset connect-timeout=5x\n",
		  "t.conf:2:21: bad unit \"x\" in \"5x\" for connect-timeout (expected w, d, h, m, s or ms)",
		  "bad time unit" },
		{ "/viaduct\nset connect-timeout=soon\n",
		  "t.conf:2:21: invalid value \"soon\" for connect-timeout (expected a time such as 30s, 1h30m, 3d, 250ms or 00:30:00)",
		  "bad time" },
		{ "/ip proxy\nset max-fresh-time=1500ms\n",
		  "t.conf:2:20: max-fresh-time takes whole seconds, not \"1500ms\"",
		  "fraction of a second where seconds are stored" },
		{ "/ip proxy\nset cache-hit-dscp=64\n",
		  "t.conf:2:20: value \"64\" out of range for cache-hit-dscp (0..63)",
		  "integer out of range" },
		{ "/viaduct\nset max-request-line=2MiB\n",
		  "t.conf:2:22: value \"2MiB\" out of range for max-request-line (256..1MiB)",
		  "size out of range" },
		{ "/viaduct\nset connect-timeout=2d\n",
		  "t.conf:2:21: value \"2d\" out of range for connect-timeout (1ms..1d)",
		  "time out of range" },
		{ "/viaduct\nset workers=0\n",
		  "t.conf:2:13: value \"0\" out of range for workers (1..64)",
		  "workers out of range" },
		{ "/viaduct\nset workers=many\n",
		  "t.conf:2:13: invalid value \"many\" for workers (expected auto or a whole number)",
		  "workers not a number" },
		{ "/ip proxy\nset port=8080,0\n",
		  "t.conf:2:10: invalid port \"0\" in port (expected 1..65535)",
		  "port 0" },
		{ "/ip proxy\nset port=8080,8080\n",
		  "t.conf:2:10: \"8080\" appears twice in port",
		  "duplicate port" },
		{ "/ip proxy\nset port=\n",
		  "t.conf:2:10: invalid value \"\" for port (expected one or more ports, comma separated)",
		  "empty port list" },
		{ "/ip proxy\nset src-address=10.0.0.300\n",
		  "t.conf:2:17: invalid value \"10.0.0.300\" for src-address (expected an IPv4 or IPv6 address)",
		  "bad address" },
		{ "/viaduct\nset listen=127.0.0.1\n",
		  "t.conf:2:12: invalid listener \"127.0.0.1\" in listen (expected ADDR:PORT, [IPV6]:PORT)",
		  "listener without a port" },
		{ "/viaduct\nset listen=127.0.0.1:8001,[::1]:8002,127.0.0.1:8001\n",
		  "t.conf:2:12: \"127.0.0.1:8001\" appears twice in listen",
		  "duplicate listener (items are compared whole, padding zeroed)" },
		{ "/viaduct\nset listen-address=127.0.0.1,,::1\n",
		  "t.conf:2:20: invalid value \"127.0.0.1,,::1\" for listen-address (expected a comma list without empty items)",
		  "empty list item" },
		{ "/viaduct\nset log-level=loud\n",
		  "t.conf:2:15: invalid value \"loud\" for log-level (expected error, warn, notice, info or debug)",
		  "bad log level" },
		{ "/viaduct\nset access-log-format=apache\n",
		  "t.conf:2:23: invalid value \"apache\" for access-log-format (expected squid, common, combined or json)",
		  "bad log format" },
		{ "/viaduct\nset pid-file=\"\"\n",
		  "t.conf:2:14: pid-file must not be empty",
		  "empty path" },
		{ "/ip firewall nat\nadd chain=dstnat\n",
		  "t.conf:1:1: unknown section \"/ip firewall nat\" (expected /ip proxy, /ip proxy access, /ip proxy cache, /ip proxy direct or /viaduct)",
		  "unknown section, its lines ignored" },
		{ "/ip proxy access\nset action=deny\n",
		  "t.conf:2:1: \"set\" is not allowed in /ip proxy access (use \"add\")",
		  "set in a rule list" },
		{ "/ip proxy\n  add enabled=yes\n",
		  "t.conf:2:3: \"add\" is not allowed in /ip proxy (use \"set\")",
		  "add in /ip proxy" },
		{ "/ip proxy\nremove 0\n",
		  "t.conf:2:1: unknown command \"remove\" in /ip proxy (expected \"set\")",
		  "unknown command" },
		{ "/ip proxy\nenabled=yes\n",
		  "t.conf:2:1: missing command before \"enabled=yes\" (expected \"set\")",
		  "no command" },
		{ "set enabled=yes\n",
		  "t.conf:1:1: \"set\" before any section header (start with one such as /ip proxy)",
		  "no section" },
		{ "/ip proxy\nset enabled\n",
		  "t.conf:2:5: missing \"=\" after \"enabled\" (expected NAME=VALUE)",
		  "missing =" },
		{ "/ip proxy\nset cache-administrator=\"ops port=1\n",
		  "t.conf:2:25: unterminated quoted string (no closing '\"' on this line)",
		  "unterminated quote" },
		{ "/ip proxy\nset cache-administrator=\"a\\qb\"\n",
		  "t.conf:2:27: unknown escape \"\\q\" in a quoted value (expected one of \\\" \\\\ \\n \\t \\$ \\? \\_ \\a \\b \\f \\r \\v or \\XX hex)",
		  "unknown escape" },
		{ "/ip proxy\nset cache-administrator=\"a\\00b\"\n",
		  "t.conf:2:27: \"\\00\" (a NUL byte) is not allowed in a value",
		  "escaped NUL" },
		{ "/ip proxy access\nadd dst-hots=x action=deny\n",
		  "t.conf:2:5: unknown property \"dst-hots\" in /ip proxy access (did you mean \"dst-host\"?)",
		  "unknown rule property" },
		{ "/ip proxy cache\nadd redirect-to=http://x/ action=deny\n",
		  "t.conf:2:5: unknown property \"redirect-to\" in /ip proxy cache (it belongs in /ip proxy access)",
		  "redirect-to only in the access list" },
		{ "/ip proxy access\nadd action=block\n",
		  "t.conf:2:12: invalid value \"block\" for action (expected allow or deny)",
		  "bad action" },
		{ "/ip proxy direct\nadd disabled=perhaps\n",
		  "t.conf:2:14: invalid value \"perhaps\" for disabled (expected yes or no)",
		  "bad disabled" },
		{ "/ip proxy access\nadd path=a path=b\n",
		  "t.conf:2:12: path given twice in one rule",
		  "duplicate rule property" },
	};
	for (size_t i = 0; i < VD_ARRLEN(cases); i++)
		load_err(cases[i].text, cases[i].want, cases[i].name);
}

static void
test_lines(void)
{
	struct vd_conf *c;

	/* an error on a continuation line points at that physical line */
	c = load("/ip proxy\nset enabled=yes \\\n    port=8080 \\\n\tcache-hit-dscp=99\n");
	ok(c == NULL && d.n == 1, "continuation: one error");
	is_str(d.msg[0], "t.conf:4:17: value \"99\" out of range for cache-hit-dscp (0..63)",
	    "continuation: error at the physical line and column");

	/* RouterOS wraps exports inside words: leading blanks of the rest go */
	c = load_ok("/ip proxy\nset cache-admini\\\n    strator=\"long \\\n    name\" enabled=yes\n", 0,
	    "a word split by a continuation is joined");
	ok(c != NULL && !strcmp(c->cache_administrator, "long name") && c->enabled,
	    "joined word and quoted value across lines");
	conf_free(c);

	/* two backslashes are an escaped backslash, not a continuation */
	c = load_ok("/ip proxy\nset cache-administrator=\"a\\\\\"\nset enabled=yes\n", 0,
	    "escaped backslash at the end of a line");
	ok(c != NULL && !strcmp(c->cache_administrator, "a\\") && c->enabled,
	    "\\\\ at end of line does not continue");
	conf_free(c);

	/* comments, blank lines, CRLF, a comment ending in a backslash */
	c = load_ok("# jan/02/2026 by RouterOS 6.49.10\r\n# software id = ABCD-1234\r\n#\\\r\n"
	    "\r\n/ip proxy\r\nset enabled=yes # trailing comment\r\n   # indented comment\r\n"
	    "set port=81\r\n", 0, "comments, CRLF");
	ok(c != NULL && c->enabled && c->ports[0] == 81, "comments and CRLF are skipped");
	conf_free(c);

	/* errors on several lines are all reported, in order */
	c = load("/ip proxy\nset enabled=maybe\nset bogus=1\n/nowhere\nset x=1\n/viaduct\n"
	    "set workers=0 max-headers=1\n");
	ok(c == NULL, "several errors: no conf");
	is_int(d.nerr, 5, "several errors: all five reported");
	ok(d.n == 5 && !strncmp(d.msg[0], "t.conf:2:13:", 12) &&
	    !strncmp(d.msg[1], "t.conf:3:5:", 11) && !strncmp(d.msg[2], "t.conf:4:1:", 11) &&
	    !strncmp(d.msg[3], "t.conf:7:13:", 12) && !strncmp(d.msg[4], "t.conf:7:27:", 12),
	    "several errors: in file order with their positions");
	if (d.n != 5)
		show_diags();
}

static void
test_quoting(void)
{
	struct vd_conf *c;

	c = load_ok("/ip proxy\nset cache-administrator=\"q\\\"b\\\\s\\nn\\tt\\$d\\?q\\_s\\41\\C3\\A9\\a\\b\\f\\r\\v\"\n",
	    0, "every RouterOS escape");
	ok(c != NULL && !strcmp(c->cache_administrator, "q\"b\\s\nn\tt$d?q sA\xC3\xA9\a\b\f\r\v"),
	    "escapes decode");
	conf_free(c);

	c = load_ok("/ip proxy\nset cache-administrator=a\"b c\"d\n", 0, "quoted part inside a word");
	ok(c != NULL && !strcmp(c->cache_administrator, "ab cd"), "quoted and unquoted parts join");
	conf_free(c);

	c = load_ok("/ip proxy\nset cache-administrator=\"a=b # c\"\n", 0, "= and # inside quotes");
	ok(c != NULL && !strcmp(c->cache_administrator, "a=b # c"), "= and # are literal in quotes");
	conf_free(c);

	c = load_ok("/ip proxy access\nadd dst-host=:\\.bank\\.example$ action=deny "
	    "redirect-to=http://x/#top\n", 0, "unquoted backslashes are literal");
	ok(c != NULL && c->access.nrules == 1 && c->access.rules[0].nprops == 3 &&
	    !strcmp(c->access.rules[0].props[0].value, ":\\.bank\\.example$") &&
	    !strcmp(c->access.rules[0].props[2].value, "http://x/#top"),
	    "regex kept verbatim, # inside a word kept");
	conf_free(c);
}

static void
test_rules(void)
{
	struct vd_conf *c;
	const struct conf_rule *r;

	c = load("/ip proxy access\n"
	    "add action=deny comment=\"no social\" dst-host=www.facebook.com \\\n"
	    "    src-address=192.168.88.0/24\n"
	    "add action=deny disabled=yes dst-port=!80 path=*.mp3 redirect-to=http://intra/b.html\n"
	    "add\n"
	    "/ip proxy cache\nadd action=deny dst-host=*.bank.example\n"
	    "/ip/proxy/direct\nadd action=allow dst-host=*.lan dst-port=80,8080-8090 method=get\n");
	ok(c != NULL && d.nerr == 0, "rule lists load");
	if (c == NULL) {
		show_diags();
		return;
	}
	is_int(c->access.nrules, 3, "three access rules");
	is_int(c->cache.nrules, 1, "one cache rule");
	is_int(c->direct.nrules, 1, "one direct rule (v7 slash path)");
	r = &c->access.rules[0];
	is_int(r->line, 2, "rule line");
	is_int(r->nprops, 4, "rule props");
	is_str(r->props[1].name, "comment", "prop name");
	is_str(r->props[1].value, "no social", "quoted value unescaped");
	is_int(r->props[3].line, 3, "prop on a continuation line: its line");
	is_int(r->props[3].col, 17, "prop on a continuation line: its column");
	is_str(r->props[3].value, "192.168.88.0/24", "value verbatim");
	is_str(c->access.rules[1].props[2].value, "!80", "negation kept");
	is_int(c->access.rules[2].nprops, 0, "an empty add matches everything");
	is_str(c->direct.rules[0].props[2].value, "80,8080-8090", "port list kept");
	is_int(d.nwarn, 0, "rule lists are enforced: no warning");
	conf_free(c);
}

static void
test_sections(void)
{
	struct vd_conf *c;

	c = load_ok("/ip proxy set enabled=yes port=3128\n/ip proxy access add action=deny\n"
	    "/viaduct set workers=1\n", 0, "command on the section line");
	ok(c != NULL && c->enabled && c->ports[0] == 3128 && c->access.nrules == 1 &&
	    c->workers == 1, "one-line commands apply");
	conf_free(c);

	c = load_ok("/ip/proxy\nset enabled=yes\n", 0, "v7 slash path");
	ok(c != NULL && c->enabled, "/ip/proxy is /ip proxy");
	conf_free(c);

	/* an unknown section is reported once; its lines are not */
	c = load("/system identity\nset name=router\nset foo=bar\n/ip proxy\nset enabled=yes\n");
	ok(c == NULL && d.n == 1, "unknown section: one error, following lines skipped");

	/* every property is implemented: changing any of them warns of nothing */
	c = load_ok("/ip proxy\nset src-address=0.0.0.0 parent-proxy=:: max-cache-size=none "
	    "cache-on-disk=no max-fresh-time=72h\n", 0, "defaults written out: no warning");
	conf_free(c);
	c = load_ok("/ip proxy\nset serialize-connections=yes cache-hit-dscp=10\n", 0,
	    "changed from the default: no warning");
	ok(c != NULL && c->serialize_connections && c->cache_hit_dscp == 10,
	    "both values applied");
	conf_free(c);
}

static void
test_listeners(void)
{
	struct conf_listen l[CONF_MAX_LISTEN];
	char a[VD_SOCKADDR_STRLEN];
	struct vd_conf *c;
	int n;

	c = load_ok("/ip proxy\nset port=8080,3128\n", 0, "listeners: defaults");
	n = c ? conf_listeners(c, l, CONF_MAX_LISTEN) : 0;
	is_int(n, 4, "both wildcards x two ports");
	if (n == 4) {
		is_str(vd_sockaddr_fmt((struct sockaddr *)&l[0].addr, a, sizeof(a)), "0.0.0.0:8080", "first");
		is_str(vd_sockaddr_fmt((struct sockaddr *)&l[3].addr, a, sizeof(a)), "[::]:3128", "last");
	}
	conf_free(c);

	c = load_ok("/ip proxy\nset port=8080\n/viaduct\nset listen-address=127.0.0.1,::1 "
	    "listen=127.0.0.1:8080,[::1]:9000\n", 0, "listeners: addresses and extras");
	n = c ? conf_listeners(c, l, CONF_MAX_LISTEN) : 0;
	is_int(n, 3, "a listen= duplicate of a port socket is dropped");
	if (n == 3)
		is_str(vd_sockaddr_fmt((struct sockaddr *)&l[2].addr, a, sizeof(a)), "[::1]:9000", "extra");
	is_int(c ? conf_listeners(c, l, 2) : 0, 2, "at most max");
	conf_free(c);

	c = load_ok("/viaduct\nset listen-address=\"\"\n", 0, "empty listen-address");
	n = c ? conf_listeners(c, l, CONF_MAX_LISTEN) : 0;
	is_int(n, 2, "empty listen-address means both wildcards");
	conf_free(c);
}

static void
test_export(void)
{
	struct vd_conf *c;

	c = load("# nov/23/2026 10:00:00 by RouterOS 6.49.10\n"
	    "# software id = ABCD-1234\n#\n# model = RB3011UiAS\n# serial number = 0123456789AB\n"
	    "/ip proxy\n"
	    "set always-from-cache=yes cache-administrator=noc@example.net cache-on-disk=yes \\\n"
	    "    cache-path=usb1/proxy/cache enabled=yes max-cache-object-size=100000KiB \\\n"
	    "    max-cache-size=unlimited max-client-connections=1000 max-fresh-time=1w \\\n"
	    "    max-server-connections=1000 parent-proxy=0.0.0.0 port=8080,3128 src-address=::\n"
	    "/ip proxy access\n"
	    "add action=deny comment=\"block social\" dst-host=www.facebook.com src-address=\\\n"
	    "    192.168.88.0/24\n"
	    "add action=deny dst-host=\":\\\\.exe\\$\" redirect-to=intranet.example/blocked.html\n"
	    "/ip proxy cache\n"
	    "add action=deny dst-host=*.bank.example\n"
	    "/ip proxy direct\n"
	    "add action=allow disabled=yes dst-address=10.0.0.0/8\n");
	ok(c != NULL && d.nerr == 0, "a RouterOS v6 export loads");
	if (c == NULL) {
		show_diags();
		return;
	}
	ok(c->enabled && c->nports == 2 && c->max_cache_size == CONF_SIZE_UNLIMITED &&
	    c->max_fresh_time == 604800 && c->max_client_connections == 1000,
	    "export values applied");
	is_str(c->access.rules[1].props[1].value, ":\\.exe$", "export escapes decoded");
	is_str(c->access.rules[0].props[3].value, "192.168.88.0/24", "value wrapped after =");
	is_int(d.nwarn, 0, "no warnings: every property it sets is implemented");
	conf_free(c);
}

static void
test_file(void)
{
	struct vd_conf *c;

	memset(&d, 0, sizeof(d));
	c = conf_load("/nonexistent/viaduct.conf", collect, &d);
	ok(c == NULL && d.n == 1, "missing file: one error");
	is_str(d.msg[0], "/nonexistent/viaduct.conf: cannot open: No such file or directory",
	    "missing file message");
	memset(&d, 0, sizeof(d));
	c = conf_load("/", collect, &d);
	ok(c == NULL && d.n == 1 && strstr(d.msg[0], "/: cannot read: ") == d.msg[0],
	    "a directory is refused");
}

/* admin-allow prefixes: conf_prefix_match() decides the admin listener's 403. */
static bool
allowed(const struct vd_conf *c, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (vd_sockaddr_parse(addr, 0, &ss, &len) == -1)
		return false;
	return conf_prefix_match(c->admin_allow, c->nadmin_allow, (struct sockaddr *)&ss);
}

static void
test_admin(void)
{
	struct conf_listen l[CONF_MAX_LISTEN];
	char a[VD_SOCKADDR_STRLEN];
	struct vd_conf *c;
	int fac = -1;

	c = load_ok("/viaduct\n", 0, "admin: defaults");
	is_int(c ? conf_admin_listeners(c, l, CONF_MAX_LISTEN) : -1, 0, "admin-port=0: no listener");
	ok(c && allowed(c, "127.0.0.1") && allowed(c, "127.9.9.9") && allowed(c, "::1"),
	    "default admin-allow: loopback, both families");
	ok(c && !allowed(c, "10.0.0.1") && !allowed(c, "::2"), "default admin-allow: nothing else");
	ok(c && allowed(c, "::ffff:127.0.0.1"), "an IPv4-mapped loopback client is IPv4");
	conf_free(c);

	c = load_ok("/viaduct\nset admin-port=8081 admin-address=127.0.0.1,::1 "
	    "admin-allow=10.1.0.0/16,2001:db8::/33,192.0.2.7,172.16.0.0/12\n", 0, "admin: set");
	is_int(c ? conf_admin_listeners(c, l, CONF_MAX_LISTEN) : -1, 2, "one socket per address");
	is_str(c ? vd_sockaddr_fmt((struct sockaddr *)&l[1].addr, a, sizeof(a)) : "", "[::1]:8081",
	    "address x admin-port");
	ok(c && allowed(c, "10.1.255.255") && !allowed(c, "10.2.0.0"), "/16: the boundary");
	ok(c && allowed(c, "2001:db8:7fff::1") && !allowed(c, "2001:db8:8000::1"),
	    "/33: a bit inside a byte");
	ok(c && allowed(c, "192.0.2.7") && !allowed(c, "192.0.2.8"), "no bits: one address");
	ok(c && allowed(c, "172.31.255.255") && !allowed(c, "172.32.0.0"), "/12");
	conf_free(c);

	/* the proxy never connects to the admin listener, however its
	 * address is written: [::ffff:10.9.9.9] is 10.9.9.9 */
	c = load_ok("/viaduct\nset admin-port=8081 admin-address=10.9.9.9\n", 0,
	    "admin on a non-loopback address");
	{
		struct sockaddr_storage ss;
		socklen_t len;

		ok(c && vd_sockaddr_parse("10.9.9.9:8081", 0, &ss, &len) == 0 &&
		    admin_is_target(c, (struct sockaddr *)&ss), "10.9.9.9:8081 is the admin listener");
		ok(c && vd_sockaddr_parse("[::ffff:10.9.9.9]:8081", 0, &ss, &len) == 0 &&
		    admin_is_target(c, (struct sockaddr *)&ss), "... and so is [::ffff:10.9.9.9]:8081");
		ok(c && vd_sockaddr_parse("[::ffff:10.9.9.8]:8081", 0, &ss, &len) == 0 &&
		    !admin_is_target(c, (struct sockaddr *)&ss), "[::ffff:10.9.9.8]:8081 is not");
		ok(c && vd_sockaddr_parse("[::ffff:10.9.9.9]:8082", 0, &ss, &len) == 0 &&
		    !admin_is_target(c, (struct sockaddr *)&ss), "nor another port");
	}
	conf_free(c);

	/* written IPv4-mapped: the IPv4 prefix it names */
	c = load_ok("/viaduct\nset admin-port=1 admin-allow=::ffff:10.0.0.0/104\n", 0,
	    "admin-allow in IPv4-mapped form");
	ok(c && allowed(c, "10.2.3.4") && allowed(c, "::ffff:10.9.9.9") && !allowed(c, "11.0.0.1"),
	    "a mapped prefix matches IPv4 clients");
	conf_free(c);

	c = load_ok("/viaduct\nset admin-port=1 admin-allow=\"\"\n", 0, "empty admin-allow");
	ok(c && !allowed(c, "127.0.0.1"), "empty admin-allow: nobody");
	conf_free(c);
	c = load_ok("/viaduct\nset admin-port=1 admin-address=\"\"\n", 0, "empty admin-address");
	is_int(c ? conf_admin_listeners(c, l, CONF_MAX_LISTEN) : -1, 1, "empty admin-address: one");
	is_str(c ? vd_sockaddr_fmt((struct sockaddr *)&l[0].addr, a, sizeof(a)) : "",
	    "127.0.0.1:1", "... on loopback, never a wildcard");
	conf_free(c);

	load_err("/viaduct\nset admin-allow=10.0.0.1/8\n",
	    "t.conf:2:17: invalid prefix \"10.0.0.1/8\" in admin-allow (expected ADDR or "
	    "ADDR/BITS with no host bits set)", "host bits set");
	load_err("/ip proxy\nset port=3128\n/viaduct\nset admin-port=3128\n",
	    "t.conf:4:16: admin-port 3128 is also a port of the proxy (port, listen); "
	    "the admin listener needs its own", "admin-port = port");

	ok(conf_log_syslog("syslog", &fac) && fac == LOG_DAEMON, "syslog: daemon by default");
	ok(conf_log_syslog("syslog:local3", &fac) && fac == LOG_LOCAL3, "syslog:local3");
	ok(!conf_log_syslog("syslogd.log", NULL) && !conf_log_syslog("/var/log/x", NULL),
	    "a file is not syslog");
	c = load("/viaduct\nset access-log=syslog:kern\n");
	ok(c == NULL && d.nerr == 1 && strstr(d.msg[0], "t.conf:2:16: ") == d.msg[0],
	    "an unknown facility is an error at its column");
	conf_free(c);
}

int
main(void)
{
	test_defaults();
	test_every_property();
	test_units();
	test_errors();
	test_lines();
	test_quoting();
	test_rules();
	test_sections();
	test_listeners();
	test_export();
	test_file();
	test_admin();
	return done_testing();
}
