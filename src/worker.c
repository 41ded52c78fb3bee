/*
 * worker.c — a worker process: its own signals, no privileges, the
 * listening sockets shared with its siblings, the HTTP engine, and the
 * drain on TERM.  See worker.h for the contract with the master.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "viaduct.h"
#include "accesslog.h"
#include "admin.h"
#include "cache_proxy.h"
#include "conf.h"
#include "conn.h"
#include "connstat.h"
#include "event.h"
#include "log.h"
#include "privdrop.h"
#include "signals.h"
#include "stats.h"
#include "worker.h"

#define WORKER_MAX_LISTEN	64
#define REARM_EVERY		16	/* accepts between listener re-arms (nginx) */
#define PAUSE_MS		50	/* accept pause when near capacity */
#define SHARE_PAUSE_MS		1	/* ... when only ahead of the siblings */

struct worker {
	struct ev_loop		 loop;
	struct conn_table	*t;
	struct ev_io		 lio[WORKER_MAX_LISTEN];
	int			 nl;
	bool			 listening;
	bool			 draining;
	unsigned long		 rearm_at;
	struct ev_timer		 pause;
	bool			 share_paused;	/* paused only for being ahead */
	int64_t			 kicked;	/* the paused sibling we told to resume */
	const struct stats_hdr	*stats;		/* siblings' client-connections */
	int64_t			 generation;
	struct ev_timer		 deadline;
	struct ev_io		 sig;
	struct ev_io		 master;
	struct accesslog	*al;		/* access log (accesslog.h) */
	struct ev_timer		 alflush;	/* writes it at least every second */
	struct connstat		*cs;		/* viaductctl connections (connstat.h) */
	struct admin		*admin;		/* the admin listener, NULL: off (admin.h) */
	struct ev_timer		 cstimer;
};

static void
listeners_set(struct worker *w, bool on)
{
	if (w->listening == on)
		return;
	for (int i = 0; i < w->nl; i++) {
		if (w->lio[i].fd < 0)
			continue;
		if (on) {
			if (ev_io_add(&w->loop, &w->lio[i], EPOLLIN | EPOLLEXCLUSIVE) == -1)
				log_warn("epoll add listener");
		} else {
			ev_io_del(&w->loop, &w->lio[i]);
		}
	}
	w->listening = on;
	if (vd.stats != NULL)
		vd.stats->accepting = on;	/* what ahead() of the siblings reads */
}

/* Near the worker's capacity: let the siblings take the next ones. */
static bool
overloaded(const struct worker *w)
{
	size_t cap = conn_capacity(w->t);

	if (vd.conf->workers <= 1)
		return false;
	return conn_active(w->t) >= cap - cap / 8;
}

/* More than a little over the mean of n workers holding sum connections. */
static bool
over_share(uint64_t mine, uint64_t sum, uint64_t n)
{
	return n > 1 && mine * n > sum + sum / 16 + 2 * n;	/* mine > mean * 1.06 + 2 */
}

/* The generation's workers: how many, their connections, and whether a
 * sibling (not us) listens. */
static void
generation_load(const struct worker *w, uint64_t *sum, uint64_t *n, bool *other)
{
	uint32_t used = stats_slots_used(w->stats);

	*sum = *n = 0;
	*other = false;
	for (uint32_t i = 0; i < used; i++) {
		const struct stats_slot *s = &w->stats->slots[i];

		if (s->pid != 0 && s->generation == w->generation) {
			*sum += s->client_connections;
			(*n)++;
			*other |= s->accepting != 0 && s != vd.stats;
		}
	}
}

/*
 * Ahead of the siblings of our generation by more than a little: EPOLLEXCLUSIVE
 * wakes the same waiter again and again, so left alone one worker takes a
 * whole burst of connections (50 of 50 in the benchmark, and its p99 with
 * them).  The siblings' figures are their stats slots' gauges, read without
 * a lock: a torn or stale figure only shifts one decision.
 */
