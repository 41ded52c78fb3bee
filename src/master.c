/* master.c — start-up as root, then spawn, reap, respawn, reload, stop. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "viaduct.h"
#include "cache_state.h"
#include "cache_store.h"
#include "cachemgr.h"
#include "conf.h"
#include "connstat.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "pidfile.h"
#include "privdrop.h"
#include "signals.h"
#include "stats.h"
#include "util.h"
#include "worker.h"

#define BACKOFF_STEP_MS		100
#define BACKOFF_MAX_MS		10000
#define BACKOFF_RESET_MS	60000
/* How long an old generation keeps accepting while the new one starts. */
#define HANDOVER_MAX_MS		2000

enum mw_state {
	MW_FREE = 0,
	MW_RUNNING,
	MW_WAITING,		/* crashed; respawn at respawn_at */
	MW_DRAINING,		/* old generation: TERM once the new one runs; KILL at kill_at */
};

/* One entry per stats slot: entry i always writes slots[i]. */
struct mworker {
	enum mw_state	 state;
	pid_t		 pid;
	int		 id;
	unsigned	 gen;
	int		 mfd;		/* our end of the socketpair */
	unsigned	 crashes;	/* in a row, for the backoff */
	int64_t		 started;	/* ms, monotonic */
	int64_t		 respawn_at;
	int64_t		 kill_at;
	bool		 termed;	/* draining: TERM sent */
};

struct master {
	struct vd_conf		*conf;
	struct listen_set	*ls;
	struct stats_hdr	*stats;
	size_t			 statslen;
	struct privdrop_ids	 ids;
	int			 sfd;
	int			 pidfd;
	unsigned		 generation;
	int			 stopping;	/* 0, SIGTERM or SIGQUIT */
	int64_t			 stop_deadline;
	int64_t			 handover_deadline;	/* 0: no old generation waiting */
	bool			 handover_warned;	/* none of the new one came up in time */
	bool			 killed;
	struct mworker		 w[MASTER_SLOTS];
	struct mworker		 cm;		/* the cache manager (stats->cachemgr) */
	bool			 cm_restart;	/* reloaded: respawn it at once with the new conf */
	int			 atime[2];	/* [0] workers', [1] the manager's (cache_atime.h) */
	int			 ready_fd;	/* daemon: the start-up pipe, until it is told */
};

/* the manager's crashes by a signal in a row that empty the cache */
#define CM_CRASHES_RESET	3

/* spawn()'s index of the cache manager */
#define CM_ENTRY	(-1)

/* the store (defined with the start-up code) and a worker generation
 * (with reload), which the manager's crash handling needs too */
static const char *store_dir(const struct vd_conf *, char *, size_t);
static void	store_state_start(const struct vd_conf *);
static void	new_generation(struct master *, int);

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
conf_nworkers(const struct vd_conf *conf)
{
	if (conf->workers < 1)
		return 1;
	if (conf->workers > MASTER_MAX_WORKERS) {
		log_warnx("workers=%d is more than %d; using %d", conf->workers,
		    MASTER_MAX_WORKERS, MASTER_MAX_WORKERS);
		return MASTER_MAX_WORKERS;
	}
	return conf->workers;
}

static bool
log_is_stderr(const char *path)
{
	return path == NULL || path[0] == '\0' || strcmp(path, "stderr") == 0;
}

static bool
log_is_none(const char *path)
{
	return path == NULL || path[0] == '\0' || strcmp(path, "none") == 0;
}

/* ---------------------------------------------------------------- files */

/*
 * After the start the master runs as `user` (privdrop.c keeps no
 * capability for files): it can reopen a log that exists and is the
 * user's, but create one only where the user may create files.  Say so
 * where the operator will look for why a reopen failed.
 */
static void
log_err_msg(struct master *m, const char *what, const char *path, int errnum,
    char *err, size_t errlen)
{
	bool user = m->ids.switch_user && geteuid() != 0;

	snprintf(err, errlen, "cannot open %s %s: %s%s%s%s", what, path, strerror(errnum),
	    user && errnum == EACCES ? " (the master runs as user " : "",
	    user && errnum == EACCES ? m->ids.user : "",
	    user && errnum == EACCES ? ": create the file owned by it first, as "
	    "logrotate's create 0640 USER GROUP does)" : "");
}

/* A log file handed to the user, so that workers and the unprivileged
 * master can reopen it: a regular file only (a FIFO, or the terminal that
 * /dev/stderr names, keeps its owner).  -1 (errno) when that fails. */
static int
log_own(const struct master *m, int fd)
{
	struct stat st;

	if (!m->ids.switch_user || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (st.st_uid == m->ids.uid && st.st_gid == m->ids.gid))
		return 0;
	return fchown(fd, m->ids.uid, m->ids.gid);
}

/* The error log, opened (as root at start: then handed to the user so that
 * workers and the unprivileged master can reopen it).  -1: stderr. */
static int
error_log_open(struct master *m, const struct vd_conf *conf, int *errfd,
    char *err, size_t errlen)
{
	int fd;

	*errfd = -1;
	if (log_is_stderr(conf->error_log))
		return 0;
	if ((fd = log_open_file(conf->error_log)) == -1 || log_own(m, fd) == -1) {
		log_err_msg(m, "error log", conf->error_log, errno, err, errlen);
		if (fd != -1)
			close(fd);
		return -1;
	}
	*errfd = fd;
	return 0;
}

