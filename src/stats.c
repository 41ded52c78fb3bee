/* stats.c — the shared statistics segment: create, map, fold, sum. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "viaduct.h"
#include "stats.h"
#include "util.h"

static size_t
stats_size(uint32_t nslots)
{
	return sizeof(struct stats_hdr) + (size_t)nslots * sizeof(struct stats_slot);
}

int
stats_slot_reserve(struct stats_slot *s, const uint32_t rules_n[RULES_NLISTS])
{
	if (vd_populate(s, offsetof(struct stats_slot, rule_hits)) == -1)
		return -1;
	for (int l = 0; l < RULES_NLISTS; l++)
		if (vd_populate(s->rule_hits[l], (size_t)(rules_n[l] < RULES_MAX ?
		    rules_n[l] : RULES_MAX) * sizeof(s->rule_hits[l][0])) == -1)
			return -1;
	return 0;
}

struct stats_hdr *
stats_create(const char *path, uint32_t nslots, size_t *maplen)
{
	struct stats_hdr *h;
	size_t len = stats_size(nslots);
	int fd, saved;

	/* A fresh file each start: a viaductctl still mapping the old one
	 * keeps reading it, never a half-initialised header. */
	if (unlink(path) == -1 && errno != ENOENT)
		return NULL;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1)
		return NULL;
	if (ftruncate(fd, (off_t)len) == -1)
		goto fail;
	h = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		goto fail;
	close(fd);
	/* no read-around: on a disk file each first touch of a slot would read
	 * 128 KiB of the sparse segment into every process's RSS (VmHWM 19 MB
	 * per worker from a walk over the slots' pids); inherited by forks */
	(void)madvise(h, len, MADV_RANDOM);
	/* no memset: the file is new, so it reads as zeros, and touching it
	 * would back every page of every slot's sparse rule-hit table.  What
	 * the master writes (the header, its slots, retired's folds) is
	 * backed now: on a full run-dir tmpfs a store would be a SIGBUS. */
	if (vd_populate(h, offsetof(struct stats_hdr, slots)) == -1) {
		saved = errno;
		munmap(h, len);
		unlink(path);
		errno = saved;
		return NULL;
	}
	h->version = STATS_VERSION;
	h->nslots = nslots;
	h->master_pid = getpid();
	h->started = time(NULL);
	h->magic = STATS_MAGIC;		/* last: readers check it first */
	*maplen = len;
	return h;
fail:
	saved = errno;
	close(fd);
	unlink(path);
	errno = saved;
	return NULL;
}

const struct stats_hdr *
stats_open_ro(const char *path, size_t *maplen)
{
	const struct stats_hdr *h;
	struct stat st;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		goto fail;
	if ((size_t)st.st_size < sizeof(struct stats_hdr)) {
		errno = EINVAL;
		goto fail;
	}
	h = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		goto fail;
	close(fd);
	(void)madvise((void *)h, (size_t)st.st_size, MADV_RANDOM);	/* see stats_create */
	if (h->magic != STATS_MAGIC || h->version != STATS_VERSION ||
	    stats_size(h->nslots) > (size_t)st.st_size) {
		munmap((void *)h, (size_t)st.st_size);
		errno = EINVAL;
		return NULL;
	}
	*maplen = (size_t)st.st_size;
	return h;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return NULL;
}

void
stats_unmap(const void *map, size_t maplen)
{
	if (map != NULL)
		munmap((void *)map, maplen);
}

/* The rules s counts hits for, list l: never beyond the table. */
static uint32_t
rules_of(const struct stats_slot *s, int l)
{
	uint32_t n = s->rules_n[l];

	return n < RULES_MAX ? n : RULES_MAX;
}

/* Only the rules both have: out's table is set no further (stats_sum). */
static void
add_rule_hits(struct stats_slot *out, const struct stats_slot *s)
{
	for (int l = 0; l < RULES_NLISTS; l++) {
		uint32_t n = rules_of(s, l);

		if (n > out->rules_n[l])
			n = out->rules_n[l];
		for (uint32_t i = 0; i < n; i++)
			out->rule_hits[l][i] += s->rule_hits[l][i];
	}
}

