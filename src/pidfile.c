/* pidfile.c — an fcntl-locked pid file. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "viaduct.h"
#include "pidfile.h"
#include "util.h"

static void
whole_file(struct flock *fl, short type)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = 0;
	fl->l_len = 0;
}

/* The pid written in the file, for when F_GETLK cannot tell (other pid namespace). */
static pid_t
read_pid(int fd)
{
	char buf[32];
	ssize_t n;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (pid_t)strtol(buf, NULL, 10);
}

static pid_t
lock_holder(int fd)
{
	struct flock fl;

	whole_file(&fl, F_WRLCK);
	if (fcntl(fd, F_GETLK, &fl) == -1)
		return -1;
	if (fl.l_type == F_UNLCK)
		return 0;
	return fl.l_pid > 0 ? fl.l_pid : read_pid(fd);
}

int
pidfile_acquire(const char *path, char *err, size_t errlen)
{
	struct flock fl;
	char buf[32];
	pid_t holder;
	int fd, n;

	fd = vd_open_trusted(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) {
		snprintf(err, errlen, "cannot open pid file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	whole_file(&fl, F_WRLCK);
	if (fcntl(fd, F_SETLK, &fl) == -1) {
		if (errno == EAGAIN || errno == EACCES) {
			holder = lock_holder(fd);
			snprintf(err, errlen, "pid file %s is locked by pid %d: "
			    "already running", path, (int)holder);
		} else {
			snprintf(err, errlen, "cannot lock pid file %s: %s",
			    path, strerror(errno));
		}
		close(fd);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		snprintf(err, errlen, "cannot write pid file %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

pid_t
pidfile_holder(const char *path)
{
	pid_t pid;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	pid = lock_holder(fd);
	close(fd);
	return pid;
}

void
pidfile_release(const char *path, int fd)
{
	if (fd == -1)
		return;
	/* Unlink first: a new instance may take the name as soon as we close. */
	if (unlink(path) == -1 && errno != ENOENT) {
		/* after the privilege drop the run directory may not be ours:
		 * empty the file so that nobody reads a stale pid from it */
		if (ftruncate(fd, 0) == -1) {
			/* the lock is what counts; it goes with the close */
		}
	}
	close(fd);
}