/* Create the access log for the workers, who open it by name. */
static int
access_log_create(struct master *m, const struct vd_conf *conf, char *err, size_t errlen)
{
	int fd;

	if (log_is_none(conf->access_log) || conf_log_syslog(conf->access_log, NULL))
		return 0;
	fd = vd_open_trusted(conf->access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_err_msg(m, "access log", conf->access_log, errno, err, errlen);
		return -1;
	}
	if (geteuid() == 0)
		(void)log_own(m, fd);
	close(fd);
	return 0;
}

/*
 * Both logs, without installing anything yet: *errfd is the new error log
 * (-1: stderr).  Either both can be had or neither is kept, so that a
 * reload that cannot open one refuses before it changes anything.
 * Returns -1 with err set.
 */
static int
logs_prepare(struct master *m, const struct vd_conf *conf, int *errfd,
    char *err, size_t errlen)
{
	if (error_log_open(m, conf, errfd, err, errlen) == -1)
		return -1;
	if (access_log_create(m, conf, err, errlen) == -1) {
		if (*errfd != -1)
			close(*errfd);
		*errfd = -1;
		return -1;
	}
	return 0;
}

/* Make errfd (from logs_prepare) the error log; -1 leaves it as it is. */
static void
logs_install(int errfd)
{
	if (errfd == -1)
		return;
	if (vd.log_fd != STDERR_FILENO) {
		dup2(errfd, vd.log_fd);	/* same number: children's copies stay valid */
		close(errfd);
	} else {
		vd.log_fd = errfd;
	}
}

static int
open_logs(struct master *m, const struct vd_conf *conf, char *err, size_t errlen)
{
	int errfd;

	if (logs_prepare(m, conf, &errfd, err, errlen) == -1)
		return -1;
	logs_install(errfd);
	return 0;
}

/* mkdir -p one level, owned by the user when we create it as root. */
static int
make_dir(struct master *m, const char *path, mode_t mode, const char *what,
    char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		errno = ENOTDIR;
	} else if (errno == ENOENT && mkdir(path, mode) == 0) {
		if (!m->ids.switch_user || chown(path, m->ids.uid, m->ids.gid) == 0)
			return 0;
	}
	snprintf(err, errlen, "cannot create %s %s: %s", what, path, strerror(errno));
	return -1;
}

/* Is the pid file directly in run-dir? */
static bool
in_run_dir(const struct vd_conf *c)
{
	const char *slash = strrchr(c->pid_file, '/');
	size_t n = strlen(c->run_dir);

	while (n > 1 && c->run_dir[n - 1] == '/')
		n--;
	return slash != NULL && (size_t)(slash - c->pid_file) == n &&
	    strncmp(c->pid_file, c->run_dir, n) == 0;
}

