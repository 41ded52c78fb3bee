/* log.c — error log lines built on the stack, one write(2) each. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "viaduct.h"
#include "log.h"
#include "util.h"

static const char *const level_names[] = {
	"emerg", "error", "warn", "notice", "info", "debug",
};

int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < VD_ARRLEN(level_names); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
log_level_name(int level)
{
	if (level < 0 || (size_t)level >= VD_ARRLEN(level_names))
		return "?";
	return level_names[level];
}

static size_t
log_prefix(char *buf, size_t size, int level)
{
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	switch (vd.role) {
	case VD_ROLE_WORKER:
		r = snprintf(buf + n, size - n, ".%03ldZ [%s] worker %d pid %d: ",
		    ts.tv_nsec / 1000000, log_level_name(level), vd.worker_id,
		    (int)getpid());
		break;
	case VD_ROLE_CACHEMGR:
		r = snprintf(buf + n, size - n, ".%03ldZ [%s] cache manager pid %d: ",
		    ts.tv_nsec / 1000000, log_level_name(level), (int)getpid());
		break;
	default:
		r = snprintf(buf + n, size - n, ".%03ldZ [%s] master pid %d: ",
		    ts.tv_nsec / 1000000, log_level_name(level), (int)getpid());
		break;
	}
	return r < 0 ? n : n + (size_t)r;
}

/*
 * Copy src[0..n) to dst (cap bytes) with control bytes and DEL as \xNN:
 * a message may quote what a client sent (a request-target at info level),
 * and a raw ESC, CR or newline in it would drive the operator's terminal
 * or forge a log line of its own.  Cut at a whole byte or escape; returns
 * the length written.
 */
static size_t
log_escape(char *dst, size_t cap, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)src[i];

		if (ch >= 0x20 && ch != 0x7f) {
			if (o + 1 > cap)
				break;
			dst[o++] = (char)ch;
			continue;
		}
		if (o + 4 > cap)
			break;
		dst[o++] = '\\';
		dst[o++] = 'x';
		dst[o++] = hex[ch >> 4];
		dst[o++] = hex[ch & 15];
	}
	return o;
}

void
log_vmsg(int level, int errnum, const char *fmt, va_list ap)
{
	char buf[2048], msg[2048];
	size_t n, m = 0;
	int r, saved = errno;

	if (level > vd.log_level)
		return;
	r = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (r > 0)
		m = (size_t)r < sizeof(msg) ? (size_t)r : sizeof(msg) - 1;
	if (errnum != 0) {
		r = snprintf(msg + m, sizeof(msg) - m, ": %s", strerror(errnum));
		if (r > 0)
			m += (size_t)r < sizeof(msg) - m ? (size_t)r : sizeof(msg) - 1 - m;
	}
	n = log_prefix(buf, sizeof(buf) - 1, level);
	n += log_escape(buf + n, sizeof(buf) - 1 - n, msg, m);
	buf[n++] = '\n';	/* the only one in the line */
	if (write(vd.log_fd, buf, n) == -1) {
		/* nowhere left to complain */
	}
	errno = saved;
}

void
log_msg(int level, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, errnum, fmt, ap);
	va_end(ap);
}

/*
 * Start-up errors must reach the operator who typed the command: one line
 * "viaduct: ..." on stderr, plus the same line in the error log when the
 * log is a file.
 */
static _Noreturn void
vfatal(int errnum, const char *fmt, va_list ap)
{
	char msg[1024];
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(msg, sizeof(msg), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		msg[0] = '\0';
	if (vd.log_fd != STDERR_FILENO)
		log_msg(VD_LOG_EMERG, errnum, "%s", msg);
	if (vd.log_fd != STDERR_FILENO && !vd.stderr_is_tty_or_pipe)
		exit(1);
	if (errnum != 0)
		dprintf(STDERR_FILENO, "%s: %s: %s\n", VD_NAME, msg, strerror(errnum));
	else
		dprintf(STDERR_FILENO, "%s: %s\n", VD_NAME, msg);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int errnum = errno;

	va_start(ap, fmt);
	vfatal(errnum, fmt, ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfatal(0, fmt, ap);
}

int
log_open_file(const char *path)
{
	return vd_open_trusted(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}
