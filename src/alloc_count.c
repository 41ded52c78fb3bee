/*
 * alloc_count.c — the counting allocator of `--enable-alloc-count` builds
 * (see alloc_count.h for the contract).  Linked into src/viaduct only, never
 * into the library, viaductctl or the unit programs.
 */
#include "config.h"

#include <errno.h>
#include <execinfo.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "viaduct.h"
#include "alloc_count.h"
#include "stats.h"

/* glibc's own allocator under its exported internal names (GLIBC_2.2.5). */
extern void	*__libc_malloc(size_t);
extern void	*__libc_calloc(size_t, size_t);
extern void	*__libc_realloc(void *, size_t);
extern void	 __libc_free(void *);
extern void	*__libc_memalign(size_t, size_t);
extern void	*__libc_valloc(size_t);
extern void	*__libc_pvalloc(size_t);

/*
 * Set while a backtrace is written: backtrace() loads libgcc_s on first use,
 * which allocates, and must not trace itself.  The one piece of state outside
 * `vd`: the allocator runs before the context exists and below every module.
 */
static bool in_trace;

static void
trace(void)
{
	void *pc[32];
	char head[64];
	int n, len;

	if (in_trace || vd.role != VD_ROLE_WORKER || getenv(ALLOC_COUNT_TRACE_ENV) == NULL)
		return;
	in_trace = true;
	n = backtrace(pc, VD_ARRLEN(pc));
	len = snprintf(head, sizeof(head), "allocation %llu in pid %ld:\n",
	    (unsigned long long)vd.stats->allocations, (long)vd.pid);
	if (len > 0 && write(vd.log_fd, head, (size_t)len) < 0) {
		/* the log is the only place to say so */
	}
	backtrace_symbols_fd(pc, n, vd.log_fd);
	in_trace = false;
}

/* One allocating call, in our own slot (nothing before the slot is mapped). */
static void
count(void)
{
	if (vd.stats == NULL || in_trace)
		return;
	vd.stats->allocations++;
	trace();
}

void *
malloc(size_t n)
{
	count();
	return __libc_malloc(n);
}

void *
calloc(size_t nmemb, size_t size)
{
	count();
	return __libc_calloc(nmemb, size);
}

void *
realloc(void *p, size_t n)
{
	count();
	return __libc_realloc(p, n);
}

void *
reallocarray(void *p, size_t nmemb, size_t size)
{
	size_t n;

	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n);
}

void
free(void *p)
{
	__libc_free(p);
}

void *
memalign(size_t align, size_t n)
{
	count();
	return __libc_memalign(align, n);
}

void *
aligned_alloc(size_t align, size_t n)
{
	count();
	return __libc_memalign(align, n);
}

int
posix_memalign(void **out, size_t align, size_t n)
{
	int saved = errno;
	void *p;

	if (align == 0 || align % sizeof(void *) != 0 || (align & (align - 1)) != 0)
		return EINVAL;
	count();
	p = __libc_memalign(align, n);
	errno = saved;	/* posix_memalign reports through its result only */
	if (p == NULL)
		return ENOMEM;
	*out = p;
	return 0;
}

void *
valloc(size_t n)
{
	count();
	return __libc_valloc(n);
}

void *
pvalloc(size_t n)
{
	count();
	return __libc_pvalloc(n);
}
