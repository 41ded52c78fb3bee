/*
 * util.h — small helpers shared by every process: descriptors, socket
 * addresses, allocation that fails loudly at start-up.
 */
#ifndef VD_UTIL_H
#define VD_UTIL_H

#include <stddef.h>
#include <sys/socket.h>

/* 0 or -1 with errno. */
int	vd_set_nonblock(int fd);
int	vd_set_cloexec(int fd);

/*
 * Parse "1.2.3.4", "1.2.3.4:80", "::1", "[::1]:80" (port optional unless
 * default_port < 0).  Returns 0, or -1 for a malformed string.
 */
int	vd_sockaddr_parse(const char *s, int default_port,
	    struct sockaddr_storage *ss, socklen_t *len);
/* "1.2.3.4:80" or "[::1]:80" into buf; returns buf. */
char	*vd_sockaddr_fmt(const struct sockaddr *sa, char *buf, size_t size);
#define VD_SOCKADDR_STRLEN	64

/* Start-up only: exit with a clear message when memory runs out. */
void	*vd_xcalloc(size_t n, size_t size);
char	*vd_xstrdup(const char *);

/* Like strlcpy(3): copies at most size-1 bytes, returns strlen(src). */
size_t	 vd_strlcpy(char *dst, const char *src, size_t size);

/*
 * open(2) for files in directories another user may write (logs, the pid
 * file): a symbolic link as the last component is followed only when root
 * or this process's user owns it.  Else -1, ELOOP, and a message: root
 * would otherwise write, truncate or chown whatever the service user's
 * link names (the nginx CVE-2016-1247 pattern).
 */
int	 vd_open_trusted(const char *path, int flags, unsigned mode);

/*
 * Back the pages of [p, p+len) of a shared mapping now (MADV_POPULATE_WRITE):
 * 0, or -1 with errno when its file system is full.  A page of a sparse
 * segment on a full tmpfs is otherwise first missed at a store, as SIGBUS.
 * A kernel without the advice (before 5.14) counts as success.
 */
int	 vd_populate(void *p, size_t len);

#endif
