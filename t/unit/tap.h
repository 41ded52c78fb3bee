/*
 * tap.h — Test Anything Protocol for the C unit tests (picotest-like).
 * Each unit program prints a plan at the end: done_testing().
 */
#ifndef VD_TAP_H
#define VD_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int
tap_ok(int cond, const char *file, int line, const char *name)
{
	tap_n++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_n, name);
	if (!cond) {
		tap_failed++;
		printf("#   Failed test at %s line %d\n", file, line);
	}
	return cond;
}

#define ok(cond, name)	tap_ok(!!(cond), __FILE__, __LINE__, (name))

#define is_int(got, want, name) do {					\
	long long g_ = (long long)(got), w_ = (long long)(want);	\
	if (!ok(g_ == w_, name))					\
		printf("#          got: %lld\n#     expected: %lld\n", g_, w_); \
} while (0)

#define is_str(got, want, name) do {					\
	const char *g_ = (got), *w_ = (want);				\
	if (!ok(g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0, name))	\
		printf("#          got: '%s'\n#     expected: '%s'\n",	\
		    g_ ? g_ : "(null)", w_ ? w_ : "(null)");		\
} while (0)

#define note(...) do { printf("# "); printf(__VA_ARGS__); printf("\n"); } while (0)

static inline int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