static bool
ahead(const struct worker *w)
{
	uint64_t sum, n, mine = conn_active(w->t);
	bool other;

	if (vd.conf->workers <= 1 || w->stats == NULL || mine < 4)
		return false;
	generation_load(w, &sum, &n, &other);
	return over_share(mine, sum, n);
}

/*
 * A sibling that paused for being ahead and no longer is gets SIGURG, so
 * that it listens again at once rather than when its pause runs out: called
 * when we take a connection, and when we pause ourselves, so that one of
 * us always listens (with one-request connections every worker is ahead in
 * turn, and timed pauses alone left nobody accepting: a 6x loss of new
 * connections per second).  Once per pause of ours or of the sibling's:
 * `kicked` is cleared when we see it listening and when we pause.
 */
static void
kick_siblings(struct worker *w)
{
	uint64_t sum, n;
	bool other;

	if (vd.conf->workers <= 1 || w->stats == NULL)
		return;
	generation_load(w, &sum, &n, &other);
	for (uint32_t i = 0, used = stats_slots_used(w->stats); i < used; i++) {
		const struct stats_slot *s = &w->stats->slots[i];

		if (s->pid == 0 || s->generation != w->generation || s == vd.stats)
			continue;
		if (s->accepting != 0) {
			if (s->pid == w->kicked)
				w->kicked = 0;
		} else if (s->pid != w->kicked && !over_share(s->client_connections, sum, n)) {
			(void)kill((pid_t)s->pid, SIGURG);
			w->kicked = s->pid;
		}
	}
}

static void
share_pause(struct worker *w)
{
	listeners_set(w, false);
	w->share_paused = true;
	ev_timer_start(&w->loop, &w->pause, SHARE_PAUSE_MS);
	w->kicked = 0;
	kick_siblings(w);
}

static void
pause_cb(struct ev_loop *l, struct ev_timer *t)
{
	struct worker *w = t->data;

	if (w->draining)
		return;
	w->share_paused = false;
	if (!overloaded(w)) {
		if (ahead(w)) {
			share_pause(w);
			return;
		}
		listeners_set(w, true);
		return;
	}
	/*
	 * A connection still queued after a whole pause was taken by no
	 * sibling: they are all over their share too.  Take it now: served
	 * if a slot is free, else answered 503 (max-client-connections),
	 * rather than left waiting in the backlog.
	 */
	for (int i = 0; i < w->nl; i++)
		if (w->lio[i].fd >= 0)
			(void)conn_accept(w->t, w->lio[i].fd, CONN_ACCEPT_BATCH);
	ev_timer_start(l, t, PAUSE_MS);
}

static void
accept_cb(struct ev_loop *l, struct ev_io *io, uint32_t ev)
{
	struct worker *w = io->data;
	int rc = VD_OK;

	/* one at a time, so that a burst already queued is shared too */
	for (int i = 0; i < CONN_ACCEPT_BATCH && rc == VD_OK; i++) {
		rc = conn_accept(w->t, io->fd, 1);
		if (rc == VD_OK && ahead(w)) {
			share_pause(w);
			return;
		}
		if (rc == VD_OK)
			kick_siblings(w);
	}
	if (rc == VD_ERR)
		log_warnx("accept failed on listener fd %d", io->fd);
	if (rc == VD_AGAIN || overloaded(w)) {
		listeners_set(w, false);
		ev_timer_start(l, &w->pause, PAUSE_MS);
		return;
	}
	/* EPOLLEXCLUSIVE wakes the most recent waiter first: re-add now and then
	 * so that the siblings get their turn (STYLE.md pitfall 14) */
	if (conn_accepted(w->t) >= w->rearm_at) {
		w->rearm_at = conn_accepted(w->t) + REARM_EVERY;
		listeners_set(w, false);
		listeners_set(w, true);
	}
}