static int
open_stats(struct master *m, char *err, size_t errlen)
{
	char path[4096];

	if (make_dir(m, m->conf->run_dir, 0755, "run directory", err, errlen) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/stats", m->conf->run_dir);
	m->stats = stats_create(path, MASTER_SLOTS, &m->statslen);
	if (m->stats == NULL) {
		snprintf(err, errlen, "cannot create stats segment %.300s/stats: %s",
		    m->conf->run_dir, strerror(errno));
		return -1;
	}
	m->stats->master.pid = getpid();
	m->stats->master.started = time(NULL);
	vd.stats = &m->stats->master;
	/* `viaductctl connections`: optional, the workers fill it (connstat.h) */
	snprintf(path, sizeof(path), "%s/conns", m->conf->run_dir);
	if (connstat_create(path, MASTER_SLOTS, (uint32_t)m->conf->max_client_connections,
	    m->ids.switch_user && geteuid() == 0, m->ids.uid, m->ids.gid) == -1)
		log_warn("cannot create %s (viaductctl connections stays empty)", path);
	return 0;
}

/* ------------------------------------------------------------- children */

/* The rules whose hits this worker counts: how far readers of the slot
 * look into its rule_hits (stats.h).  Set before it counts any. */
static void
slot_rules(struct stats_slot *slot, const struct vd_conf *conf)
{
	const struct conf_rules *l[RULES_NLISTS] = { [RULES_ACCESS] = &conf->access,
	    [RULES_CACHE] = &conf->cache, [RULES_DIRECT] = &conf->direct };

	for (int i = 0; i < RULES_NLISTS; i++)
		slot->rules_n[i] = (uint32_t)(l[i]->nrules < RULES_MAX ? l[i]->nrules : RULES_MAX);
}

/* The pages entry i's process will write in the stats segment, backed
 * before it runs: a full run-dir tmpfs is then a message and a later try,
 * not a SIGBUS in the master (slot_rules) or the worker. */
static bool
slot_backed(struct master *m, int i)
{
	const struct conf_rules *l[RULES_NLISTS] = { &m->conf->access, &m->conf->cache,
	    &m->conf->direct };
	uint32_t n[RULES_NLISTS] = { 0 };
	struct stats_slot *slot = i == CM_ENTRY ? &m->stats->cachemgr : &m->stats->slots[i];

	for (int k = 0; k < RULES_NLISTS && i != CM_ENTRY; k++)
		n[k] = (uint32_t)l[k]->nrules;
	if (stats_slot_reserve(slot, n) == 0)
		return true;
	log_err("%s: cannot back the statistics of a new process (run-dir full?): "
	    "it is started later", m->conf->run_dir);
	return false;
}

static void	detach_stdio(void);

/* A child forked before a daemon's master has told its parent it serves:
 * neither the pipe nor the caller's stdout and stderr stay with it, or
 * `viaduct | cat` and an ssh session would wait for it (daemon(3)). */
static void
child_detach(struct master *m)
{
	if (m->ready_fd == -1)
		return;
	close(m->ready_fd);
	detach_stdio();
}

/* In the child, before worker_main: shed everything that is the master's. */
static _Noreturn void
child_main(struct master *m, int i, int fd)
{
	struct mworker *w = &m->w[i];
	struct stats_slot *slot = &m->stats->slots[i];
	struct worker_spec spec;
	int lfds[LISTEN_MAX];

	close(m->sfd);
	close(m->pidfd);	/* record locks are not inherited: nothing to lose */
	for (int j = 0; j < MASTER_SLOTS; j++)
		if (m->w[j].mfd != -1)
			close(m->w[j].mfd);
	if (m->cm.mfd != -1)
		close(m->cm.mfd);
	if (m->atime[1] != -1)
		close(m->atime[1]);	/* the manager's end */
	child_detach(m);
	vd.role = VD_ROLE_WORKER;
	vd.worker_id = w->id;
	vd.generation = w->gen;
	vd.pid = getpid();
	vd.conf = m->conf;
	vd.stats = slot;
	slot->pid = vd.pid;
	slot->generation = w->gen;
	slot->started = time(NULL);
	slot_rules(slot, m->conf);
	slot->rules_epoch = m->stats->rules_epoch;

	if (getenv("VIADUCT_TEST_CHILD_ABORT") != NULL &&
	    strcmp(getenv("VIADUCT_TEST_CHILD_ABORT"), "1") == 0) {
		struct rlimit nocore = { 0, 0 };
		setrlimit(RLIMIT_CORE, &nocore);
		abort();	/* test hook: a worker that crashes at start-up */
	}

	for (int j = 0; j < m->ls->n; j++)
		lfds[j] = m->ls->socks[j].ls_fd;
	memset(&spec, 0, sizeof(spec));
	spec.id = w->id;
	spec.generation = w->gen;
	spec.conf = m->conf;
	spec.lfds = lfds;
	spec.nlfds = m->ls->n;
	spec.master_fd = fd;
	spec.atime_fd = m->atime[0];
	spec.slot = slot;
	spec.stats = m->stats;
	worker_main(&spec);
}

/* The cache manager's child: no listeners, no sockets to workers. */
static _Noreturn void
cm_child_main(struct master *m, int fd)
{
	struct stats_slot *slot = &m->stats->cachemgr;
	struct cachemgr_spec spec;

	close(m->sfd);
	close(m->pidfd);
	for (int j = 0; j < MASTER_SLOTS; j++)
		if (m->w[j].mfd != -1)
			close(m->w[j].mfd);
	/* our copies of the listeners would keep clients queued after a stop */
	for (int j = 0; j < m->ls->n; j++)
		close(m->ls->socks[j].ls_fd);
	if (m->atime[0] != -1)
		close(m->atime[0]);	/* the workers' end */
	child_detach(m);
	slot->pid = getpid();
	slot->generation = m->generation;
	slot->started = time(NULL);
	memset(&spec, 0, sizeof(spec));
	spec.conf = m->conf;
	spec.master_fd = fd;
	spec.atime_fd = m->atime[1];
	spec.slot = slot;
	cachemgr_main(&spec);
}

static void
spawn(struct master *m, int i)
{
	struct mworker *w = i == CM_ENTRY ? &m->cm : &m->w[i];
	int sp[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_err("socketpair");
		goto later;
	}
	if (!slot_backed(m, i)) {
		close(sp[0]);
		close(sp[1]);
		goto later;
	}
	/* before the child writes to its slot: readers look this far (stats.h) */
	if (i != CM_ENTRY && (uint32_t)i >= m->stats->slots_used)
		m->stats->slots_used = (uint32_t)i + 1;
	if ((pid = fork()) == -1) {
		log_err("fork");
		close(sp[0]);
		close(sp[1]);
		goto later;
	}
	if (pid == 0) {
		close(sp[0]);
		if (i == CM_ENTRY)
			cm_child_main(m, sp[1]);
		child_main(m, i, sp[1]);
	}
	close(sp[1]);
	w->mfd = sp[0];
	w->pid = pid;
	w->state = MW_RUNNING;
	w->termed = false;
	w->started = now_ms();
	if (i == CM_ENTRY)
		log_info("cache manager started, pid %d", (int)pid);
	else
		log_debug("worker %d generation %u started, pid %d", w->id, w->gen, (int)pid);
	return;
later:
	w->state = MW_WAITING;
	w->respawn_at = now_ms() + BACKOFF_MAX_MS;
}

/* Fork `n` workers of the current generation into free entries; false if no room. */
static bool
spawn_generation(struct master *m, int n)
{
	int nfree = 0, id = 0;

	for (int i = 0; i < MASTER_SLOTS; i++)
		if (m->w[i].state == MW_FREE)
			nfree++;
	if (nfree < n)
		return false;
	for (int i = 0; i < MASTER_SLOTS && id < n; i++) {
		if (m->w[i].state != MW_FREE)
			continue;
		m->w[i].id = id++;
		m->w[i].gen = m->generation;
		m->w[i].crashes = 0;
		spawn(m, i);
	}
	return true;
}

static void
signal_workers(struct master *m, int sig, bool old_only)
{
	for (int i = 0; i < MASTER_SLOTS; i++) {
		struct mworker *w = &m->w[i];
		if (w->state != MW_RUNNING && w->state != MW_DRAINING)
			continue;
		if (old_only && w->state != MW_DRAINING)
			continue;
		if (old_only && w->termed)
			continue;
		if (kill(w->pid, sig) == -1 && errno != ESRCH)
			log_warn("kill(%d, %s)", (int)w->pid, signals_name(sig));
		if (sig == SIGTERM || sig == SIGQUIT || sig == SIGKILL)
			w->termed = true;
	}
}

static int64_t
backoff_ms(unsigned crashes)
{
	int64_t d;

	if (crashes == 0)
		return 0;
	d = BACKOFF_STEP_MS;
	while (--crashes > 0 && d < BACKOFF_MAX_MS)
		d *= 2;
	return d < BACKOFF_MAX_MS ? d : BACKOFF_MAX_MS;
}

static void
describe(int st, char *buf, size_t size)
{
	if (WIFSIGNALED(st))
		snprintf(buf, size, "killed by signal %d (%s)%s", WTERMSIG(st),
		    signals_name(WTERMSIG(st)), WCOREDUMP(st) ? ", core dumped" : "");
	else
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(st));
}

