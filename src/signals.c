/* signals.c — block, then read through a signalfd. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "viaduct.h"
#include "signals.h"

/* SIGURG: a sibling worker has caught up, take connections again (worker.c);
 * SIGWINCH: a fetch the worker waits for moved (cache_collapse.h).  Both are
 * sent between workers by the pid in a stats slot, and both are ignored by
 * default, so that one that reaches a stranger (a pid reused in the moment
 * between a worker's death and its reaping) harms nobody. */
static const int handled[] = {
	SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGURG, SIGWINCH,
};

int
signals_setup(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		return -1;
	sigemptyset(&set);
	for (size_t i = 0; i < VD_ARRLEN(handled); i++)
		sigaddset(&set, handled[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int
signals_read(int sfd, struct signalfd_siginfo *si)
{
	ssize_t n;

	for (;;) {
		n = read(sfd, si, sizeof(*si));
		if (n == (ssize_t)sizeof(*si))
			return (int)si->ssi_signo;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n >= 0)
			errno = EIO;
		return -1;
	}
}

void
signals_unblock_all(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	signal(SIGPIPE, SIG_DFL);
}

const char *
signals_name(int signo)
{
	switch (signo) {
	case SIGHUP:	return "HUP";
	case SIGINT:	return "INT";
	case SIGTERM:	return "TERM";
	case SIGQUIT:	return "QUIT";
	case SIGUSR1:	return "USR1";
	case SIGUSR2:	return "USR2";
	case SIGCHLD:	return "CHLD";
	case SIGURG:	return "URG";
	case SIGWINCH:	return "WINCH";
	case SIGKILL:	return "KILL";
	case SIGSEGV:	return "SEGV";
	case SIGABRT:	return "ABRT";
	case SIGBUS:	return "BUS";
	case SIGFPE:	return "FPE";
	case SIGILL:	return "ILL";
	case SIGPIPE:	return "PIPE";
	default:	return "?";
	}
}