/*
 * Fold the rule hits into retired and clear them, writing only the entries
 * that are not zero: a plain memset would back every page of a sparse slot,
 * and reading beyond the rules the process had would back them too.
 */
static void
retire_rule_hits(struct stats_slot *out, struct stats_slot *s)
{
	for (int l = 0; l < RULES_NLISTS; l++) {
		uint32_t n = rules_of(s, l);

		for (uint32_t i = 0; i < n; i++)
			if (s->rule_hits[l][i] != 0) {
				out->rule_hits[l][i] += s->rule_hits[l][i];
				s->rule_hits[l][i] = 0;
			}
		if (n > out->rules_n[l])
			out->rules_n[l] = n;
	}
}

/* Clear s's rule hits, writing only those that are not zero. */
static void
clear_rule_hits(struct stats_slot *s)
{
	for (int l = 0; l < RULES_NLISTS; l++) {
		uint32_t n = rules_of(s, l);

		for (uint32_t i = 0; i < n; i++)
			if (s->rule_hits[l][i] != 0)
				s->rule_hits[l][i] = 0;
	}
}

void
stats_retire(struct stats_hdr *h, struct stats_slot *s)
{
#define STATS_X(f, name, kind, help)	if (kind == COUNTER) h->retired.f += s->f;
	STATS_FIELDS(STATS_X)
#undef STATS_X
	if (s->rules_epoch == h->rules_epoch)
		retire_rule_hits(&h->retired, s);
	else
		clear_rule_hits(s);	/* hits of rules that moved since */
	memset(s, 0, offsetof(struct stats_slot, rule_hits));
}

void
stats_rules_changed(struct stats_hdr *h)
{
	clear_rule_hits(&h->retired);
	memset(h->retired.rules_n, 0, sizeof(h->retired.rules_n));
	h->rules_epoch++;
	h->retired.rules_epoch = h->rules_epoch;
}

uint32_t
stats_slots_used(const struct stats_hdr *h)
{
	/* 0: a segment no master filled (unit tests): all of them */
	return h->slots_used > 0 && h->slots_used < h->nslots ? h->slots_used : h->nslots;
}

static void
add_slot(struct stats_slot *out, const struct stats_slot *s)
{
#define STATS_X(f, name, kind, help)	out->f += s->f;
	STATS_FIELDS(STATS_X)
#undef STATS_X
	if (s->rules_epoch == out->rules_epoch)
		add_rule_hits(out, s);
}

static void
widen_rules(struct stats_slot *out, const struct stats_slot *s)
{
	for (int l = 0; l < RULES_NLISTS && s->rules_epoch == out->rules_epoch; l++)
		if (rules_of(s, l) > out->rules_n[l])
			out->rules_n[l] = rules_of(s, l);
}

void
stats_sum(const struct stats_hdr *h, struct stats_slot *out)
{
	uint32_t n = stats_slots_used(h);

	memset(out, 0, offsetof(struct stats_slot, rule_hits));
	out->rules_epoch = h->rules_epoch;	/* the hits of the current rules only */
	/* how far out's rule table is used: the most rules of any slot; a free
	 * slot was zeroed by stats_retire, one never handed out is not read */
	widen_rules(out, &h->master);
	widen_rules(out, &h->cachemgr);
	widen_rules(out, &h->retired);
	for (uint32_t i = 0; i < n; i++)
		widen_rules(out, &h->slots[i]);
	for (int l = 0; l < RULES_NLISTS; l++)
		memset(out->rule_hits[l], 0, out->rules_n[l] * sizeof(out->rule_hits[l][0]));
	add_slot(out, &h->master);
	add_slot(out, &h->cachemgr);
	add_slot(out, &h->retired);
	for (uint32_t i = 0; i < n; i++)
		add_slot(out, &h->slots[i]);
}
