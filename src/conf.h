/*
 * conf.h — the configuration: RouterOS export syntax in, an immutable
 * struct vd_conf out.
 *
 * Syntax (viaduct.conf(5)): section headers `/ip proxy`, `/ip proxy access`,
 * `/ip proxy cache`, `/ip proxy direct` (RouterOS), `/viaduct` (viaduct's own
 * settings); `set prop=value ...` in /ip proxy and /viaduct, `add prop=value
 * ...` in the rule lists; `\` continues a line, `#` starts a comment, values
 * may be "quoted" with RouterOS escapes.
 *
 * Ownership: conf_load() returns a conf that owns all its memory; free it
 * with conf_free().  Once loaded it is never modified: a reload loads a new
 * one and a new worker generation is forked with it.
 *
 * Errors: every error is reported as "FILE:LINE:COL: message" through the
 * error callback (or to stderr) — all of them, not only the first.
 * No function here logs, exits or touches global state.
 *
 * Files: conf.c (statements, conf_load), conf_lex.c (lines and words),
 * conf_value.c (one parser per value type), conf_prop.c (the tables of
 * conf_tbl.h applied: defaults, set, add, conf_free), conf_diag.c
 * (messages, whole-conf checks), sharing the private conf_parser.h; and
 * conf_listen.c (conf_listeners, conf_admin_listeners, conf_prefix_match).
 */
#ifndef VD_CONF_H
#define VD_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONF_MAX_PORTS		16
#define CONF_MAX_LISTEN		32

/* max-cache-size / max-cache-object-size in bytes; these two are special. */
#define CONF_SIZE_NONE		0
#define CONF_SIZE_UNLIMITED	INT64_MAX

struct conf_listen {
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
};

/* An address prefix of admin-allow: ADDR[/BITS] (no bits: the whole address). */
#define CONF_MAX_PREFIXES	32
struct conf_prefix {
	int		 family;	/* AF_INET or AF_INET6 */
	int		 bits;		/* 0..32 or 0..128 */
	uint8_t		 addr[16];	/* network order; host bits zero */
};

/* Sections of the file; the first two hold `set` properties (conf_tbl.h). */
enum conf_section {
	CONF_SEC_PROXY,		/* /ip proxy */
	CONF_SEC_VIADUCT,	/* /viaduct */
	CONF_SEC_ACCESS,	/* /ip proxy access */
	CONF_SEC_CACHE,		/* /ip proxy cache */
	CONF_SEC_DIRECT,	/* /ip proxy direct */
};

/* Value types of the property table (conf_tbl.h); viaduct.conf(5) "UNITS". */
enum conf_type {
	CONF_T_BOOL,		/* yes|no|true|false -> bool */
	CONF_T_INT,		/* decimal -> int */
	CONF_T_U16,		/* decimal -> uint16_t */
	CONF_T_WORKERS,		/* auto|decimal -> int */
	CONF_T_SIZE,		/* N[KiB|MiB|GiB|TiB], bare N = bytes -> int64_t */
	CONF_T_KSIZE,		/* same, bare N = KiB (RouterOS) -> int64_t */
	CONF_T_CACHESIZE,	/* none|unlimited|KSIZE -> int64_t */
	CONF_T_TIME_S,		/* RouterOS time -> int64_t seconds */
	CONF_T_TIME_MS,		/* RouterOS time -> int64_t milliseconds */
	CONF_T_STR,		/* any text -> char * */
	CONF_T_PARENTS,		/* ADDR:PORT[/WEIGHT],... checked by parent.c -> char * */
	CONF_T_ROUTES,		/* a port list or origin map checked by router.c -> char * */
	CONF_T_LOGLEVEL,	/* error|warn|notice|info|debug -> int (VD_LOG_*) */
	CONF_T_LOGFMT,		/* squid|common|combined|json -> char * */
	CONF_T_ADDR,		/* IPv4|IPv6, 0.0.0.0 and :: = unset -> sockaddr + len */
	CONF_T_PORTS,		/* comma list of ports -> uint16_t[] + count */
	CONF_T_ADDRLIST,	/* comma list of addresses -> conf_listen[] + count */
	CONF_T_LISTEN,		/* comma list of ADDR:PORT -> conf_listen[] + count */
	CONF_T_PREFIXES,	/* comma list of ADDR[/BITS] -> conf_prefix[] + count */
	CONF_T_LOGTARGET,	/* a file, none or syslog[:FACILITY] -> char * */
	CONF_T_PSEUDONYM,	/* RFC 9110 token [":" port], or empty -> char * */
};