static _Noreturn void
worker_exit(struct worker *w, int status)
{
	conn_close_all(w->t);
	/* the LMDB reader slots go back: else the manager clears them as
	 * stale after every stop and reload */
	cache_proxy_free(w->t);
	admin_free(w->admin);
	accesslog_close(w->al);		/* nothing accepted is lost at a stop */
	exit(status);
}

static void
drain_check(struct worker *w)
{
	if (w->draining && conn_active(w->t) == 0)
		worker_exit(w, VD_EXIT_OK);
}

static void
deadline_cb(struct ev_loop *l, struct ev_timer *t)
{
	struct worker *w = t->data;

	log_notice("drain time is up with %zu connections open", conn_active(w->t));
	worker_exit(w, VD_EXIT_OK);
}

static void
graceful(struct worker *w)
{
	if (w->draining)
		return;
	w->draining = true;
	accesslog_flush(w->al);
	listeners_set(w, false);
	admin_stop(w->admin);
	ev_timer_stop(&w->loop, &w->pause);
	for (int i = 0; i < w->nl; i++) {
		/*
		 * EPOLLEXCLUSIVE woke only us for a connection that may still
		 * sit in the queue: nobody else will be woken for it, so take
		 * what is queued now (and serve it) before letting go.
		 */
		if (w->lio[i].fd >= 0 && !overloaded(w))
			(void)conn_accept(w->t, w->lio[i].fd, CONN_ACCEPT_BATCH);
		close(w->lio[i].fd);	/* our copy; the master keeps the socket */
		w->lio[i].fd = -1;
	}
	conn_shutdown(w->t);
	ev_timer_start(&w->loop, &w->deadline, vd.conf->shutdown_timeout);
}

static void
signal_cb(struct ev_loop *l, struct ev_io *io, uint32_t ev)
{
	struct worker *w = io->data;
	struct signalfd_siginfo si;
	int s, fd;

	while ((s = signals_read(io->fd, &si)) > 0) {
		switch (s) {
		case SIGTERM:
		case SIGINT:
			graceful(w);
			break;
		case SIGQUIT:
			worker_exit(w, VD_EXIT_OK);
		case SIGUSR1:
			accesslog_reopen(w->al);
			if (vd.conf->error_log == NULL || strcmp(vd.conf->error_log, "stderr") == 0)
				break;
			if ((fd = log_open_file(vd.conf->error_log)) == -1) {
				log_warn("reopen %s", vd.conf->error_log);
				break;
			}
			if (vd.log_fd > 2)
				close(vd.log_fd);
			vd.log_fd = fd;
			break;
		case SIGWINCH:	/* a fetch moved (cache_collapse.h's wake-ups) */
			cache_proxy_wake(w->t);
			break;
		case SIGURG:	/* a sibling caught up (kick_siblings) */
			if (w->share_paused && !w->draining) {
				ev_timer_stop(l, &w->pause);
				pause_cb(l, &w->pause);
			}
			break;
		default:
			break;		/* HUP: the master reloads; CHLD: not ours */
		}
	}
}

static void
master_cb(struct ev_loop *l, struct ev_io *io, uint32_t ev)
{
	struct worker *w = io->data;
	char buf[64];
	ssize_t n;

	for (;;) {
		n = recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* EOF or error: the master is gone, and nobody would reap or
		 * respawn us: finish what was accepted (as on TERM, within
		 * shutdown-timeout), our copies of the listeners closed so that
		 * a new master can bind them */
		log_warnx("master went away: finishing the open connections, then exiting");
		(void)ev_io_del(&w->loop, io);
		graceful(w);
		drain_check(w);
		return;
	}
}

static void
alflush_cb(struct ev_loop *l, struct ev_timer *t)
{
	struct worker *w = t->data;

	accesslog_flush(w->al);
	ev_timer_start(l, t, ACCESSLOG_FLUSH_MS);
}

static void
cstimer_cb(struct ev_loop *l, struct ev_timer *t)
{
	struct worker *w = t->data;

	connstat_update(w->cs, w->t, l->now_ms);
	ev_timer_start(l, t, CONNSTAT_INTERVAL_MS);
}

