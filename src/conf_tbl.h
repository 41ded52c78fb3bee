/*
 * conf_tbl.h — every configuration property, once (X-macro).
 *
 * CONF_PROP(name, section, type, min, max, default, field, aux, doc)
 *
 *   name     the property as written in the file (RouterOS spelling)
 *   section  CONF_SEC_PROXY (/ip proxy) or CONF_SEC_VIADUCT (/viaduct)
 *   type     CONF_T_* (conf_value.c parses and compares by type)
 *   min,max  range in the field's own unit: a number for INT, U16 and
 *            WORKERS, bytes for SIZE, KSIZE and CACHESIZE, milliseconds for TIME_MS,
 *            seconds for TIME_S, length for STR; unused for the others
 *   default  the default as text, parsed by the same code as the file
 *   field    member of struct vd_conf that receives the value
 *   aux      its count or length companion (nports, *_len), else the field
 *   doc      one line, for viaductctl and as a reminder for the man page
 *
 * Every name here has an `.It Ic name` entry in man/viaduct.conf.5 and
 * t/15-man.t checks both directions.  The default text of paths uses the
 * configure-time directories.
 */
#ifndef VD_CONF_TBL_H
#define VD_CONF_TBL_H

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR	"/var"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/run"
#endif

#define CONF_KIB	1024LL
#define CONF_SEC	1000LL		/* TIME_MS fields count milliseconds */
#define CONF_DAY	86400LL

#define CONF_PROPS \
/* ---- /ip proxy: RouterOS names and defaults ---- */ \
CONF_PROP("enabled", CONF_SEC_PROXY, CONF_T_BOOL, 0, 1, "no", \
    enabled, enabled, "serve at all") \
CONF_PROP("src-address", CONF_SEC_PROXY, CONF_T_ADDR, 0, 0, "::", \
    src_address, src_address_len, "source address towards origins and parents") \
CONF_PROP("port", CONF_SEC_PROXY, CONF_T_PORTS, 1, 65535, "8080", \
    ports, nports, "TCP ports to listen on, comma list") \
CONF_PROP("anonymous", CONF_SEC_PROXY, CONF_T_BOOL, 0, 1, "no", \
    anonymous, anonymous, "hide the client (no Via, no X-Forwarded-For)") \
CONF_PROP("parent-proxy", CONF_SEC_PROXY, CONF_T_ADDR, 0, 0, "0.0.0.0", \
    parent_proxy, parent_proxy_len, "send every request through this proxy") \
CONF_PROP("parent-proxy-port", CONF_SEC_PROXY, CONF_T_U16, 0, 65535, "0", \
    parent_proxy_port, parent_proxy_port, "port of the parent proxy") \
CONF_PROP("cache-administrator", CONF_SEC_PROXY, CONF_T_STR, 0, 255, "webmaster", \
    cache_administrator, cache_administrator, "contact shown on error pages") \
CONF_PROP("max-cache-size", CONF_SEC_PROXY, CONF_T_CACHESIZE, 0, 4294967295LL * CONF_KIB, "none", \
    max_cache_size, max_cache_size, "cache size: none, unlimited or a size") \
CONF_PROP("max-cache-object-size", CONF_SEC_PROXY, CONF_T_KSIZE, 0, 4294967295LL * CONF_KIB, "50000KiB", \
    max_cache_object_size, max_cache_object_size, "largest object stored") \
CONF_PROP("cache-on-disk", CONF_SEC_PROXY, CONF_T_BOOL, 0, 1, "no", \
    cache_on_disk, cache_on_disk, "keep the cache on disk rather than in memory") \
CONF_PROP("cache-path", CONF_SEC_PROXY, CONF_T_STR, 1, 4095, "proxy-cache", \
    cache_path, cache_path, "directory of the cache") \
CONF_PROP("max-client-connections", CONF_SEC_PROXY, CONF_T_INT, 1, 1000000, "600", \
    max_client_connections, max_client_connections, "client connections at once") \
CONF_PROP("max-server-connections", CONF_SEC_PROXY, CONF_T_INT, 1, 1000000, "600", \
    max_server_connections, max_server_connections, "origin connections at once") \
CONF_PROP("max-fresh-time", CONF_SEC_PROXY, CONF_T_TIME_S, 0, 3650 * CONF_DAY, "3d", \
    max_fresh_time, max_fresh_time, "longest time an object is fresh") \
CONF_PROP("serialize-connections", CONF_SEC_PROXY, CONF_T_BOOL, 0, 1, "no", \
    serialize_connections, serialize_connections, "queue for a busy origin connection, not a new one") \
CONF_PROP("always-from-cache", CONF_SEC_PROXY, CONF_T_BOOL, 0, 1, "no", \
    always_from_cache, always_from_cache, "ignore client no-cache requests") \