/* One `add` line of an /ip proxy access|cache|direct list, kept verbatim
 * as prop=value pairs for rules_compile.c (issue 5).  Names are checked
 * against RouterOS's rule properties, action is allow|deny, disabled a
 * boolean; everything else is unchecked text.  line/col locate the value
 * (a rule may span continuation lines) for rules_compile.c's messages. */
struct conf_rule_prop {
	char	*name;
	char	*value;
	int	 line;
	int	 col;
};
struct conf_rule {
	int			 line;	/* for errors and `viaductctl rules` */
	struct conf_rule_prop	*props;
	int			 nprops;
};
struct conf_rules {
	struct conf_rule	*rules;
	int			 nrules;
};

struct vd_conf {
	char		*file;			/* path it was loaded from */

	/* --- /ip proxy (RouterOS names and defaults) --- */
	bool		 enabled;		/* enabled=no */
	struct sockaddr_storage src_address;	/* src-address=:: (unset: AF_UNSPEC) */
	socklen_t	 src_address_len;	/* 0 when unset (:: or 0.0.0.0) */
	uint16_t	 ports[CONF_MAX_PORTS];	/* port=8080 (list) */
	int		 nports;
	bool		 anonymous;		/* anonymous=no */
	struct sockaddr_storage parent_proxy;	/* parent-proxy=0.0.0.0 (unset: AF_UNSPEC) */
	socklen_t	 parent_proxy_len;
	uint16_t	 parent_proxy_port;	/* parent-proxy-port=0 */
	char		*cache_administrator;	/* cache-administrator=webmaster */
	int64_t		 max_cache_size;	/* bytes; none -> CONF_SIZE_NONE; unlimited */
	int64_t		 max_cache_object_size;	/* bytes; 50000KiB */
	bool		 cache_on_disk;		/* cache-on-disk=no */
	char		*cache_path;		/* cache-path=proxy-cache */
	int		 max_client_connections;	/* 600 */
	int		 max_server_connections;	/* 600 */
	int64_t		 max_fresh_time;	/* seconds; 3d */
	bool		 serialize_connections;	/* no */
	bool		 always_from_cache;	/* no */
	int		 cache_hit_dscp;	/* 4, 0..63 */