/* A current-generation worker died while we are not stopping. */
static void
child_lost(struct master *m, struct mworker *w, int st, const char *how)
{
	int64_t now = now_ms(), delay;

	if (WIFEXITED(st) && WEXITSTATUS(st) == VD_EXIT_FATAL) {
		log_errx("worker %d pid %d %s (fatal) and will not be respawned",
		    w->id, (int)w->pid, how);
		w->state = MW_FREE;
		return;
	}
	if (now - w->started >= BACKOFF_RESET_MS)
		w->crashes = 0;
	delay = backoff_ms(w->crashes);
	w->crashes++;
	log_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? VD_LOG_WARN : VD_LOG_ERR, 0,
	    "worker %d pid %d %s; respawning in %lld ms", w->id, (int)w->pid, how,
	    (long long)delay);
	w->state = MW_WAITING;
	w->respawn_at = now + delay;
}

/* A line to the cache manager; dropped if it cannot take it now (it also checks on a timer). */
static void
cm_tell(struct master *m, const char *fmt, int arg)
{
	char buf[64];
	int n;

	if (m->cm.state != MW_RUNNING || m->cm.mfd == -1)
		return;
	n = snprintf(buf, sizeof(buf), fmt, arg);
	if (send(m->cm.mfd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
		log_debug("cannot tell the cache manager: %s", strerror(errno));
}

static void
cm_start(struct master *m)
{
	m->cm.crashes = 0;
	m->cm.gen = m->generation;
	spawn(m, CM_ENTRY);
}

/*
 * The cache manager died of a signal CM_CRASHES_RESET times in a row: its
 * index is taken for damaged (LMDB asserts, or faults, on a damaged page:
 * nothing else resets it, and with no manager nothing is evicted).  It is
 * removed, and a new generation of workers opens the new one.  true when
 * it was.
 */
static bool
store_reset(struct master *m, const char *how)
{
	char path[PATH_MAX - 64];
	const char *dir = store_dir(m->conf, path, sizeof(path));

	if (dir == NULL || cache_state_reset(dir) == -1)
		return false;
	log_errx("cache manager %s %d times in a row: the cache index in %s is taken for "
	    "damaged and removed; the cache starts empty and the workers are renewed",
	    how, CM_CRASHES_RESET, dir);
	store_state_start(m->conf);
	new_generation(m, conf_nworkers(m->conf));
	return true;
}

/* The cache manager died: respawn it like a worker (with backoff) unless stopping. */
static void
cm_reaped(struct master *m, int st)
{
	struct mworker *w = &m->cm;
	char how[96];
	int64_t now = now_ms(), delay;

	describe(st, how, sizeof(how));
	close(w->mfd);
	w->mfd = -1;
	stats_retire(m->stats, &m->stats->cachemgr);
	w->state = MW_FREE;
	if (m->stopping || m->cm_restart) {
		log_msg(st == 0 ? VD_LOG_INFO : VD_LOG_WARN, 0, "cache manager pid %d %s",
		    (int)w->pid, how);
		w->pid = 0;
		if (!m->stopping && m->cm_restart && cachemgr_enabled(m->conf))
			cm_start(m);
		m->cm_restart = false;
		return;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == VD_EXIT_FATAL) {
		log_errx("cache manager pid %d %s (fatal) and will not be respawned",
		    (int)w->pid, how);
		w->pid = 0;
		return;
	}
	if (now - w->started >= BACKOFF_RESET_MS)
		w->crashes = 0;
	if (WIFSIGNALED(st) && w->crashes + 1 >= CM_CRASHES_RESET && store_reset(m, how))
		w->crashes = 0;
	delay = backoff_ms(w->crashes);
	w->crashes++;
	log_errx("cache manager pid %d %s; respawning in %lld ms", (int)w->pid, how,
	    (long long)delay);
	w->pid = 0;
	w->state = MW_WAITING;
	w->respawn_at = now + delay;
}

/* After a reload: a manager with the new configuration (or none). */
static void
cm_reconfigure(struct master *m)
{
	if (m->cm.state == MW_RUNNING) {
		m->cm_restart = true;	/* cm_reaped() starts the new one */
		m->cm.termed = true;
		if (kill(m->cm.pid, SIGTERM) == -1 && errno != ESRCH)
			log_warn("kill(%d, TERM)", (int)m->cm.pid);
	} else if (cachemgr_enabled(m->conf)) {
		cm_start(m);
	} else {
		m->cm.state = MW_FREE;
	}
}

static void
reap(struct master *m)
{
	char how[96];
	pid_t pid;
	int st, i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == m->cm.pid && m->cm.state == MW_RUNNING) {
			cm_reaped(m, st);
			continue;
		}
		for (i = 0; i < MASTER_SLOTS; i++)
			if (m->w[i].pid == pid && (m->w[i].state == MW_RUNNING ||
			    m->w[i].state == MW_DRAINING))
				break;
		if (i == MASTER_SLOTS)
			continue;
		struct mworker *w = &m->w[i];
		describe(st, how, sizeof(how));
		close(w->mfd);
		w->mfd = -1;
		stats_retire(m->stats, &m->stats->slots[i]);
		if (m->stopping || w->state == MW_DRAINING) {
			log_msg(st == 0 ? VD_LOG_INFO : VD_LOG_WARN, 0,
			    "worker %d pid %d generation %u %s", w->id, (int)pid,
			    w->gen, how);
			w->state = MW_FREE;
		} else {
			child_lost(m, w, st, how);
		}
		w->pid = 0;
		/* its LMDB reader slots are stale now (STYLE.md pitfall 3) */
		cm_tell(m, CACHEMGR_MSG_READER_CHECK " %d\n", (int)pid);
	}
	if (pid == -1 && errno != ECHILD)
		log_err("waitpid");
}