struct accesslog *
worker_accesslog(void)
{
	struct worker *w = vd.role_state;

	return vd.role == VD_ROLE_WORKER && w != NULL ? w->al : NULL;
}

static void
worker_init(struct worker *w, const struct worker_spec *spec)
{
	int sfd;

	if ((sfd = signals_setup()) == -1)
		fatal("worker: signalfd");
	if (privdrop_worker() == -1) {
		log_errx("worker: cannot drop privileges");
		exit(VD_EXIT_FATAL);
	}
	if (ev_loop_init(&w->loop, 256, 64) == -1)
		fatal("worker: event loop");
	vd.loop = &w->loop;
	if ((w->t = conn_table_create(&w->loop, spec->conf)) == NULL) {
		log_errx("worker: cannot allocate the connection table");
		exit(VD_EXIT_FATAL);
	}
	/* this worker's own LMDB environment, after fork (cache_proxy.h) */
	(void)cache_proxy_init(w->t, spec->atime_fd);
	w->al = accesslog_create(spec->conf, conn_capacity(w->t));
	ev_timer_init(&w->alflush, alflush_cb, w);
	ev_timer_start(&w->loop, &w->alflush, ACCESSLOG_FLUSH_MS);
	if ((w->cs = connstat_open(spec->conf, conn_capacity(w->t))) != NULL) {
		ev_timer_init(&w->cstimer, cstimer_cb, w);
		ev_timer_start(&w->loop, &w->cstimer, CONNSTAT_INTERVAL_MS);
	}
	ev_timer_init(&w->pause, pause_cb, w);
	w->stats = spec->stats;
	w->generation = spec->generation;
	ev_timer_init(&w->deadline, deadline_cb, w);
	ev_io_init(&w->sig, sfd, signal_cb, w);
	if (ev_io_add(&w->loop, &w->sig, EPOLLIN) == -1)
		fatal("worker: epoll add signalfd");
	if (spec->master_fd >= 0) {
		ev_io_init(&w->master, spec->master_fd, master_cb, w);
		if (ev_io_add(&w->loop, &w->master, EPOLLIN | EPOLLRDHUP) == -1)
			fatal("worker: epoll add master fd");
	}
	if (spec->conf->admin_port != 0)
		w->admin = admin_create(&w->loop, spec->conf, w->t);
	for (int i = 0; i < spec->nlfds; i++) {
		/* the admin sockets never reach the proxy engine (admin.h) */
		if (admin_is_listener(spec->conf, spec->lfds[i])) {
			if (admin_listen(w->admin, spec->lfds[i]) == -1) {
				log_warn("admin: cannot accept on fd %d", spec->lfds[i]);
				close(spec->lfds[i]);	/* our copy */
			}
		} else if (w->nl < WORKER_MAX_LISTEN)
			ev_io_init(&w->lio[w->nl++], spec->lfds[i], accept_cb, w);
	}
	w->rearm_at = REARM_EVERY;
	listeners_set(w, true);
}

_Noreturn void
worker_main(const struct worker_spec *spec)
{
	struct worker w;

	memset(&w, 0, sizeof(w));
	vd.role = VD_ROLE_WORKER;
	vd.worker_id = spec->id;
	vd.generation = spec->generation;
	vd.pid = getpid();
	vd.conf = spec->conf;
	vd.stats = spec->slot;
	vd.role_state = &w;
	worker_init(&w, spec);
	log_info("worker %d serving %d listeners, %zu connection slots",
	    spec->id, w.nl, conn_capacity(w.t));
	for (;;) {
		/* first, so that the master sees a new worker alive at once */
		if (vd.stats != NULL)
			vd.stats->heartbeat++;
		if (ev_run_once(&w.loop, 1000) == -1 && errno != EINTR) {
			log_err("epoll_wait");
			worker_exit(&w, VD_EXIT_CRASH);
		}
		drain_check(&w);
	}
}