	/* --- /viaduct (viaduct's own) --- */
	int		 workers;		/* workers=auto -> number of online cores */
	char		*user;			/* user=  (empty: stay as the starting user) */
	char		*group;			/* group= (empty: the user's primary group) */
	char		*pid_file;		/* pid-file=RUNSTATEDIR/viaduct.pid */
	char		*run_dir;		/* run-dir=RUNSTATEDIR/viaduct (stats segment) */
	char		*error_log;		/* error-log=LOCALSTATEDIR/log/viaduct/error.log; "stderr" */
	int		 log_level;		/* log-level=notice */
	char		*access_log;		/* access-log=LOCALSTATEDIR/log/viaduct/access.log; "none" */
	char		*access_log_format;	/* access-log-format=squid */
	struct conf_listen listen_address[CONF_MAX_LISTEN]; /* listen-address=0.0.0.0,:: (addresses for `port`, port 0 in addr; empty: 0.0.0.0 and ::) */
	int		 nlisten_address;
	struct conf_listen listen[CONF_MAX_LISTEN];	/* listen=ADDR:PORT,... extra listeners */
	int		 nlisten;
	char		*via_pseudonym;		/* via-pseudonym= (empty: host name) */
	int64_t		 shutdown_timeout;	/* ms; shutdown-timeout=30s: graceful stop/reload drain */
	int64_t		 request_header_timeout;	/* ms; 30s */
	int64_t		 keepalive_timeout;	/* ms; client idle between requests, 75s */
	int64_t		 connect_timeout;	/* ms; 10s */
	int64_t		 response_timeout;	/* ms; origin response header, 60s */
	int64_t		 idle_timeout;		/* ms; body idle either way, 60s */
	int64_t		 max_request_line;	/* bytes; 16KiB */
	int64_t		 max_header_size;	/* bytes; 64KiB */
	int		 max_headers;		/* count; 128 */
	int64_t		 server_idle_timeout;	/* ms; idle pooled origin connection, 60s */
	int		 max_idle_per_server;	/* pooled connections per origin; 16 */
	int64_t		 max_request_body;	/* bytes; 0 = unlimited */
	uint16_t	 connect_ports[CONF_MAX_PORTS];	/* connect-ports=443,563 */
	int		 nconnect_ports;
	int64_t		 tunnel_idle_timeout;	/* ms; CONNECT/Upgrade tunnel idle, 10m */
	char		*parents;		/* ADDR:PORT[/WEIGHT],... parent array (parent.h) */
	int64_t		 parent_hold_time;	/* ms; parent-hold-time=30s */
	struct parent_set *parent_set;		/* built from the three above at load (parent.h) */
	char		*transparent_ports;	/* local ports serving transparent mode, comma list */
	char		*reverse_ports;		/* local ports serving reverse mode, comma list */
	char		*reverse_origins;	/* HOST=ADDR:PORT,... for reverse mode */
	char		*dns_servers;		/* c-ares servers ADDR[:PORT],...; empty: resolv.conf */
	struct conf_listen admin_address[CONF_MAX_LISTEN]; /* admin-address=127.0.0.1 (port 0 in addr) */
	int		 nadmin_address;
	uint16_t	 admin_port;		/* admin-port=0: no admin listener */
	struct conf_prefix admin_allow[CONF_MAX_PREFIXES]; /* admin-allow=127.0.0.0/8,::1 */
	int		 nadmin_allow;
	char		*syslog_socket;		/* syslog-socket=/dev/log (access-log=syslog) */

	/* --- rule lists, verbatim (compiled by rules_compile.c) --- */
	struct conf_rules access;
	struct conf_rules cache;
	struct conf_rules direct;
	struct rules	*rules;		/* the three lists compiled (rules.h) */
};

/*
 * Called once per diagnostic, already formatted "FILE:LINE:COL: message"
 * (no newline).  is_error is false for warnings.
 */
typedef void conf_diag_cb(void *arg, bool is_error, const char *msg);

/*
 * Load and check FILE.  Returns a new conf, or NULL when there was at least
 * one error (every error has been passed to diag; diag NULL prints to stderr).
 * Also NULL when the file cannot be read: "FILE: cannot open: <strerror>".
 */
struct vd_conf	*conf_load(const char *file, conf_diag_cb *diag, void *arg);

/* Same, from a buffer (for tests and the fuzzer); `name` appears in messages. */
struct vd_conf	*conf_load_buf(const char *name, const char *buf, size_t len,
		    conf_diag_cb *diag, void *arg);

void		 conf_free(struct vd_conf *);

/* The number of `port` + `listen` sockets the conf asks for, expanded into
 * addrs (at most max); returns the count.  Every listen-address is paired
 * with every port (an empty listen-address means 0.0.0.0 and ::), then the
 * listen= entries follow; duplicates are dropped.  The wildcard pair needs
 * IPV6_V6ONLY on the :: socket to bind both. */
int		 conf_listeners(const struct vd_conf *, struct conf_listen *addrs, int max);

/* The admin listener's sockets (admin-address x admin-port) into addrs;
 * returns the count, 0 when admin-port=0 (the listener is off). */
int		 conf_admin_listeners(const struct vd_conf *, struct conf_listen *addrs, int max);

/* Is the address (AF_INET or AF_INET6 sockaddr) inside one of the prefixes?
 * A v4-mapped IPv6 address is matched as IPv4. */
bool		 conf_prefix_match(const struct conf_prefix *, int n, const struct sockaddr *);

/* access-log=syslog[:FACILITY]: true and *facility the syslog(3) facility
 * code (LOG_DAEMON without one; facility may be NULL); false for a file or
 * none, or an unknown facility (conf_load has rejected those). */
bool		 conf_log_syslog(const char *target, int *facility);

#endif
