/*
 * t/65-cache-writelock.t's helper: holds the cache's LMDB write lock for as
 * long as the test says.
 *   lmdb_hold CONF
 * Opens the environment that viaduct's configuration CONF names (through
 * cache_store_conf_init(), as the daemon does), begins a write transaction
 * (LMDB's one writer lock, shared by every process of the environment),
 * prints "held" and waits.  At EOF on standard input, or on SIGTERM or
 * SIGINT, it aborts the transaction (nothing is written), prints
 * "released" and exits 0; 2 if the environment cannot be opened.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "viaduct.h"
#include "cache_store.h"
#include "conf.h"

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
diag(void *arg, bool is_error, const char *msg)
{
	(void)arg;
	fprintf(stderr, "lmdb_hold: %s%s\n", is_error ? "" : "warning: ", msg);
}

/* Until stdin ends or a signal comes; no SA_RESTART, so read() returns. */
static void
wait_for_end(void)
{
	struct sigaction sa;
	char b[256];
	ssize_t n;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stop) {
		n = read(STDIN_FILENO, b, sizeof(b));
		if (n == 0 || (n == -1 && errno != EINTR))
			break;
	}
}

int
main(int argc, char **argv)
{
	struct cache_store_conf c = { 0 };
	struct vd_conf *conf;
	char path[PATH_MAX];
	MDB_env *env;
	MDB_txn *txn;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: lmdb_hold CONF\n");
		return 2;
	}
	if ((conf = conf_load(argv[1], diag, NULL)) == NULL)
		return 2;
	if (cache_store_conf_init(&c, conf, path, sizeof(path)) != VD_OK) {
		fprintf(stderr, "lmdb_hold: %s has no cache\n", argv[1]);
		return 2;
	}
	/* the daemon's own sizes: nothing here may resize the map for it */
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, c.map_size)) != 0 ||
	    (rc = mdb_env_set_maxreaders(env, c.max_readers)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, 4)) != 0 ||
	    (rc = mdb_env_open(env, path, MDB_NOTLS | MDB_NOSYNC, 0640)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		fprintf(stderr, "lmdb_hold: %s: %s\n", path, mdb_strerror(rc));
		return 2;
	}
	printf("held\n");
	fflush(stdout);
	wait_for_end();
	mdb_txn_abort(txn);
	mdb_env_close(env);
	conf_free(conf);
	printf("released\n");
	fflush(stdout);
	return 0;
}