/* ---------------------------------------------------------------- reload */

/*
 * A worker holds a descriptor for each of its share of
 * max-client-connections and of max-server-connections (and a tunnel two
 * pipes more): the soft open-files limit is raised to the hard one, and
 * when even that is short the operator is told, rather than finding
 * "Too many open files" on requests under load.
 */
static void
raise_nofile(const struct vd_conf *conf)
{
	struct rlimit rl;
	int w = conf_nworkers(conf);
	unsigned long long need = 64 +
	    (unsigned long long)((conf->max_client_connections + w - 1) / w) +
	    (unsigned long long)((conf->max_server_connections + w - 1) / w);

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1 && getrlimit(RLIMIT_NOFILE, &rl) == -1)
			return;
	}
	if (rl.rlim_cur != RLIM_INFINITY && (unsigned long long)rl.rlim_cur < need)
		log_warnx("the open files limit (%llu) is below what a worker may need (%llu: "
		    "its share of max-client-connections and max-server-connections, and 64): "
		    "raise it (ulimit -n, systemd LimitNOFILE=) or lower those",
		    (unsigned long long)rl.rlim_cur, need);
}

static void	store_state_switch(const struct vd_conf *, const struct vd_conf *);

/* n workers of a new generation; the running ones drain.  The old ones
 * keep accepting until the new ones are in their loop (handover()), so
 * that someone always accepts. */
static void
new_generation(struct master *m, int n)
{
	for (int i = 0; i < MASTER_SLOTS; i++) {
		struct mworker *w = &m->w[i];
		if (w->state == MW_WAITING)
			w->state = MW_FREE;
		else if (w->state == MW_RUNNING) {
			w->state = MW_DRAINING;
			w->termed = false;
			w->kill_at = 0;
		}
	}
	m->generation++;
	spawn_generation(m, n);
	if (m->handover_deadline == 0)	/* reloads in a row do not postpone it */
		m->handover_deadline = now_ms() + HANDOVER_MAX_MS;
}

/* The same rules, in the same order (lines and columns aside)? */
static bool
rules_same(const struct conf_rules *a, const struct conf_rules *b)
{
	if (a->nrules != b->nrules)
		return false;
	for (int i = 0; i < a->nrules; i++) {
		const struct conf_rule *x = &a->rules[i], *y = &b->rules[i];

		if (x->nprops != y->nprops)
			return false;
		for (int k = 0; k < x->nprops; k++)
			if (strcmp(x->props[k].name, y->props[k].name) != 0 ||
			    strcmp(x->props[k].value, y->props[k].value) != 0)
				return false;
	}
	return true;
}

/* A reload that changes a rule list: hits are counted by position, so the
 * counts start again (stats.h) rather than land on other rules. */
static void
rules_epoch(struct master *m, const struct vd_conf *nc)
{
	if (rules_same(&m->conf->access, &nc->access) && rules_same(&m->conf->cache, &nc->cache) &&
	    rules_same(&m->conf->direct, &nc->direct))
		return;
	stats_rules_changed(m->stats);
	log_info("reload: the rule lists changed: their hit counters start from zero");
}

static void
reload_diag(void *arg, bool is_error, const char *msg)
{
	log_msg(is_error ? VD_LOG_ERR : VD_LOG_WARN, 0, "%s", msg);
}

static bool
str_differs(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") != 0;
}

/* What only a restart can change (the files we took as root). */
static void
warn_restart_only(const struct vd_conf *o, const struct vd_conf *n)
{
	if (str_differs(o->user, n->user) || str_differs(o->group, n->group))
		log_warnx("reload: user/group changed: takes effect after a restart");
	if (str_differs(o->pid_file, n->pid_file))
		log_warnx("reload: pid-file changed: takes effect after a restart");
	if (str_differs(o->run_dir, n->run_dir))
		log_warnx("reload: run-dir changed: takes effect after a restart");
}

