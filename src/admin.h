/*
 * admin.h — the admin listener in a worker (issue 7): GET /metrics (the
 * statistics segment in Prometheus text exposition, prom.h) and PURGE of one
 * URL, on the worker's own event loop, apart from the proxy engine.
 *
 * Off unless admin-port is set; bound by the master like every listener
 * (admin-address, loopback by default; listen.c) and shared by the workers.
 * A worker tells its admin sockets from the proxy's by their bound address
 * (admin_is_listener), so the proxy port never reaches this code and this
 * code never proxies.
 *
 * Requests: strict HTTP/1.1 heads (http_parse.c), no bodies, keep-alive
 * and pipelining, one small fixed table of connections (ADMIN_MAX_CONNS;
 * beyond it a connection is closed at once).  Answers:
 *   client outside admin-allow                 403
 *   GET|HEAD /metrics                          200 text/plain; version=0.0.4
 *   PURGE http://host/path (absolute-form)     200 removed, 404 not cached
 *   other methods on /metrics, other methods
 *   with an absolute URL                       405 with Allow
 *   any other path                             404
 *   a malformed head                           the parser's 400, 414, 431,
 *                                              501 or 505 (and close)
 *   a request body                             400 (and close)
 * PURGE deletes the primary key of the normalised URL through the worker's
 * own cache store (a write transaction, as `viaductctl purge URL` does);
 * LMDB keeps what a reader is sending valid until its transaction ends.
 *
 * Workers only.  Nothing here blocks; every error is logged and answered.
 */
#ifndef VD_ADMIN_H
#define VD_ADMIN_H

#include <stdbool.h>

#define ADMIN_MAX_CONNS		16
#define ADMIN_HEAD_MAX		8192	/* request head, bytes (431 beyond) */
#define ADMIN_LINE_MAX		4096	/* request line, bytes (414 beyond) */

struct admin;
struct conn_table;
struct ev_loop;
struct vd_conf;

/* Is the listening socket fd bound to one of conf's admin addresses? */
bool		 admin_is_listener(const struct vd_conf *, int fd);

/*
 * Would an upstream connection to sa reach the admin listener?  Its port on
 * a loopback or wildcard address, on one of admin-address, or on any address
 * when admin-address holds a wildcard.  The proxy refuses such a connection
 * (upstream.c): else a proxy client could fetch /metrics through the proxy,
 * which connects from loopback, inside admin-allow.
 */
struct sockaddr;
bool		 admin_is_target(const struct vd_conf *, const struct sockaddr *);

/* Start-up: the worker's admin state (maps the statistics segment
 * read-only).  t gives the cache store for PURGE.  NULL when out of memory. */
struct admin	*admin_create(struct ev_loop *, const struct vd_conf *, struct conn_table *t);

/* Accept on fd (an admin listener; the caller keeps owning it).  0 or -1. */
int		 admin_listen(struct admin *, int fd);

/* Drain: stop accepting (closes this worker's copies of the listeners) and
 * let open admin connections finish; admin_free() closes what is left. */
void		 admin_stop(struct admin *);
void		 admin_free(struct admin *);

#endif
