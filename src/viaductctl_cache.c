/*
 * viaductctl_cache.c — viaductctl's cache-contents and purge: the LMDB
 * index read (or, for purge, written) from outside the daemon, through
 * cache_store's API like any process of viaduct.
 */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pcre2.h>

#include "viaduct.h"
#include "cache_key.h"
#include "cache_store.h"
#include "conf.h"
#include "router.h"
#include "viaductctl.h"

struct centry {
	char		*uri;
	uint64_t	 size;
	int64_t		 accessed, modified, expires;
};

enum csort { SORT_NONE, SORT_URI, SORT_SIZE, SORT_ACCESSED };

#define CONTENTS_CHUNK	1024	/* objects per read snapshot */

struct contents {
	const char	*pattern;	/* fnmatch(3) on the URL, NULL: all */
	enum csort	 sort;
	size_t		 limit;		/* 0: no limit */
	bool		 json;
	size_t		 shown;
	struct centry	*heap;		/* sort: the best `limit` so far, worst on top */
	size_t		 nheap;
	pcre2_code	*re;		/* purge --match */
	struct cache_key *keys;		/* purge: what to delete */
	size_t		 nkeys, capkeys;
	struct centry	*pend;		/* unsorted: this chunk's, printed after it */
	size_t		 npend, cappend;
};

/* Sort order: uri ascending, size and last access descending (biggest, newest first). */
static int
centry_cmp(const struct centry *a, const struct centry *b, enum csort s)
{
	if (s == SORT_SIZE && a->size != b->size)
		return a->size > b->size ? -1 : 1;
	if (s == SORT_ACCESSED && a->accessed != b->accessed)
		return a->accessed > b->accessed ? -1 : 1;
	return strcmp(a->uri, b->uri);
}

static void
fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == CACHE_TIME_UNSET || t == CACHE_TIME_INVALID || t <= 0 ||
	    gmtime_r(&tt, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
centry_print(struct contents *ct, const struct centry *e)
{
	char a[32], m[32], x[32];

	if (ct->json) {
		printf("%s{\"uri\": ", ct->shown > 0 ? ", " : "");
		ctl_json_str(e->uri);
		printf(", \"file-size\": %llu", (unsigned long long)e->size);
		fmt_time(e->accessed, a, sizeof(a));
		fmt_time(e->modified, m, sizeof(m));
		fmt_time(e->expires, x, sizeof(x));
		printf(", \"last-accessed\": \"%s\", \"last-modified\": \"%s\", "
		    "\"expires\": \"%s\"}", a, m, x);
	} else {
		fmt_time(e->accessed, a, sizeof(a));
		fmt_time(e->modified, m, sizeof(m));
		fmt_time(e->expires, x, sizeof(x));
		printf("%12llu %-20s %-20s %-20s %s\n", (unsigned long long)e->size, a, m, x,
		    e->uri);
	}
	ct->shown++;
}

static void
heap_sift(struct contents *ct, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		struct centry t;

		/* a max-heap by the sort order: the worst kept entry on top */
		if (l < ct->nheap && centry_cmp(&ct->heap[l], &ct->heap[w], ct->sort) > 0)
			w = l;
		if (r < ct->nheap && centry_cmp(&ct->heap[r], &ct->heap[w], ct->sort) > 0)
			w = r;
		if (w == i)
			return;
		t = ct->heap[i];
		ct->heap[i] = ct->heap[w];
		ct->heap[w] = t;
		i = w;
	}
}

/* Heapsort in place: the worst goes last, so the array ends up in order. */
static void
heap_sort(struct contents *ct)
{
	size_t n = ct->nheap;

	while (ct->nheap > 1) {
		struct centry t = ct->heap[0];

		ct->heap[0] = ct->heap[ct->nheap - 1];
		ct->heap[ct->nheap - 1] = t;
		ct->nheap--;
		heap_sift(ct, 0);
	}
	ct->nheap = n;
}

