/*
 * conn.h — client connections in a worker: what worker.c calls.
 *
 * The HTTP engine (conn.c, http_*.c, proxy.c, upstream.c) lives entirely
 * behind these five calls.  All run in a worker process, in its event loop,
 * never block, and keep their state in the connection table hung off
 * vd.role_state's worker (struct conn_table, allocated once at init).
 */
#ifndef VD_CONN_H
#define VD_CONN_H

#include <stddef.h>

struct ev_loop;
struct vd_conf;
struct conn_table;

/* Allocate the connection table (max-client-connections slots) and
 * everything the engine needs for the worker's life.  NULL on failure. */
struct conn_table	*conn_table_create(struct ev_loop *, const struct vd_conf *);
void			 conn_table_free(struct conn_table *);

/*
 * The listening socket `lfd` is readable: accept up to `max` connections
 * (non-blocking) and start serving them.  Returns VD_OK after `max`,
 * VD_DONE when the queue ran empty first, VD_AGAIN when the descriptor limit
 * was hit (the worker pauses accepting for a moment), VD_ERR on an
 * unexpected error.
 */
#define CONN_ACCEPT_BATCH	32
int			 conn_accept(struct conn_table *, int lfd, int max);

/*
 * A connection that no client made (cache_bg.c: background revalidation):
 * fd is one end of a socketpair; it is served like an accepted connection,
 * with the peer address and listener mode of `from`, and marked internal
 * (not counted as accepted nor as a client request).  fd is the table's in
 * every case (closed on failure).  VD_OK, VD_DECLINED table full or
 * shutting down, VD_ERR.
 */
struct conn;
int			 conn_internal(struct conn_table *, int fd, const struct conn *from);

/*
 * Graceful stop: no new requests on kept-alive connections, idle ones are
 * closed now, busy ones are closed when their current response is complete.
 */
void			 conn_shutdown(struct conn_table *);
/* Connections still open (the worker exits when this reaches 0 after shutdown). */
size_t			 conn_active(const struct conn_table *);
/* Connections accepted since the table was created (for the worker's
 * periodic re-arm of EPOLLEXCLUSIVE listeners) and the table's size. */
unsigned long		 conn_accepted(const struct conn_table *);
size_t			 conn_capacity(const struct conn_table *);
/* Fast stop: close everything now. */
void			 conn_close_all(struct conn_table *);

#endif