static void
reload(struct master *m)
{
	struct vd_conf *nc;
	struct listen_set *nls;
	char err[512];
	int n, nfree = 0, errfd = -1;

	log_notice("reloading %s", m->conf->file);
	nc = conf_load(m->conf->file, reload_diag, NULL);
	if (nc == NULL) {
		log_errx("reload: %s has errors; keeping the running configuration",
		    m->conf->file);
		return;
	}
	{
		struct privdrop_ids ids;

		/* a user that does not exist would fail the next restart */
		if (privdrop_resolve(nc, &ids, err, sizeof(err)) == -1) {
			log_errx("reload: %s; keeping the running configuration", err);
			conf_free(nc);
			return;
		}
	}
	n = conf_nworkers(nc);
	for (int i = 0; i < MASTER_SLOTS; i++)
		if (m->w[i].state == MW_FREE)
			nfree++;
	if (nfree < n) {
		log_errx("reload: %d worker slots are taken (the running generation and "
		    "those still draining) and %d more are needed; try again later",
		    MASTER_SLOTS - nfree, n - nfree);
		conf_free(nc);
		return;
	}
	/* Logs before sockets: a log that cannot be opened refuses the
	 * reload as it fails a start, rather than a generation that logs
	 * nothing; nothing is installed until the sockets are had too. */
	if ((str_differs(m->conf->error_log, nc->error_log) ||
	    str_differs(m->conf->access_log, nc->access_log)) &&
	    logs_prepare(m, nc, &errfd, err, sizeof(err)) == -1) {
		log_errx("reload: %s; keeping the running configuration", err);
		conf_free(nc);
		return;
	}
	nls = vd_xcalloc(1, sizeof(*nls));
	if (listen_open(nls, nc, m->ls, err, sizeof(err)) == -1) {
		log_errx("reload: %s; keeping the running configuration", err);
		if (errfd != -1)
			close(errfd);
		conf_free(nc);
		free(nls);
		return;
	}
	warn_restart_only(m->conf, nc);
	raise_nofile(nc);
	logs_install(errfd);
	vd.log_level = nc->log_level;
	store_state_switch(m->conf, nc);
	rules_epoch(m, nc);

	/* Commit.  Old workers keep their own copies of conf and sockets. */
	listen_close_unused(m->ls, nls);
	free(m->ls);
	m->ls = nls;
	conf_free(m->conf);
	m->conf = nc;
	vd.conf = nc;
	m->stats->reloads++;
	new_generation(m, n);
	cm_reconfigure(m);
	log_notice("reloaded: generation %u, %d workers, %d listeners",
	    m->generation, n, m->ls->n);
}

/* ------------------------------------------------------------- signals */

/* USR1: each log on its own; one that cannot be opened stays as it was. */
static void
reopen_logs(struct master *m)
{
	char err[512];
	int errfd, bad = 0;

	if (error_log_open(m, m->conf, &errfd, err, sizeof(err)) == -1) {
		log_errx("%s", err);
		bad++;
	}
	logs_install(errfd);
	if (access_log_create(m, m->conf, err, sizeof(err)) == -1) {
		log_errx("%s", err);
		bad++;
	}
	if (bad == 0)
		log_notice("reopened log files");
	signal_workers(m, SIGUSR1, false);
	if (m->cm.state == MW_RUNNING)
		kill(m->cm.pid, SIGUSR1);
}

static void
begin_stop(struct master *m, int sig)
{
	int64_t t = m->conf->shutdown_timeout;

	if (m->stopping == SIGQUIT || m->stopping == sig)
		return;
	log_notice("%s: %s stop", signals_name(sig),
	    sig == SIGQUIT ? "fast" : "graceful");
	m->stopping = sig == SIGQUIT ? SIGQUIT : SIGTERM;
	m->stop_deadline = now_ms() + (t > 0 ? t : 0);
	for (int i = 0; i < MASTER_SLOTS; i++)
		if (m->w[i].state == MW_WAITING)
			m->w[i].state = MW_FREE;
	if (m->cm.state == MW_WAITING)
		m->cm.state = MW_FREE;
	signal_workers(m, m->stopping, false);	/* the cache manager after them */
	/* Workers hold their own copies until they stop accepting; once the
	 * last copy is closed new clients are refused instead of queued. */
	listen_close_all(m->ls);
}

static void
handle_signals(struct master *m)
{
	struct signalfd_siginfo si;
	int sig;

	while ((sig = signals_read(m->sfd, &si)) > 0) {
		switch (sig) {
		case SIGCHLD:
			reap(m);
			break;
		case SIGHUP:
			if (!m->stopping)
				reload(m);
			break;
		case SIGUSR1:
			reopen_logs(m);
			break;
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			begin_stop(m, sig);
			break;
		default:
			break;
		}
	}
	if (sig == -1)
		log_err("signalfd read");
}

/* ---------------------------------------------------------------- timers */

/*
 * After a reload: TERM the old generation once every new worker has been
 * through its loop once (its heartbeat moved), or after HANDOVER_MAX_MS
 * when at least one has.  While none has (the new configuration's workers
 * die at start, or cannot start), the old generation keeps serving: a
 * reload never leaves the node without a worker.  Returns ms until the
 * next check, or -1.
 */