static void
heap_push(struct contents *ct, struct centry *e)
{
	size_t i;

	if (ct->nheap == ct->limit) {
		if (centry_cmp(e, &ct->heap[0], ct->sort) >= 0)
			return;
		free(ct->heap[0].uri);
		ct->heap[0] = *e;
		if ((ct->heap[0].uri = strdup(e->uri)) == NULL)
			ctl_die("out of memory");
		heap_sift(ct, 0);
		return;
	}
	i = ct->nheap++;
	ct->heap[i] = *e;
	if ((ct->heap[i].uri = strdup(e->uri)) == NULL)
		ctl_die("out of memory");
	while (i > 0 && centry_cmp(&ct->heap[i], &ct->heap[(i - 1) / 2], ct->sort) > 0) {
		struct centry t = ct->heap[i];

		ct->heap[i] = ct->heap[(i - 1) / 2];
		ct->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static int
contents_cb(void *arg, const struct cache_key *k, const struct cache_obj *o)
{
	struct contents *ct = arg;
	char uri[8192];
	struct centry e;
	size_t n = o->url.len < sizeof(uri) - 1 ? o->url.len : sizeof(uri) - 1;

	if (o->flags & CACHE_OBJ_VARY)
		return VD_OK;	/* a marker; its variants are listed */
	memcpy(uri, o->url.p, n);
	uri[n] = '\0';
	if (ct->re != NULL) {
		pcre2_match_data *md = pcre2_match_data_create_from_pattern(ct->re, NULL);
		int rc = md != NULL ? pcre2_match(ct->re, (PCRE2_SPTR)uri, n, 0, 0, md, NULL) : -1;

		pcre2_match_data_free(md);
		if (rc < 0)
			return VD_OK;
		if (ct->nkeys == ct->capkeys) {
			ct->capkeys = ct->capkeys ? 2 * ct->capkeys : 64;
			if ((ct->keys = realloc(ct->keys, ct->capkeys * sizeof(*k))) == NULL)
				ctl_die("out of memory");
		}
		ct->keys[ct->nkeys++] = *k;
		return VD_OK;
	}
	if (ct->pattern != NULL && fnmatch(ct->pattern, uri, 0) != 0)
		return VD_OK;
	e = (struct centry){ uri, o->body_size, o->last_access, o->resp.last_modified,
	    o->resp.expires };
	if (ct->sort != SORT_NONE) {
		heap_push(ct, &e);
		return VD_OK;
	}
	if (ct->npend == ct->cappend) {
		ct->cappend = ct->cappend ? 2 * ct->cappend : CONTENTS_CHUNK;
		if ((ct->pend = realloc(ct->pend, ct->cappend * sizeof(*ct->pend))) == NULL)
			ctl_die("out of memory");
	}
	ct->pend[ct->npend] = e;
	if ((ct->pend[ct->npend++].uri = strdup(uri)) == NULL)
		ctl_die("out of memory");
	return ct->limit > 0 && ct->shown + ct->npend >= ct->limit ? VD_DONE : VD_OK;
}

/*
 * The index in chunks, each read in its own short snapshot and printed
 * after it: output that waits (a pipe to a pager nobody scrolls) must not
 * hold a snapshot, whose pages no insert may reuse meanwhile (it filled
 * the map, and nothing was stored until the pager quit).
 */
static int
contents_walk(struct cache_reader *rd, struct contents *ct)
{
	struct cache_key from, next;
	bool first = true;
	int rc;

	for (;;) {
		rc = cache_store_iter_from(rd, first ? NULL : &from, CONTENTS_CHUNK,
		    contents_cb, ct, &next);
		for (size_t i = 0; i < ct->npend; i++) {
			centry_print(ct, &ct->pend[i]);
			free(ct->pend[i].uri);
		}
		ct->npend = 0;
		if (rc != VD_OK)
			return rc;
		from = next;
		first = false;
	}
}

/* Open the cache index (read-only unless purging); exit 1 with one line if impossible. */
static void
open_store(const struct vd_conf *conf, struct cache_store *cs, bool rw)
{
	struct cache_store_conf c;
	char path[PATH_MAX];
	int rc;

	rc = cache_store_conf_init(&c, conf, path, sizeof(path));
	if (rc == VD_DECLINED)
		ctl_die("the configuration has no cache (max-cache-size=none)");
	if (rc != VD_OK)
		ctl_die("cache path too long");
	c.read_only = !rw;
	if (access(path, F_OK) == -1)
		ctl_die("cannot open cache %s: %s", path, strerror(errno));
	if (cache_store_open(cs, &c) != VD_OK)
		ctl_die("cannot open cache index in %s", path);
}

int
ctl_contents_cmd(const char *file, int argc, char **argv)
{
	struct contents ct;
	struct cache_store cs;
	struct cache_reader rd;
	struct vd_conf *conf;
	char *end;
	int rc;

	memset(&ct, 0, sizeof(ct));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			ct.json = true;
		else if (strcmp(argv[i], "--sort") == 0 && i + 1 < argc) {
			i++;
			ct.sort = strcmp(argv[i], "uri") == 0 ? SORT_URI :
			    strcmp(argv[i], "size") == 0 ? SORT_SIZE :
			    strcmp(argv[i], "accessed") == 0 ? SORT_ACCESSED : SORT_NONE;
			if (ct.sort == SORT_NONE)
				ctl_die("--sort wants uri, size or accessed");
		} else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
			ct.limit = (size_t)strtoull(argv[++i], &end, 10);
			if (*end != '\0' || ct.limit < 1 || ct.limit > 10000000)
				ctl_die("--limit wants a number, 1 to 10000000");
		} else if (argv[i][0] != '-' && ct.pattern == NULL)
			ct.pattern = argv[i];
		else
			ctl_usage();
	}
	/* memory stays bounded: a sort keeps only the best N (a heap) */
	if (ct.sort != SORT_NONE && ct.limit == 0)
		ct.limit = 1000;
	if (ct.sort != SORT_NONE && (ct.heap = calloc(ct.limit, sizeof(*ct.heap))) == NULL)
		ctl_die("out of memory");
	conf = ctl_load(file, false);
	open_store(conf, &cs, false);
	if (cache_reader_init(&cs, &rd) != VD_OK)
		ctl_die("cannot read the cache index");
	if (ct.json)
		printf("[");
	else
		printf("%12s %-20s %-20s %-20s %s\n", "FILE-SIZE", "LAST-ACCESSED",
		    "LAST-MODIFIED", "EXPIRES", "URI");
	rc = contents_walk(&rd, &ct);
	cache_reader_free(&rd);
	cache_store_close(&cs);
	free(ct.pend);
	if (rc != VD_OK && rc != VD_DONE)
		ctl_die("reading the cache index failed");
	heap_sort(&ct);
	for (size_t i = 0; i < ct.nheap; i++) {
		centry_print(&ct, &ct.heap[i]);
		free(ct.heap[i].uri);
	}
	if (ct.json)
		printf("]\n");
	free(ct.heap);
	conf_free(conf);
	return 0;
}