CONF_PROP("cache-hit-dscp", CONF_SEC_PROXY, CONF_T_INT, 0, 63, "4", \
    cache_hit_dscp, cache_hit_dscp, "DSCP mark on cache hits") \
/* ---- /viaduct: viaduct's own ---- */ \
CONF_PROP("workers", CONF_SEC_VIADUCT, CONF_T_WORKERS, 1, 64, "auto", \
    workers, workers, "worker processes; auto = online CPUs") \
CONF_PROP("user", CONF_SEC_VIADUCT, CONF_T_STR, 0, 255, "", \
    user, user, "user the processes run as after start") \
CONF_PROP("group", CONF_SEC_VIADUCT, CONF_T_STR, 0, 255, "", \
    group, group, "group the processes run as after start") \
CONF_PROP("pid-file", CONF_SEC_VIADUCT, CONF_T_STR, 1, 4095, RUNSTATEDIR "/viaduct.pid", \
    pid_file, pid_file, "file holding the master's pid") \
CONF_PROP("run-dir", CONF_SEC_VIADUCT, CONF_T_STR, 1, 4095, RUNSTATEDIR "/viaduct", \
    run_dir, run_dir, "directory of the statistics segment") \
CONF_PROP("error-log", CONF_SEC_VIADUCT, CONF_T_STR, 1, 4095, LOCALSTATEDIR "/log/viaduct/error.log", \
    error_log, error_log, "error log file, or stderr") \
CONF_PROP("log-level", CONF_SEC_VIADUCT, CONF_T_LOGLEVEL, 0, 0, "notice", \
    log_level, log_level, "least severe level logged") \
CONF_PROP("access-log", CONF_SEC_VIADUCT, CONF_T_LOGTARGET, 1, 4095, LOCALSTATEDIR "/log/viaduct/access.log", \
    access_log, access_log, "access log file, none, or syslog[:FACILITY]") \
CONF_PROP("access-log-format", CONF_SEC_VIADUCT, CONF_T_LOGFMT, 0, 0, "squid", \
    access_log_format, access_log_format, "squid, common, combined or json") \
CONF_PROP("listen-address", CONF_SEC_VIADUCT, CONF_T_ADDRLIST, 0, CONF_MAX_LISTEN, "0.0.0.0,::", \
    listen_address, nlisten_address, "addresses the ports are bound on") \
CONF_PROP("listen", CONF_SEC_VIADUCT, CONF_T_LISTEN, 0, CONF_MAX_LISTEN, "", \
    listen, nlisten, "extra listeners ADDR:PORT, comma list") \
CONF_PROP("via-pseudonym", CONF_SEC_VIADUCT, CONF_T_PSEUDONYM, 0, 255, "", \
    via_pseudonym, via_pseudonym, "name in Via headers; empty = host name") \
CONF_PROP("shutdown-timeout", CONF_SEC_VIADUCT, CONF_T_TIME_MS, 0, CONF_DAY * CONF_SEC, "30s", \
    shutdown_timeout, shutdown_timeout, "drain time of a graceful stop or reload") \
CONF_PROP("request-header-timeout", CONF_SEC_VIADUCT, CONF_T_TIME_MS, 1, CONF_DAY * CONF_SEC, "30s", \
    request_header_timeout, request_header_timeout, "time to receive a request header") \
CONF_PROP("keepalive-timeout", CONF_SEC_VIADUCT, CONF_T_TIME_MS, 0, CONF_DAY * CONF_SEC, "75s", \
    keepalive_timeout, keepalive_timeout, "client idle time between requests") \
CONF_PROP("connect-timeout", CONF_SEC_VIADUCT, CONF_T_TIME_MS, 1, CONF_DAY * CONF_SEC, "10s", \
    connect_timeout, connect_timeout, "time to connect to an origin") \
CONF_PROP("response-timeout", CONF_SEC_VIADUCT, CONF_T_TIME_MS, 1, CONF_DAY * CONF_SEC, "60s", \
    response_timeout, response_timeout, "time to an origin's response header") \
CONF_PROP("idle-timeout", CONF_SEC_VIADUCT, CONF_T_TIME_MS, 1, CONF_DAY * CONF_SEC, "60s", \
    idle_timeout, idle_timeout, "body idle time either way") \
CONF_PROP("max-request-line", CONF_SEC_VIADUCT, CONF_T_SIZE, 256, 1024 * CONF_KIB, "16KiB", \
    max_request_line, max_request_line, "longest request line") \
CONF_PROP("max-header-size", CONF_SEC_VIADUCT, CONF_T_SIZE, 1024, 16 * 1024 * CONF_KIB, "64KiB", \
    max_header_size, max_header_size, "largest header block") \