static int
handover(struct master *m, int64_t now)
{
	int ready = 0;

	if (m->handover_deadline == 0)
		return -1;
	for (int i = 0; i < MASTER_SLOTS; i++) {
		if (m->w[i].state != MW_RUNNING || m->w[i].gen != m->generation)
			continue;
		if (m->stats->slots[i].heartbeat != 0)
			ready++;
		else if (now < m->handover_deadline)
			return 10;
	}
	if (ready == 0) {
		if (now >= m->handover_deadline && !m->handover_warned) {
			log_errx("reload: no worker of generation %u is serving after %d ms; "
			    "the previous generation goes on serving until one does",
			    m->generation, HANDOVER_MAX_MS);
			m->handover_warned = true;
		}
		return now < m->handover_deadline ? 10 : 100;
	}
	if (m->handover_warned)
		log_notice("reload: generation %u is serving now", m->generation);
	m->handover_warned = false;
	m->handover_deadline = 0;
	for (int i = 0; i < MASTER_SLOTS; i++)
		if (m->w[i].state == MW_DRAINING && !m->w[i].termed)
			m->w[i].kill_at = now + m->conf->shutdown_timeout;
	signal_workers(m, SIGTERM, true);
	return -1;
}

static bool
anyone_alive(const struct master *m)
{
	for (int i = 0; i < MASTER_SLOTS; i++)
		if (m->w[i].state != MW_FREE)
			return true;
	return false;
}

/*
 * The cache manager: respawn when due; at a stop, once the last worker is
 * gone (nobody reads the store any more), tell it to stop.  ms or -1.
 */
static int64_t
cm_timers(struct master *m, int64_t now)
{
	struct mworker *w = &m->cm;

	if (w->state == MW_WAITING && !m->stopping) {
		if (w->respawn_at > now)
			return w->respawn_at - now;
		spawn(m, CM_ENTRY);
	}
	if (m->stopping && w->state == MW_RUNNING && !w->termed && !anyone_alive(m)) {
		w->termed = true;
		if (kill(w->pid, m->stopping) == -1 && errno != ESRCH)
			log_warn("kill(%d, %s)", (int)w->pid, signals_name(m->stopping));
	}
	return -1;
}

/* Respawns and kills that are due; returns ms until the next one (-1: none). */
static int
run_timers(struct master *m)
{
	int64_t now = now_ms(), next, when;

	next = m->stopping ? -1 : handover(m, now);
	when = cm_timers(m, now);
	if (when >= 0 && (next == -1 || when < next))
		next = when;
	for (int i = 0; i < MASTER_SLOTS; i++) {
		struct mworker *w = &m->w[i];
		if (w->state == MW_WAITING)
			when = w->respawn_at;
		else if (w->state == MW_DRAINING && w->kill_at != 0)
			when = w->kill_at;
		else
			continue;
		if (when <= now) {
			if (w->state == MW_WAITING) {
				spawn(m, i);
			} else {
				log_warnx("worker %d pid %d generation %u still busy "
				    "after shutdown-timeout: killing it", w->id,
				    (int)w->pid, w->gen);
				kill(w->pid, SIGKILL);
				w->kill_at = 0;
			}
			continue;
		}
		if (next == -1 || when - now < next)
			next = when - now;
	}
	if (m->stopping && !m->killed) {
		if (m->stop_deadline <= now) {
			log_warnx("workers still busy after shutdown-timeout: killing them");
			signal_workers(m, SIGKILL, false);
			if (m->cm.state == MW_RUNNING)
				kill(m->cm.pid, SIGKILL);
			m->killed = true;
		} else if (next == -1 || m->stop_deadline - now < next) {
			next = m->stop_deadline - now;
		}
	}
	return next > 60000 ? 60000 : (int)next;
}

/* ---------------------------------------------------------------- main */

/* The directory of the cache store, or NULL when nothing is cached. */
static const char *
store_dir(const struct vd_conf *conf, char *buf, size_t len)
{
	struct cache_store_conf sc;

	if (!cachemgr_enabled(conf) || cache_store_conf_init(&sc, conf, buf, len) != VD_OK)
		return NULL;
	return buf;
}

/* Before any process opens the store: was it left consistent (cache_state.h)? */
static void
store_state_start(const struct vd_conf *conf)
{
	char path[PATH_MAX - 64], why[PATH_MAX + 256];
	const char *dir = store_dir(conf, path, sizeof(path));

	if (dir == NULL)
		return;
	switch (cache_state_start(dir, why, sizeof(why))) {
	case VD_DONE:
		log_warnx("%s", why);
		break;
	case VD_ERR:
		log_warn("%s", why);
		break;
	default:
		break;
	}
}

/*
 * The store, as far as it exists, is ours to write: one left by a run as
 * another user (root before user= was set) would start a cache manager
 * that dies at once, and a node that serves without a cache.  A start-up
 * error, as for the cache path itself.
 */
static void
store_writable(struct master *m)
{
	static const char *const parts[] = { "", "/data.mdb", "/lock.mdb", "/bodies",
	    "/bodies/tmp" };
	char dir[PATH_MAX - 64], p[PATH_MAX];

	if (store_dir(m->conf, dir, sizeof(dir)) == NULL)
		return;
	for (size_t i = 0; i < VD_ARRLEN(parts); i++) {
		snprintf(p, sizeof(p), "%s%s", dir, parts[i]);
		if (access(p, F_OK) == 0 && access(p, W_OK) == -1)
			fatal("cache store %s is not writable by %s (chown -R it to that "
			    "user, or remove it)", p, m->ids.user[0] != '\0' ? m->ids.user :
			    "this user");
	}
}

/* A reload onto another store (cache-path, cache-on-disk, max-cache-size
 * from none): that one is marked running, or emptied after a crash of the
 * machine, before the new generation opens it (cache_state.h).  The old
 * one stays marked running: its draining workers may still write it. */
