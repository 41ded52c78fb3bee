/*
 * log.h — the error log.
 *
 * Lines look like
 *   2026-11-22T10:11:12.345Z [warn] worker 3 pid 1234: message: strerror
 * and are built in a stack buffer and written with one write(2) on vd.log_fd,
 * so lines from different processes sharing an O_APPEND file never interleave.
 * Control bytes and DEL in the message (which may quote a client's bytes) are
 * written as \xNN: the only newline is the one that ends the line.
 * log_warn() and friends append strerror(errno); the *x variants do not.
 * fatal()/fatalx() log and exit(1): for start-up only, never on the request path.
 * Any process may call these; errno is preserved across every call.
 */
#ifndef VD_LOG_H
#define VD_LOG_H

#include <stdarg.h>

enum {
	VD_LOG_EMERG = 0,
	VD_LOG_ERR,
	VD_LOG_WARN,
	VD_LOG_NOTICE,
	VD_LOG_INFO,
	VD_LOG_DEBUG,
};

/* "error", "warn", "notice", "info", "debug" -> level, or -1. */
int		 log_level_parse(const char *);
const char	*log_level_name(int);

void	log_msg(int level, int errnum, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	log_vmsg(int level, int errnum, const char *fmt, va_list ap);

#define log_err(...)	log_msg(VD_LOG_ERR, errno, __VA_ARGS__)
#define log_errx(...)	log_msg(VD_LOG_ERR, 0, __VA_ARGS__)
#define log_warn(...)	log_msg(VD_LOG_WARN, errno, __VA_ARGS__)
#define log_warnx(...)	log_msg(VD_LOG_WARN, 0, __VA_ARGS__)
#define log_notice(...)	log_msg(VD_LOG_NOTICE, 0, __VA_ARGS__)
#define log_info(...)	log_msg(VD_LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...)	log_msg(VD_LOG_DEBUG, 0, __VA_ARGS__)

_Noreturn void	fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Open (or reopen) the error log file: O_WRONLY|O_APPEND|O_CREAT, 0640.
 * Returns the new fd or -1 with errno set; the caller installs it in vd.log_fd.
 */
int	log_open_file(const char *path);

#endif
