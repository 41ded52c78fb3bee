/*
 * main.c — viaduct [-FhtVv] [-f file]: read the command line, check the
 * configuration, become a daemon unless -F, then hand over to master_run().
 *
 * The working directory is never changed: relative paths in the
 * configuration (the development config's var/cache, var/run ...) keep
 * meaning what they meant where viaduct was started, on every reload too.
 * The init script and the systemd unit start it from /.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "viaduct.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "privdrop.h"

#define DEFAULT_CONF	SYSCONFDIR "/viaduct/viaduct.conf"

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: %s [-FhtVv] [-f file]\n", VD_NAME);
	exit(1);
}

/*
 * -V: the version and the build options a test must know about, one
 * "name: on|off" line each (t/69-alloc-free.t runs its real check only
 * where alloc-count is on).
 */
static void
print_build(void)
{
#ifdef VD_SANITIZERS
	const char *san = "on";
#else
	const char *san = "off";
#endif
#ifdef VD_ALLOC_COUNT
	const char *ac = "on";
#else
	const char *ac = "off";
#endif

	printf("%s %s\nsanitizers: %s\nalloc-count: %s\n", VD_NAME, PACKAGE_VERSION, san, ac);
}

/*
 * Start-up errors are one "viaduct: ..." line each, like fatalx().
 * Warnings (conf.h allows them; none is issued today) are for -t, which
 * prints them all; a start that succeeds stays silent.
 */
static void
start_diag(void *arg, bool is_error, const char *msg)
{
	if (is_error)
		fprintf(stderr, "%s: %s\n", VD_NAME, msg);
}

/* A directory or an unreadable path gets one clear line before the parser sees it. */
static void
check_readable(const char *path)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		fatal("cannot read configuration %s", path);
	if (fstat(fd, &st) == -1)
		fatal("cannot read configuration %s", path);
	close(fd);
	if (!S_ISREG(st.st_mode))
		fatalx("cannot read configuration %s: not a regular file", path);
}

/*
 * Fork twice (setsid between) so that the daemon is no session leader and
 * has no terminal.  The first process waits until the daemon reports that
 * it is serving (a byte on a pipe) and exits 0, or exits 1 when the pipe
 * closes without it: the daemon already printed why on our shared stderr.
 * Returns the write end of the pipe in the daemon.
 */
static int
daemonize(void)
{
	int p[2], st;
	ssize_t n;
	pid_t pid;
	char c = 0;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0) {
		close(p[1]);
		while ((n = read(p[0], &c, 1)) == -1 && errno == EINTR)
			;
		if (waitpid(pid, &st, 0) == -1) {
			/* nothing to do: the byte decides */
		}
		_exit(n == 1 && c == '1' ? 0 : 1);
	}
	close(p[0]);
	if (setsid() == -1)
		fatal("setsid");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	return p[1];
}

int
main(int argc, char **argv)
{
	const char *file = DEFAULT_CONF;
	struct vd_conf *conf;
	bool test = false;
	int ch, ready_fd = -1, status;

	vd.stderr_is_tty_or_pipe = true;
	while ((ch = getopt(argc, argv, "Ff:htVv")) != -1) {
		switch (ch) {
		case 'F':
			vd.foreground = true;
			break;
		case 'f':
			file = optarg;
			break;
		case 't':
			test = true;
			break;
		case 'v':
			printf("%s %s\n", VD_NAME, PACKAGE_VERSION);
			return 0;
		case 'V':
			print_build();
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	check_readable(file);
	if (test) {
		struct privdrop_ids ids;
		char err[300];

		if ((conf = conf_load(file, NULL, NULL)) == NULL)
			return 1;
		/* what start-up would refuse, so that -t before a restart
		 * (init script, systemd's ExecStartPre) does too */
		if (privdrop_resolve(conf, &ids, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", file, err);
			conf_free(conf);
			return 1;
		}
		printf("%s: configuration OK\n", file);
		conf_free(conf);
		return 0;
	}
	if ((conf = conf_load(file, start_diag, NULL)) == NULL)
		return 1;
	if (!vd.foreground)
		ready_fd = daemonize();
	status = master_run(conf, ready_fd);
	return status;
}
