/*
 * rules_types.h — the compiled form of the rule lists, private to the
 * rules module: rules_compile.c builds it from a conf's `add` lines,
 * rules_index.c indexes each list and rules.c matches requests against
 * it.  Nothing outside src/rules*.c includes this file; rules.h is the
 * module's contract.
 *
 * Ownership: a struct rules owns everything it points to (strings, port
 * and method arrays, PCRE2 codes, each list's index); rules_destroy()
 * frees it all.  After rules_compile() returns nothing here changes but
 * the PCRE2 match block (see rules.h).
 */
#ifndef VD_RULES_TYPES_H
#define VD_RULES_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rules.h"
#include "rules_index.h"

enum pat_kind { PAT_EXACT, PAT_PREFIX, PAT_SUFFIX, PAT_RE };

struct pat {
	bool		 set, neg, icase;
	enum pat_kind	 kind;
	char		*lit;		/* EXACT/PREFIX/SUFFIX; lower case when icase */
	size_t		 len;
	pcre2_code	*re;
	char		*need;		/* PAT_RE: a substring every match contains */
	size_t		 needlen;
	char		*runs;		/* PAT_RE: every such substring of 3 bytes or
					 * more, each followed by a NUL */
	size_t		 runslen;
};

struct addr {
	bool		 set, neg;
	int		 family;	/* AF_INET: the first 4 bytes count */
	uint8_t		 lo[16], hi[16];
};

struct ports {
	bool		 set, neg;
	int		 n;
	uint16_t	(*r)[2];	/* inclusive ranges */
};

struct methods {
	bool		 set, neg, any;
	int		 n;
	char		**m;
};

struct rule {
	int		 line;
	bool		 disabled, deny;
	char		*redirect;
	struct addr	 src, dst;
	struct ports	 dport, lport;
	struct methods	 meth;
	struct pat	 host, path;
	const char	*gram;		/* rules_index_build: 3 bytes of a run, its index key */
	int		 gram_kind;	/* IK_HGRAM or IK_PGRAM */
};

struct rlist {
	struct rule	*r;
	int		 n;
	bool		 uses_lport;
	struct rindex	 ix;
};

struct rules {
	struct rlist	 l[RULES_NLISTS];
	pcre2_match_data *md;	/* scratch; see rules.h */
};

#endif