CONF_PROP("max-headers", CONF_SEC_VIADUCT, CONF_T_INT, 8, 4096, "128", \
    max_headers, max_headers, "most header fields in one message") \
CONF_PROP("server-idle-timeout", CONF_SEC_VIADUCT, CONF_T_TIME_MS, 1, CONF_DAY * CONF_SEC, "60s", \
    server_idle_timeout, server_idle_timeout, "idle time of a pooled origin connection") \
CONF_PROP("max-idle-per-server", CONF_SEC_VIADUCT, CONF_T_INT, 0, 1000000, "64", \
    max_idle_per_server, max_idle_per_server, "idle pooled connections per origin and worker") \
CONF_PROP("max-request-body", CONF_SEC_VIADUCT, CONF_T_SIZE, 0, INT64_MAX, "0", \
    max_request_body, max_request_body, "largest request body (413 beyond); 0 = unlimited") \
CONF_PROP("connect-ports", CONF_SEC_VIADUCT, CONF_T_PORTS, 1, 65535, "443,563", \
    connect_ports, nconnect_ports, "ports CONNECT may tunnel to") \
CONF_PROP("tunnel-idle-timeout", CONF_SEC_VIADUCT, CONF_T_TIME_MS, 1, CONF_DAY * CONF_SEC, "10m", \
    tunnel_idle_timeout, tunnel_idle_timeout, "idle time of a CONNECT or Upgrade tunnel") \
CONF_PROP("parents", CONF_SEC_VIADUCT, CONF_T_PARENTS, 0, 4095, "", \
    parents, parents, "parent array ADDR:PORT[/WEIGHT], comma list (parent.h)") \
CONF_PROP("parent-hold-time", CONF_SEC_VIADUCT, CONF_T_TIME_MS, 1 * CONF_SEC, CONF_DAY * CONF_SEC, "30s", \
    parent_hold_time, parent_hold_time, "time a parent that failed stays marked down") \
CONF_PROP("transparent-ports", CONF_SEC_VIADUCT, CONF_T_ROUTES, 0, 255, "", \
    transparent_ports, transparent_ports, "local ports whose origin-form requests are transparent") \
CONF_PROP("reverse-ports", CONF_SEC_VIADUCT, CONF_T_ROUTES, 0, 255, "", \
    reverse_ports, reverse_ports, "local ports whose origin-form requests are reverse-proxied") \
CONF_PROP("reverse-origins", CONF_SEC_VIADUCT, CONF_T_ROUTES, 0, 4095, "", \
    reverse_origins, reverse_origins, "reverse mode: HOST=ORIGIN:PORT, comma list") \
CONF_PROP("dns-servers", CONF_SEC_VIADUCT, CONF_T_STR, 0, 1023, "", \
    dns_servers, dns_servers, "name servers ADDR[:PORT], comma list; empty = resolv.conf") \
CONF_PROP("admin-address", CONF_SEC_VIADUCT, CONF_T_ADDRLIST, 0, CONF_MAX_LISTEN, "127.0.0.1", \
    admin_address, nadmin_address, "addresses the admin listener is bound on") \
CONF_PROP("admin-port", CONF_SEC_VIADUCT, CONF_T_U16, 0, 65535, "0", \
    admin_port, admin_port, "port of the admin listener (/metrics, PURGE); 0 = off") \
CONF_PROP("admin-allow", CONF_SEC_VIADUCT, CONF_T_PREFIXES, 0, CONF_MAX_PREFIXES, "127.0.0.0/8,::1", \
    admin_allow, nadmin_allow, "clients the admin listener answers, ADDR[/BITS] comma list") \
CONF_PROP("syslog-socket", CONF_SEC_VIADUCT, CONF_T_STR, 1, 107, "/dev/log", \
    syslog_socket, syslog_socket, "unix datagram socket of access-log=syslog")

/*
 * The properties of an `add` line in the rule lists (RouterOS).  Only the
 * names (and action, disabled) are checked here; rules_compile.c compiles
 * the values.
 * CONF_RULE_PROP(name, in_access, in_cache, in_direct)
 */
#define CONF_RULE_PROPS \
CONF_RULE_PROP("src-address", 1, 1, 1) \
CONF_RULE_PROP("dst-address", 1, 1, 1) \
CONF_RULE_PROP("dst-host", 1, 1, 1) \
CONF_RULE_PROP("dst-port", 1, 1, 1) \
CONF_RULE_PROP("local-port", 1, 1, 1) \
CONF_RULE_PROP("path", 1, 1, 1) \
CONF_RULE_PROP("method", 1, 1, 1) \
CONF_RULE_PROP("action", 1, 1, 1) \
CONF_RULE_PROP("redirect-to", 1, 0, 0) \
CONF_RULE_PROP("comment", 1, 1, 1) \
CONF_RULE_PROP("disabled", 1, 1, 1)

#endif
