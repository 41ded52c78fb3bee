/*
 * worker.h — a worker process: what the master calls after fork().
 *
 * worker_main() never returns.  It sets up its own signal mask and signalfd,
 * drops every capability (privdrop_worker), watches master_fd for EOF (the
 * master died: exit), serves the listening sockets with the HTTP engine
 * (conn.h) and bumps its stats slot's heartbeat every loop turn.
 * Signals: TERM/INT graceful drain (bounded by shutdown-timeout), QUIT fast
 * exit, USR1 reopen the error log, HUP ignored (the master reloads), URG
 * resume accepting, WINCH a fetch waited for moved (cache_collapse.h).
 * State at entry (master.c): HUP INT TERM QUIT USR1 USR2 CHLD URG WINCH are
 * still blocked, nothing is pending, SIGPIPE is ignored; the master's signalfd,
 * pid-file fd and the other workers' socketpair ends are closed;
 * vd.role/worker_id/generation/pid/conf/stats are set and slot->pid,
 * generation and started filled.  Call signals_setup() for a signalfd.
 * Exit status: VD_EXIT_OK after a drain, VD_EXIT_FATAL when it can never
 * work (the master must not respawn), VD_EXIT_CRASH otherwise.
 */
#ifndef VD_WORKER_H
#define VD_WORKER_H

#include "viaduct.h"

struct stats_slot;

struct worker_spec {
	int			 id;		/* 0 .. workers-1 */
	unsigned		 generation;
	const struct vd_conf	*conf;
	const int		*lfds;		/* listening sockets, non-blocking */
	int			 nlfds;
	int			 master_fd;	/* our end of a socketpair; EOF = master gone */
	int			 atime_fd;	/* hits' access times to the manager; -1 */
	struct stats_slot	*slot;		/* this worker's stats slot (already zeroed) */
	const struct stats_hdr	*stats;		/* the whole segment: the siblings' loads */
};

_Noreturn void	worker_main(const struct worker_spec *);

/* This worker's access log (accesslog.h), or NULL (not a worker, or none). */
struct accesslog;
struct accesslog *worker_accesslog(void);

#endif
