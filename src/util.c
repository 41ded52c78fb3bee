/* util.c — descriptors, socket addresses, start-up allocation. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "viaduct.h"
#include "log.h"
#include "util.h"

struct vd_proc vd = {
	.role = VD_ROLE_TOOL,
	.worker_id = -1,
	.log_fd = 2,
	.log_level = VD_LOG_NOTICE,
};

void
vd_assert_fail(const char *file, int line, const char *expr)
{
	log_msg(VD_LOG_EMERG, 0, "assertion failed: %s:%d: %s", file, line, expr);
	abort();
}

int
vd_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int
vd_set_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl == -1)
		return -1;
	return fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

static int
parse_port(const char *s, int *port)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

int
vd_sockaddr_parse(const char *s, int default_port,
    struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *hend;
	int port = default_port;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		hend = strchr(s, ']');
		if (hend == NULL)
			return -1;
		s++;
		colon = hend[1] == ':' ? hend + 1 : NULL;
		if (hend[1] != '\0' && colon == NULL)
			return -1;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			colon = NULL;	/* bare IPv6 address, no port */
		hend = colon != NULL ? colon : s + strlen(s);
	}
	hl = (size_t)(hend - s);
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (colon != NULL && parse_port(colon + 1, &port) == -1)
		return -1;
	if (port < 0)
		return -1;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

char *
vd_sockaddr_fmt(const struct sockaddr *sa, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, size, "(family %d)", sa->sa_family);
	}
	return buf;
}

void *
vd_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

char *
vd_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

size_t
vd_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int
vd_populate(void *p, size_t len)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p & ~(pg - 1), e = ((uintptr_t)p + len + pg - 1) & ~(pg - 1);

	if (len == 0)
		return 0;
	if (madvise((void *)a, e - a, MADV_POPULATE_WRITE) == 0 || errno == EINVAL)
		return 0;
	return -1;
}

int
vd_open_trusted(const char *path, int flags, unsigned mode)
{
	struct stat st;
	int fd = open(path, flags | O_NOFOLLOW, (mode_t)mode);

	if (fd != -1 || errno != ELOOP)
		return fd;
	if (lstat(path, &st) == -1)
		return -1;
	if (S_ISLNK(st.st_mode) && (st.st_uid == 0 || st.st_uid == geteuid()))
		return open(path, flags, (mode_t)mode);
	log_warnx("%s: a symbolic link of uid %u is not followed by a process of uid %u",
	    path, (unsigned)st.st_uid, (unsigned)geteuid());
	errno = ELOOP;
	return -1;
}
