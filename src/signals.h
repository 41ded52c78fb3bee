/*
 * signals.h — signals are read from a signalfd in the process's loop; no
 * work ever runs in signal context (STYLE.md pitfall 8).
 *
 * signals_setup(): blocks the daemon's signals (HUP INT TERM QUIT USR1 USR2
 * CHLD URG WINCH), ignores SIGPIPE, and returns a non-blocking, close-on-exec
 * signalfd for them, or -1 with errno.  The master calls it once at start.
 *
 * What a forked child inherits (the contract worker_main relies on, see
 * worker.h): the same signals still blocked, nothing pending (fork clears
 * the pending set), SIGPIPE ignored, and no signalfd — master_child_init()
 * closes the master's before worker_main runs.  A child that wants
 * signals calls signals_setup() again: its own signalfd returns its own
 * signals.  signals_unblock_all() is for a child that is about to exec.
 */
#ifndef VD_SIGNALS_H
#define VD_SIGNALS_H

#include <sys/signalfd.h>

int	signals_setup(void);
/* Read one signal: the signal number, 0 when none is pending, -1 on error. */
int	signals_read(int sfd, struct signalfd_siginfo *);
void	signals_unblock_all(void);
/* "HUP", "TERM", ... for log lines. */
const char *signals_name(int signo);

#endif