/* purge URL | purge --match REGEX: delete through write transactions. */
int
ctl_purge_cmd(const char *file, int argc, char **argv)
{
	struct contents ct;
	struct cache_store cs;
	struct cache_reader rd;
	struct cache_key k[2];
	struct vd_conf *conf;
	struct router *rt;
	char nurl[8192], err_rt[256];
	const char *oh;
	uint16_t op = 0;
	size_t nlen, gone = 0;
	int err, rc;
	PCRE2_SIZE off;

	memset(&ct, 0, sizeof(ct));
	if (argc == 3 && strcmp(argv[1], "--match") == 0) {
		ct.re = pcre2_compile((PCRE2_SPTR)argv[2], PCRE2_ZERO_TERMINATED, 0, &err,
		    &off, NULL);
		if (ct.re == NULL)
			ctl_die("--match: bad regular expression at offset %zu", (size_t)off);
	} else if (argc != 2 || argv[1][0] == '-')
		ctl_usage();
	conf = ctl_load(file, false);
	open_store(conf, &cs, true);
	if (ct.re == NULL) {
		if (cache_key_url_norm(argv[1], strlen(argv[1]), nurl, sizeof(nurl), &nlen) != VD_OK)
			ctl_die("not an absolute http URL: %s", argv[1]);
		/* a reverse port's object of the URL too (cache_key_all()) */
		if ((rt = router_create(conf, err_rt, sizeof(err_rt))) == NULL)
			ctl_die("%s", err_rt);
		if (router_reverse_url(rt, nurl, nlen, &oh, &op) != VD_OK)
			oh = NULL;
		ct.keys = k;
		ct.nkeys = (size_t)cache_key_all(nurl, nlen, oh, op, k);
		router_free(rt);
	} else {
		if (cache_reader_init(&cs, &rd) != VD_OK)
			ctl_die("cannot read the cache index");
		rc = cache_store_iter(&rd, contents_cb, &ct);
		cache_reader_free(&rd);
		if (rc != VD_OK && rc != VD_DONE)
			ctl_die("reading the cache index failed");
	}
	for (size_t i = 0; i < ct.nkeys; i++) {
		/* a URL: all its variants too; --match: each object found */
		rc = ct.re == NULL ? cache_store_invalidate(&cs, &ct.keys[i], (int64_t)time(NULL)) :
		    cache_store_delete(&cs, &ct.keys[i]);
		if (rc == VD_OK)
			gone++;
		else if (rc != VD_DECLINED)
			ctl_die("cannot delete from the cache index");
	}
	cache_store_close(&cs);
	if (ct.re != NULL) {
		pcre2_code_free(ct.re);
		free(ct.keys);
	}
	printf("%zu object%s purged\n", gone, gone == 1 ? "" : "s");
	conf_free(conf);
	return ct.re == NULL && gone == 0 ? 1 : 0;
}