static void
store_state_switch(const struct vd_conf *old, const struct vd_conf *nc)
{
	char a[PATH_MAX - 64], b[PATH_MAX - 64];
	const char *od = store_dir(old, a, sizeof(a)), *nd = store_dir(nc, b, sizeof(b));

	if (nd != NULL && (od == NULL || strcmp(od, nd) != 0))
		store_state_start(nc);
}

/* Every process is gone: flush the store and say it was left whole. */
static void
store_state_stop(const struct vd_conf *conf)
{
	char path[PATH_MAX - 64];
	const char *dir = store_dir(conf, path, sizeof(path));

	if (dir != NULL && cache_state_stop(dir) != VD_OK)
		log_warn("cache store %s: not marked clean (after a reboot it starts empty)",
		    dir);
}

/* A fatal start-up error must not leave our pid file behind. */
static void
release_at_exit(void)
{
	struct master *m = vd.role_state;

	if (vd.role == VD_ROLE_MASTER && m != NULL && m->pidfd != -1 &&
	    getpid() == vd.pid) {
		pidfile_release(m->conf->pid_file, m->pidfd);
		m->pidfd = -1;
	}
}

/* A daemon, once its start-up errors were seen: no terminal any more. */
static void
detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd == -1)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	if (vd.log_fd != STDERR_FILENO)
		dup2(fd, STDERR_FILENO);
	close(fd);
	vd.stderr_is_tty_or_pipe = false;
}

static void
startup(struct master *m, int ready_fd)
{
	char err[512];

	if (privdrop_resolve(m->conf, &m->ids, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if ((m->sfd = signals_setup()) == -1)
		fatal("signalfd");
	/* the lock first: a second instance must not touch the first one's
	 * files; a pid file in run-dir (a tmpfs, empty after a reboot) needs
	 * that directory first, which creating does not touch either */
	if (in_run_dir(m->conf) && make_dir(m, m->conf->run_dir, 0755, "run directory",
	    err, sizeof(err)) == -1)
		fatalx("%s", err);
	if ((m->pidfd = pidfile_acquire(m->conf->pid_file, err, sizeof(err))) == -1)
		fatalx("%s", err);
	atexit(release_at_exit);
	if (open_logs(m, m->conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	vd.log_level = m->conf->log_level;
	raise_nofile(m->conf);
	if (open_stats(m, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (m->conf->cache_path != NULL &&
	    make_dir(m, m->conf->cache_path, 0750, "cache path", err, sizeof(err)) == -1)
		fatalx("%s", err);
	/* kept for the life of the master: every worker and manager it starts,
	 * also after a reload, gets its end (cache_atime.h) */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    m->atime) == -1) {
		log_warn("socketpair for access times (eviction falls back to store times)");
		m->atime[0] = m->atime[1] = -1;
	}
	m->ls = vd_xcalloc(1, sizeof(*m->ls));
	if (listen_open(m->ls, m->conf, NULL, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (privdrop_master(&m->ids, listen_needs_privileged(m->conf), err,
	    sizeof(err)) == -1)
		fatalx("%s", err);
	if (m->conf->cache_path != NULL && access(m->conf->cache_path, W_OK | X_OK) == -1)
		fatal("cache path %s is not writable by %s", m->conf->cache_path,
		    m->ids.user[0] != '\0' ? m->ids.user : "this user");
	/* before the workers: it clears what dead processes left in the store */
	if (cachemgr_enabled(m->conf)) {
		store_writable(m);
		store_state_start(m->conf);
		cm_start(m);
	}
	if (!spawn_generation(m, conf_nworkers(m->conf)))
		fatalx("no room for workers");
	log_notice("started: %d workers, %d listeners, pid %d",
	    conf_nworkers(m->conf), m->ls->n, (int)getpid());
	if (ready_fd != -1) {
		if (write(ready_fd, "1", 1) != 1) {
			/* the parent is gone: nobody to tell */
		}
		close(ready_fd);
		m->ready_fd = -1;
		detach_stdio();
	}
}

int
master_run(struct vd_conf *conf, int ready_fd)
{
	struct master *m;
	struct pollfd pfd;
	int timeout, status = 0;

	m = vd_xcalloc(1, sizeof(*m));
	for (int i = 0; i < MASTER_SLOTS; i++)
		m->w[i].mfd = -1;
	m->cm.mfd = -1;
	m->atime[0] = m->atime[1] = -1;
	m->conf = conf;
	m->pidfd = -1;
	m->ready_fd = ready_fd;
	vd.role = VD_ROLE_MASTER;
	vd.pid = getpid();
	vd.conf = conf;
	vd.role_state = m;
	startup(m, ready_fd);

	while (!m->stopping || anyone_alive(m) || m->cm.state != MW_FREE) {
		timeout = run_timers(m);
		pfd.fd = m->sfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout) == -1 && errno != EINTR)
			fatal("poll");
		handle_signals(m);
		if (!m->stopping && !anyone_alive(m)) {
			log_errx("no worker left that can be respawned: exiting");
			if (m->cm.state == MW_RUNNING)
				kill(m->cm.pid, SIGTERM);
			status = 1;
			break;
		}
	}
	if (status == 0)
		store_state_stop(m->conf);
	log_notice("exiting");
	pidfile_release(m->conf->pid_file, m->pidfd);
	m->pidfd = -1;
	return status;
}
