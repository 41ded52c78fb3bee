/*
 * conf_diag.c — the conf module's messages (conf_diag.h), and the checks
 * that need the whole conf: the rule lists, the admin port, the parents.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct.h"
#include "conf.h"
#include "conf_parser.h"
#include "conf_diag.h"
#include "conf_prop.h"
#include "parent.h"
#include "rules.h"
#include "util.h"

const char *
conf_qt(char *buf, size_t size, const char *s)
{
	size_t o = 0, i;

	for (i = 0; s[i] != '\0' && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == CONF_QUOTE_MAX) {
			o += (size_t)snprintf(buf + o, size - o, "...");
			break;
		}
		if (c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, size - o, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\%02X", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

void
conf_report(struct parser *p, bool is_error, const char *msg)
{
	if (is_error)
		p->nerrors++;
	if (p->diag != NULL)
		p->diag(p->arg, is_error, msg);
	else
		fprintf(stderr, "%s\n", msg);
}

/* A message is one line: a control byte a value brought in (redirect-to
 * may hold an escaped CR LF) is shown as \XX, as conf_qt() shows it. */
static const char *
one_line(char *msg)
{
	static const char hex[] = "0123456789ABCDEF";
	char out[CONF_MSG_MAX];
	size_t o = 0;

	for (const char *s = msg; *s != '\0' && o + 4 < sizeof(out); s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f) {
			out[o++] = '\\';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	memcpy(msg, out, o + 1);
	return msg;
}

void
conf_diag(struct parser *p, bool is_error, struct pos at, const char *fmt, ...)
{
	char msg[CONF_MSG_MAX];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "%s:%d:%d: %s", p->name, at.line, at.col,
	    is_error ? "" : "warning: ");
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	conf_report(p, is_error, one_line(msg));
}

void
conf_nomem(struct parser *p, struct pos at)
{
	if (!p->oom)
		conf_error(p, at, "out of memory");
	p->oom = true;
}

static void
rules_diag(void *arg, int line, int col, const char *msg)
{
	struct parser *p = arg;

	conf_error(p, ((struct pos){ line, col }), "%s", msg);
}

static int
port_of(const struct conf_listen *l)
{
	return ntohs(l->addr.ss_family == AF_INET ?
	    ((const struct sockaddr_in *)&l->addr)->sin_port :
	    ((const struct sockaddr_in6 *)&l->addr)->sin6_port);
}

/*
 * The admin listener never shares a port with the proxy: one socket for
 * both would hand /metrics and PURGE to the proxy port's clients, and a
 * wildcard proxy socket would make the loopback bind fail anyway.
 */
static void
admin_check(struct parser *p)
{
	struct conf_listen px[CONF_MAX_PORTS * CONF_MAX_LISTEN + CONF_MAX_LISTEN];
	const struct prop *pr = conf_prop_find(CONF_SEC_VIADUCT, "admin-port");
	int n;

	if (p->conf->admin_port == 0)
		return;
	n = conf_listeners(p->conf, px, (int)VD_ARRLEN(px));
	for (int i = 0; i < n; i++)
		if (port_of(&px[i]) == p->conf->admin_port) {
			conf_error(p, p->set_at[pr - conf_props], "admin-port %u is also a port of "
			    "the proxy (port, listen); the admin listener needs its own",
			    (unsigned)p->conf->admin_port);
			return;
		}
}

/*
 * parent-proxy and parent-proxy-port only make a parent together (RouterOS
 * shows either alone in an export); one without the other is loaded, as a
 * router would, but the operator is told that no parent is used.
 */
static void
parent_check(struct parser *p)
{
	const struct prop *a = conf_prop_find(CONF_SEC_PROXY, "parent-proxy");
	const struct prop *pt = conf_prop_find(CONF_SEC_PROXY, "parent-proxy-port");
	bool has_addr = p->conf->parent_proxy_len > 0 &&
	    (p->conf->parent_proxy.ss_family == AF_INET ||
	    p->conf->parent_proxy.ss_family == AF_INET6);

	if (has_addr && p->conf->parent_proxy_port == 0)
		conf_warn(p, p->set_at[a - conf_props], "parent-proxy is set but "
		    "parent-proxy-port is 0: no parent is used until both are set");
	else if (!has_addr && p->conf->parent_proxy_port != 0)
		conf_warn(p, p->set_at[pt - conf_props], "parent-proxy-port is set but "
		    "parent-proxy is none: no parent is used until both are set");
}

