/*
 * master.h — the master process: supervises, never serves.
 *
 * master_run() takes ownership of `conf` (already loaded and checked by
 * main), opens the error log, takes the pid-file lock, creates the run
 * directory, the stats segment and the cache directory, binds the
 * listeners, drops privileges (privdrop_master), forks conf->workers
 * workers and then supervises them from one poll(2) on a signalfd:
 *
 *   HUP   reload: conf_load() the same file again; invalid -> logged
 *         (FILE:LINE:COL) and ignored; valid -> unchanged sockets kept,
 *         new ones bound, removed ones closed, a new worker generation
 *         forked; once each new worker's stats heartbeat has moved (it is
 *         in its loop, accepting; at most 2 s) the old generation is sent
 *         TERM to drain (KILL at its shutdown-timeout).
 *   TERM, INT   graceful stop: TERM to every worker, KILL after
 *         shutdown-timeout, exit 0.   QUIT  fast stop: QUIT to every worker.
 *   USR1  reopen the error log, create/reopen the access log, USR1 workers.
 *   CHLD  reap all; respawn a crashed worker (same id, same generation,
 *         same stats slot, counters folded into `retired`) after a growing
 *         delay (0, 100 ms, 200 ms ... 10 s; reset once it lived 60 s);
 *         exit status VD_EXIT_FATAL is never respawned.
 *
 * ready_fd (-1 in foreground): a byte is written to it once the master is
 * serving, then it is closed; the daemonizing parent in main.c waits for it.
 * Start-up failures call fatalx() (one line on stderr, exit 1).
 * Returns the process exit status.
 *
 * Test hook: with VIADUCT_TEST_CHILD_ABORT=1 in the environment, every
 * forked worker calls abort() (without a core) before worker_main: the
 * crash-loop test uses it to check the respawn backoff.
 */
#ifndef VD_MASTER_H
#define VD_MASTER_H

#include <stdbool.h>

struct vd_conf;

#define MASTER_MAX_WORKERS	64
/* Slots in the stats segment: room for old generations draining during reloads. */
#define MASTER_SLOTS		(4 * MASTER_MAX_WORKERS)

int	master_run(struct vd_conf *conf, int ready_fd);

#endif
