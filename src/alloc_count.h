/*
 * alloc_count.h — a counting allocator for the whole process, compiled in
 * only with `configure --enable-alloc-count` (VD_ALLOC_COUNT), to prove the
 * performance contract "a cache hit does no allocation" (t/69-alloc-free.t).
 *
 * alloc_count.c defines malloc, calloc, realloc, reallocarray, free and the
 * aligned allocators in the executable itself.  A definition in the
 * executable wins symbol resolution over libc for every shared object, so
 * LMDB's, PCRE2's, c-ares's and libc's own calls (strdup, fopen, getaddrinfo
 * ...) are counted too, not only viaduct's.  Each call that allocates
 * (malloc, calloc, realloc, reallocarray, memalign, posix_memalign,
 * aligned_alloc, valloc, pvalloc; not free) adds one to the process's own
 * stats slot, gauge "allocations" (stats_tbl.h), once vd.stats is set: the
 * slot is written by its own process only, as every other counter.  Memory
 * comes from glibc's allocator (__libc_malloc ...), so malloc_usable_size and
 * glibc's tunables keep working.
 *
 * With ALLOC_COUNT_TRACE_ENV set in viaduct's environment, every counted
 * allocation in a worker also writes a backtrace (backtrace_symbols_fd) to
 * the error log: where the hit path allocates.
 *
 * Not with --enable-sanitizers: ASan interposes malloc itself (configure
 * refuses the combination).
 */
#ifndef VD_ALLOC_COUNT_H
#define VD_ALLOC_COUNT_H

#define ALLOC_COUNT_TRACE_ENV	"VIADUCT_ALLOC_TRACE"

#endif
