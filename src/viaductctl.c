/*
 * viaductctl.c — operate a running viaduct from outside:
 *
 *   viaductctl [-f file] reload|reopen|stop|status|check [file]|monitor [--json]
 *
 * Everything it knows comes from the configuration file (the pid file and
 * the run directory) and the kernel (who holds the pid-file lock).  It
 * never writes to the stats segment.  Exit: 0 done, 1 failed (one line on
 * stderr), 3 `status` when not running (LSB).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "viaduct.h"
#include "conf.h"
#include "pidfile.h"
#include "stats.h"

#define DEFAULT_CONF	SYSCONFDIR "/viaduct/viaduct.conf"
#define CTL		"viaductctl"

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: %s [-f file] reload | reopen | stop | status | "
	    "check [file] | monitor [--json]\n", CTL);
	exit(1);
}

static _Noreturn void
die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", CTL);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Errors always; warnings only for `check` (arg non-NULL). */
static void
diag(void *arg, bool is_error, const char *msg)
{
	if (is_error || arg != NULL)
		fprintf(stderr, "%s: %s\n", CTL, msg);
}

static struct vd_conf *
load(const char *file, bool warnings)
{
	struct vd_conf *conf = conf_load(file, diag, warnings ? (void *)1 : NULL);

	if (conf == NULL)
		exit(1);
	return conf;
}

/* The master's pid, or exit 1 (exit `notrunning` if given) when it is not running. */
static pid_t
master_pid(const struct vd_conf *conf, int notrunning)
{
	pid_t pid = pidfile_holder(conf->pid_file);

	if (pid == -1)
		die("cannot read pid file %s: %s", conf->pid_file, strerror(errno));
	if (pid == 0) {
		fprintf(stderr, "%s: viaduct is not running (pid file %s is not locked)\n",
		    CTL, conf->pid_file);
		exit(notrunning);
	}
	return pid;
}

static void
signal_master(const struct vd_conf *conf, int sig)
{
	pid_t pid = master_pid(conf, 1);

	if (kill(pid, sig) == -1)
		die("cannot signal pid %d: %s", (int)pid, strerror(errno));
}

/* stop: TERM, then wait until the lock is gone (shutdown-timeout + 5 s). */
static int
stop(const struct vd_conf *conf)
{
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	int64_t waited = 0, limit = conf->shutdown_timeout + 5000;

	signal_master(conf, SIGTERM);
	while (pidfile_holder(conf->pid_file) > 0) {
		if (waited >= limit)
			die("viaduct is still running after %lld ms",
			    (long long)limit);
		nanosleep(&tick, NULL);
		waited += 50;
	}
	return 0;
}

static int
monitor(const struct vd_conf *conf, bool json)
{
	const struct stats_hdr *h;
	struct stats_slot sum;
	char path[4096];
	size_t len;
	const char *sep = "";

	master_pid(conf, 1);
	snprintf(path, sizeof(path), "%s/stats", conf->run_dir);
	if ((h = stats_open_ro(path, &len)) == NULL)
		die("cannot read stats segment %s: %s", path, strerror(errno));
	stats_sum(h, &sum);
	if (json)
		printf("{");
#define STATS_X(f, name, kind, help)					\
	if (json)							\
		printf("%s\"%s\": %llu", sep, name, (unsigned long long)sum.f); \
	else								\
		printf("%s: %llu\n", name, (unsigned long long)sum.f);	\
	sep = ", ";
	STATS_FIELDS(STATS_X)
#undef STATS_X
	if (json)
		printf("}\n");
	stats_unmap(h, len);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *file = DEFAULT_CONF, *cmd;
	struct vd_conf *conf;
	pid_t pid;
	int ch, ret = 0;

	while ((ch = getopt(argc, argv, "+f:")) != -1) {
		if (ch != 'f')
			usage();
		file = optarg;
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	cmd = argv[0];

	if (strcmp(cmd, "check") == 0) {
		if (argc > 2)
			usage();
		if (argc == 2)
			file = argv[1];
		conf_free(load(file, true));
		printf("%s: configuration OK\n", file);
		return 0;
	}
	if (strcmp(cmd, "monitor") == 0) {
		if (argc > 2 || (argc == 2 && strcmp(argv[1], "--json") != 0))
			usage();
		conf = load(file, false);
		ret = monitor(conf, argc == 2);
		conf_free(conf);
		return ret;
	}
	if (argc != 1)
		usage();
	conf = load(file, false);
	if (strcmp(cmd, "reload") == 0)
		signal_master(conf, SIGHUP);
	else if (strcmp(cmd, "reopen") == 0)
		signal_master(conf, SIGUSR1);
	else if (strcmp(cmd, "stop") == 0)
		ret = stop(conf);
	else if (strcmp(cmd, "status") == 0) {
		pid = master_pid(conf, 3);
		printf("viaduct is running (pid %d)\n", (int)pid);
	} else
		usage();
	conf_free(conf);
	return ret;
}