/* dns-servers: each item an address, with a port or not (IPv6 with one in
 * brackets), as c-ares reads them: else the workers fail at start. */
static void
dns_check(struct parser *p)
{
	const struct prop *pr = conf_prop_find(CONF_SEC_VIADUCT, "dns-servers");
	const char *s = p->conf->dns_servers;
	struct sockaddr_storage ss;
	socklen_t len;
	char item[128], q[CONF_QBUF];

	for (const char *e; s != NULL && *s != '\0'; s = *e == ',' ? e + 1 : e) {
		size_t n = strcspn(s, ",");

		e = s + n;
		if (n == 0 || n >= sizeof(item))
			goto bad;
		memcpy(item, s, n);
		item[n] = '\0';
		if (vd_sockaddr_parse(item, 53, &ss, &len) != 0)
			goto bad;
		continue;
bad:
		memcpy(item, s, n < sizeof(item) ? n : sizeof(item) - 1);
		item[n < sizeof(item) ? n : sizeof(item) - 1] = '\0';
		conf_error(p, p->set_at[pr - conf_props], "dns-servers: bad item \"%s\" "
		    "(expected ADDRESS or ADDRESS:PORT, IPv6 with a port in brackets)",
		    conf_qt(q, sizeof(q), item));
		return;
	}
}

/* "80,8080" (already checked by its type) into ports[]; the count. */
static int
port_list(const char *s, uint16_t *ports, int max)
{
	int n = 0;

	for (char *e; s != NULL && *s != '\0' && n < max; s = *e == ',' ? e + 1 : e)
		ports[n++] = (uint16_t)strtoul(s, &e, 10);
	return n;
}

/*
 * transparent-ports and reverse-ports name listeners: a port in both is
 * ambiguous (an error); one that no listener has, or one named twice,
 * does nothing (a warning).
 */
static void
modes_check(struct parser *p)
{
	struct conf_listen px[CONF_MAX_PORTS * CONF_MAX_LISTEN + CONF_MAX_LISTEN];
	const struct prop *tp = conf_prop_find(CONF_SEC_VIADUCT, "transparent-ports");
	const struct prop *rp = conf_prop_find(CONF_SEC_VIADUCT, "reverse-ports");
	uint16_t t[64], r[64];
	int nt = port_list(p->conf->transparent_ports, t, 64);
	int nr = port_list(p->conf->reverse_ports, r, 64);
	int nl = conf_listeners(p->conf, px, (int)VD_ARRLEN(px));

	for (int k = 0; k < nt + nr; k++) {
		uint16_t port = k < nt ? t[k] : r[k - nt];
		const struct prop *pr = k < nt ? tp : rp;
		bool listened = false, again = false;

		for (int i = 0; i < nl && !listened; i++)
			listened = port_of(&px[i]) == port;
		for (int j = (k < nt ? 0 : nt); j < k; j++)
			again = again || (j < nt ? t[j] : r[j - nt]) == port;
		if (k >= nt)
			for (int j = 0; j < nt; j++)
				if (t[j] == port) {
					conf_error(p, p->set_at[rp - conf_props], "port %u is in both "
					    "transparent-ports and reverse-ports", (unsigned)port);
					return;
				}
		if (!listened)
			conf_warn(p, p->set_at[pr - conf_props], "%s: port %u is no listener "
			    "(port, listen): it does nothing", pr->name, (unsigned)port);
		else if (again)
			conf_warn(p, p->set_at[pr - conf_props], "%s: port %u is named twice",
			    pr->name, (unsigned)port);
	}
}

void
conf_check(struct parser *p)
{
	/* rules_compile.c checks what the lists' values mean (addresses, ports,
	 * patterns) and compiles them into the immutable conf */
	if (p->nerrors == 0 && !p->oom)
		p->conf->rules = rules_compile(p->conf, rules_diag, p);
	if (p->nerrors == 0 && !p->oom) {
		admin_check(p);
		parent_check(p);
		dns_check(p);
		modes_check(p);
	}
	/* the parent array too: built once here, shared by every worker */
	if (p->nerrors == 0 && !p->oom) {
		char err[CONF_MSG_MAX];

		const struct prop *pr = conf_prop_find(CONF_SEC_VIADUCT, "parents");

		if ((p->conf->parent_set = parent_set_from_conf(p->conf, err,
		    sizeof(err))) == NULL)
			conf_error(p, p->set_at[pr - conf_props], "%s", err);
	}
}
