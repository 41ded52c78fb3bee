/*
 * rules_index.h — the index of a compiled rule list (rules_index.c),
 * private to the rules module.
 *
 * Each enabled rule whose most selective classifier can be looked up by
 * equality sits in one bucket of a hash table, under a key of one of the
 * kinds below; every other enabled rule is on `lin`, in order.  A bucket
 * and `lin` hold rule positions in increasing order, and a rule is in
 * exactly one of them, so a merge by position visits the candidates in
 * list order and first-match-wins is unchanged.
 *
 * rules_index_build() runs once per list at load, after every rule of the
 * list compiled without error; VD_ERR only when out of memory.  Whatever
 * it allocated is freed by rules_index_free(), which the list's owner calls
 * in every case.  rules_index_candidates() runs per request and allocates
 * nothing.
 */
#ifndef VD_RULES_INDEX_H
#define VD_RULES_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "viaduct.h"
#include "rules.h"

struct rlist;

#define RULES_GRAM_WORDS 16	/* a 1024-bit filter of the trigram keys of a list */

enum ikind {
	IK_HOST = 1,	/* dst-host=name: the whole (lower-case) host */
	IK_HSUF,	/* dst-host=*.domain: ".domain", a host suffix at a dot */
	IK_PSUF,	/* path=*.ext: a path suffix that starts with '.' or '/' */
	IK_SRC4,	/* src-address=a.b.c.d/n: the masked address, n in aux */
	IK_SRC6,	/* src-address=x::/n */
	IK_HLABEL,	/* dst-host regex: a whole label its literal must contain */
	IK_PSEG,	/* path regex: a whole /segment/ its literal must contain */
	IK_DPORT,	/* dst-port=n, one port */
	IK_HGRAM,	/* any other host pattern: 3 bytes its every match contains */
	IK_PGRAM,	/* the same for a path pattern */
};

struct ient {
	uint64_t	 h;		/* 0: empty slot */
	const uint8_t	*key;		/* borrowed from the rule */
	uint32_t	 klen;
	uint8_t		 kind, aux;
	uint32_t	 off, n;	/* positions pos[off .. off+n) */
};

struct rindex {
	struct ient	*tab;
	uint32_t	 mask;		/* table size - 1 */
	int		*pos;
	int		*lin;		/* enabled rules on no bucket, in order */
	int		 nlin;
	size_t		 maxhsuf, maxpsuf;	/* longest IK_HSUF / IK_PSUF key */
	bool		 has_host, has_label, has_pseg, has_dport, has_hgram, has_pgram;
	uint64_t	 gbits[2][RULES_GRAM_WORDS];	/* IK_HGRAM, IK_PGRAM keys present */
	uint64_t	 plen4;		/* bit n: some IK_SRC4 key has prefix n */
	uint64_t	 plen6[3];	/* the same for IK_SRC6, 0..128 */
};

/*
 * Candidate cursors, each a run of increasing positions: `lin`, then the
 * buckets the request's keys hit.  Only buckets that exist take a cursor,
 * so the count is small; past RULES_MAXCUR (a host of many labels that each
 * name a configured suffix), -1 asks for the plain walk, which is always
 * right.
 */
#define RULES_MAXCUR	64

struct rules_cur {
	const int	*p, *e;
};

/* Fills the index of l (its rules compiled, l->ix zero). */
int	rules_index_build(struct rlist *l);
void	rules_index_free(struct rindex *ix);

/*
 * The cursors of a request into c[RULES_MAXCUR]: `lin` first (c[0], when
 * there is any), then one per bucket that a key of the request hits.  host
 * is the request's host in lower case (the keys are).  Returns how many,
 * or -1 when they would not fit (walk the whole list instead).
 */
int	rules_index_candidates(const struct rindex *ix, const struct rules_req *q,
	    struct vd_str host, struct rules_cur *c);

#endif
