/*
 * pidfile.h — the pid file is also the instance lock.
 *
 * The master holds a POSIX record lock (fcntl F_SETLK, whole file) on its
 * pid file for its whole life; a second instance finds it locked and
 * refuses to start, and anyone can ask the kernel who holds it (F_GETLK),
 * so a stale file left by a crash never blocks a start and never names a
 * pid that is not ours.
 *
 * Caveat of POSIX locks: closing ANY descriptor of the file in the locking
 * process drops the lock.  The master therefore never opens the pid file
 * a second time.  Forked children may close their inherited copy freely:
 * record locks belong to the process and are not inherited.
 */
#ifndef VD_PIDFILE_H
#define VD_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Take the lock and write our pid.  Returns the descriptor to keep open, or
 * -1 with a one-line reason in err ("pid file X is locked by pid N: already
 * running", or the failing call and strerror).
 */
int	pidfile_acquire(const char *path, char *err, size_t errlen);

/* Who holds the lock: a pid, 0 when nobody (or no file), -1 with errno. */
pid_t	pidfile_holder(const char *path);

/* At exit: remove the file while still holding the lock, then close. */
void	pidfile_release(const char *path, int fd);

#endif
