/*
 * cachemgr.c — the cache manager: size, expiry, orphans and stale reader
 * slots of the shared store, in short steps on the event loop (cachemgr.h).
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache_atime.h"
#include "cachemgr.h"
#include "conf.h"
#include "event.h"
#include "log.h"
#include "privdrop.h"
#include "signals.h"
#include "stats.h"

/* Stale objects that can be revalidated are kept this long when max-fresh-time is off. */
#define KEEP_VALIDATABLE_S	(7 * 86400)

/* ------------------------------------------------------------ decisions */

bool
cachemgr_enabled(const struct vd_conf *conf)
{
	return conf->max_cache_size != CONF_SIZE_NONE;
}

uint64_t
cachemgr_obj_bytes(const struct cache_obj *o)
{
	return cache_store_obj_bytes(o);	/* one definition: the store's "used" total */
}

int64_t
cachemgr_access_time(const struct cache_obj *o)
{
	return o->last_access > 0 ? o->last_access : o->resp.response_time;
}

static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

bool
cachemgr_expired(const struct cache_obj *o, int64_t now, int64_t max_fresh_time)
{
	const struct cache_cc *cc = &o->resp.cc;
	int64_t life, age, window;

	if (o->flags & CACHE_OBJ_VARY)
		return false;		/* the variants behind it age out by LRU */
	life = cache_freshness_lifetime(&o->resp, max_fresh_time, NULL);
	age = cache_current_age(&o->resp, now);
	/* RFC 5861: within either window a stale response may still be served */
	window = max64(0, max64(cc->stale_while_revalidate, cc->stale_if_error));
	if (o->etag.len > 0 || o->last_modified.len > 0)
		window = max64(window, max_fresh_time > 0 ? max_fresh_time : KEEP_VALIDATABLE_S);
	if (life > INT64_MAX - window)
		return false;
	return age >= life + window;
}

uint64_t
cachemgr_low_water(int64_t max_size)
{
	if (max_size <= 0 || max_size == INT64_MAX)
		return UINT64_MAX;
	return (uint64_t)max_size - (uint64_t)max_size / 16;
}

/* ------------------------------------------------------------ totals */

static const struct {
	const char	*name;
	size_t		 off;
	bool		 counter;
} stat_fields[CACHEMGR_NSTATS] = {
#define STATS_X(f, n, kind, help)	{ n, offsetof(struct stats_slot, f), kind == COUNTER },
	STATS_FIELDS(STATS_X)
#undef STATS_X
};

const char *
cachemgr_stat_name(int i)
{
	return i >= 0 && i < CACHEMGR_NSTATS ? stat_fields[i].name : NULL;
}

bool
cachemgr_stat_counter(int i)
{
	return i >= 0 && i < CACHEMGR_NSTATS && stat_fields[i].counter;
}

static void
add_fields(const struct stats_slot *s, uint64_t out[CACHEMGR_NSTATS])
{
	for (int i = 0; i < CACHEMGR_NSTATS; i++)
		out[i] += *(const uint64_t *)(const void *)((const char *)s + stat_fields[i].off);
}

void
cachemgr_stats_sum(const struct stats_hdr *h, uint64_t out[CACHEMGR_NSTATS])
{
	memset(out, 0, CACHEMGR_NSTATS * sizeof(*out));
	add_fields(&h->master, out);
	add_fields(&h->cachemgr, out);
	add_fields(&h->retired, out);
	for (uint32_t i = 0; i < stats_slots_used(h); i++)
		add_fields(&h->slots[i], out);
}

size_t
cachemgr_totals_encode(const struct cachemgr_totals *t, char *buf, size_t size)
{
	size_t off;
	int n;

	n = snprintf(buf, size, "viaduct-totals 1\nsegment %" PRId64 " %" PRId64 "\n",
	    t->seg_pid, t->seg_started);
	if (n < 0 || (size_t)n >= size)
		return 0;
	off = (size_t)n;
	for (int i = 0; i < CACHEMGR_NSTATS; i++) {
		if (!stat_fields[i].counter)
			continue;
		n = snprintf(buf + off, size - off, "%s %" PRIu64 " %" PRIu64 "\n",
		    stat_fields[i].name, t->base[i], t->last[i]);
		if (n < 0 || (size_t)n >= size - off)
			return 0;
		off += (size_t)n;
	}
	return off;
}

static int
stat_index(const char *name)
{
	for (int i = 0; i < CACHEMGR_NSTATS; i++)
		if (stat_fields[i].counter && strcmp(stat_fields[i].name, name) == 0)
			return i;
	return -1;
}

int
cachemgr_totals_decode(const char *p, size_t len, struct cachemgr_totals *t)
{
	char line[160], name[64];
	const char *end = p + len, *nl;
	unsigned long long b, l;
	long long pid, started;
	int i, lineno = 0;

	memset(t, 0, sizeof(*t));
	for (; p < end; p = nl + 1, lineno++) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    (size_t)(nl - p) >= sizeof(line))
			return VD_ERR;
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		if (lineno == 0) {
			if (strcmp(line, "viaduct-totals 1") != 0)
				return VD_ERR;
		} else if (lineno == 1) {
			if (sscanf(line, "segment %lld %lld", &pid, &started) != 2)
				return VD_ERR;
			t->seg_pid = pid;
			t->seg_started = started;
		} else if (sscanf(line, "%63s %llu %llu", name, &b, &l) != 3) {
			return VD_ERR;
		} else if ((i = stat_index(name)) >= 0) {
			t->base[i] = b;
			t->last[i] = l;
		}
	}
	return lineno >= 2 ? VD_OK : VD_ERR;
}

void
cachemgr_totals_update(struct cachemgr_totals *t, int64_t seg_pid, int64_t seg_started,
    const uint64_t sum[CACHEMGR_NSTATS])
{
	bool same = t->seg_pid == seg_pid && t->seg_started == seg_started;

	for (int i = 0; i < CACHEMGR_NSTATS; i++) {
		if (!stat_fields[i].counter)
			continue;
		if (!same)
			t->base[i] += t->last[i];	/* what the last segment had counted */
		t->last[i] = sum[i];
	}
	t->seg_pid = seg_pid;
	t->seg_started = seg_started;
}

void
cachemgr_totals_since_install(const struct cachemgr_totals *t, int64_t seg_pid,
    int64_t seg_started, const uint64_t sum[CACHEMGR_NSTATS], uint64_t out[CACHEMGR_NSTATS])
{
	struct cachemgr_totals now = *t;

	cachemgr_totals_update(&now, seg_pid, seg_started, sum);
	for (int i = 0; i < CACHEMGR_NSTATS; i++)
		out[i] = stat_fields[i].counter ? now.base[i] + now.last[i] : sum[i];
}

/* ------------------------------------------------------------ LRU heap */

static void
lru_swap(struct cache_victim *a, struct cache_victim *b)
{
	struct cache_victim t = *a;

	*a = *b;
	*b = t;
}

static void
lru_down(struct cache_victim *v, size_t n, size_t i)
{
	size_t c;

	for (; (c = 2 * i + 1) < n; i = c) {
		if (c + 1 < n && v[c + 1].atime > v[c].atime)
			c++;
		if (v[i].atime >= v[c].atime)
			return;
		lru_swap(&v[i], &v[c]);
	}
}

void
cachemgr_lru_offer(struct cachemgr_lru *l, const struct cache_victim *x)
{
	size_t i, p;

	if (l->cap == 0)
		return;
	if (l->n < l->cap) {
		/* sift up: the root is the youngest of the oldest kept */
		for (i = l->n++, l->v[i] = *x; i > 0; i = p) {
			p = (i - 1) / 2;
			if (l->v[p].atime >= l->v[i].atime)
				break;
			lru_swap(&l->v[p], &l->v[i]);
		}
		return;
	}
	if (x->atime >= l->v[0].atime)
		return;
	l->v[0] = *x;
	lru_down(l->v, l->n, 0);
}

void
cachemgr_lru_sort(struct cachemgr_lru *l)
{
	size_t n;

	/* heapsort on the max-heap leaves ascending order */
	for (n = l->n; n > 1; n--) {
		lru_swap(&l->v[0], &l->v[n - 1]);
		lru_down(l->v, n - 1, 0);
	}
	l->next = 0;
}

/* ------------------------------------------------------------ the pass */

int
cachemgr_init(struct cachemgr *m, struct cache_store *cs, int64_t max_size,
    int64_t max_fresh_time)
{
	memset(m, 0, sizeof(*m));
	m->cs = cs;
	m->max_size = max_size;
	m->max_fresh_time = max_fresh_time;
	m->phase = CM_IDLE;
	if ((m->lru.v = calloc(CACHEMGR_LRU_MAX, sizeof(*m->lru.v))) == NULL)
		return VD_ERR;
	m->lru.cap = CACHEMGR_LRU_MAX;
	if (cache_reader_init(cs, &m->rd) != VD_OK) {
		free(m->lru.v);
		m->lru.v = NULL;
		return VD_ERR;
	}
	return VD_OK;
}

void
cachemgr_free(struct cachemgr *m)
{
	cache_reader_free(&m->rd);
	free(m->lru.v);
	free(m->ids);
	m->lru.v = NULL;
	m->ids = NULL;
}

int
cachemgr_reader_check(struct cachemgr *m)
{
	int dead;

	if (cache_store_reader_check(m->cs, &dead) != VD_OK)
		return -1;
	m->c.readers_cleared += (uint64_t)dead;
	if (dead > 0)
		log_notice("cleared %d stale LMDB reader slot%s", dead, dead == 1 ? "" : "s");
	return dead;
}

static void
ids_add(struct cachemgr *m, uint64_t id)
{
	uint64_t *n;
	size_t cap;

	if (m->ids_failed)
		return;
	if (m->nids == m->capids) {
		cap = m->capids ? 2 * m->capids : 1024;
		if ((n = realloc(m->ids, cap * sizeof(*n))) == NULL) {
			m->ids_failed = true;	/* skip the orphan sweep, never guess */
			return;
		}
		m->ids = n;
		m->capids = cap;
	}
	m->ids[m->nids++] = id;
}

static void
victim_of(struct cache_victim *v, const struct cache_key *k, const struct cache_obj *o)
{
	v->key = *k;
	v->atime = cachemgr_access_time(o);
	v->response_time = o->resp.response_time;
	v->body_file = (o->flags & CACHE_OBJ_BODY_FILE) ? o->body_file : 0;
	v->bytes = cachemgr_obj_bytes(o);
	v->removed = false;
}

static int
scan_cb(void *arg, const struct cache_key *k, const struct cache_obj *o)
{
	struct cachemgr *m = arg;
	struct cache_victim v;

	victim_of(&v, k, o);
	if (m->ndoomed < VD_ARRLEN(m->doomed) &&
	    cachemgr_expired(o, m->now, m->max_fresh_time)) {
		m->doomed[m->ndoomed++] = v;
		return VD_OK;
	}
	m->scan_bytes += v.bytes;
	m->objects++;
	if (m->max_size != INT64_MAX)
		cachemgr_lru_offer(&m->lru, &v);
	if (v.body_file != 0)
		ids_add(m, v.body_file);
	return VD_OK;
}

/* Remove victims in batches of at most CACHE_EVICT_MAX; bytes freed into *freed. */
static int
remove_victims(struct cachemgr *m, struct cache_victim *v, size_t n, uint64_t *count,
    uint64_t *freed)
{
	size_t i, b;
	int rc;

	for (; n > 0; v += b, n -= b) {
		b = n < CACHE_EVICT_MAX ? n : CACHE_EVICT_MAX;
		if ((rc = cache_store_evict(m->cs, v, b)) != VD_OK)
			return rc;
		for (i = 0; i < b; i++)
			if (v[i].removed) {
				(*count)++;
				*freed += v[i].bytes;
			}
	}
	return VD_OK;
}

static void
pass_begin(struct cachemgr *m)
{
	m->phase = CM_SCAN;
	m->pass_start = m->now;
	m->cursor_set = false;
	m->ids_failed = false;
	m->again = false;
	m->scan_bytes = 0;
	m->objects = 0;
	m->nids = 0;
	m->lru.n = 0;
	m->lru.next = 0;
	m->bucket = 0;
	m->used_unknown = cache_store_used(&m->rd, &(uint64_t){ 0 }) == VD_DECLINED;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
scan_done(struct cachemgr *m)
{
	m->used = m->scan_bytes;
	/* a store from before the "used" total: this scan is the best count
	 * there is (inserts racing the scan are its error) */
	if (m->used_unknown && cache_store_used_init(m->cs, m->used) == VD_OK)
		log_info("cache: counted %llu bytes in the store", (unsigned long long)m->used);
	if (m->nids > 1)
		qsort(m->ids, m->nids, sizeof(*m->ids), cmp_u64);
	if (m->used > cachemgr_low_water(m->max_size) &&
	    m->used > (uint64_t)m->max_size) {
		cachemgr_lru_sort(&m->lru);
		m->phase = CM_EVICT;
	} else {
		m->phase = CM_ORPHANS;
	}
}

static int
step_scan(struct cachemgr *m)
{
	struct cache_key next;
	uint64_t freed = 0;
	int rc;

	m->ndoomed = 0;
	rc = cache_store_iter_from(&m->rd, m->cursor_set ? &m->cursor : NULL,
	    CACHEMGR_SCAN_CHUNK, scan_cb, m, &next);
	if (rc == VD_AGAIN)
		cachemgr_reader_check(m);	/* the readers table may be full */
	if (rc != VD_OK && rc != VD_DONE)
		return VD_ERR;
	/* the snapshot is released: now the short write txn */
	if (m->ndoomed > 0 &&
	    remove_victims(m, m->doomed, m->ndoomed, &m->c.expired, &freed) != VD_OK)
		return VD_ERR;
	for (size_t i = 0; i < m->ndoomed; i++)
		if (!m->doomed[i].removed) {	/* changed under us: count it as it was */
			m->scan_bytes += m->doomed[i].bytes;
			m->objects++;
		}
	if (rc == VD_OK) {
		m->cursor = next;
		m->cursor_set = true;
		return VD_AGAIN;
	}
	scan_done(m);
	return VD_AGAIN;
}

static int
step_evict(struct cachemgr *m)
{
	struct cachemgr_lru *l = &m->lru;
	uint64_t freed = 0, low = cachemgr_low_water(m->max_size);
	size_t n = l->n - l->next;
	int rc;

	if (n > CACHEMGR_EVICT_BATCH)
		n = CACHEMGR_EVICT_BATCH;
	/* never more than needed: the batch stops where low water is reached */
	for (size_t i = 0, need = m->used - low, sum = 0; i < n; i++) {
		sum += l->v[l->next + i].bytes;
		if (sum >= need) {
			n = i + 1;
			break;
		}
	}
	uint64_t before = m->c.evicted;
	rc = n > 0 ? remove_victims(m, &l->v[l->next], n, &m->c.evicted, &freed) : VD_OK;
	STATS_INC(cache_evicted, m->c.evicted - before);
	if (rc != VD_OK)
		return VD_ERR;
	l->next += n;
	m->used = freed < m->used ? m->used - freed : 0;
	if (m->used <= low)
		m->phase = CM_ORPHANS;
	else if (l->next == l->n) {
		/* candidates ran out: another pass finds the next oldest */
		m->again = l->n > 0;
		m->phase = CM_ORPHANS;
	}
	return VD_AGAIN;
}

static bool
referenced(void *arg, uint64_t id)
{
	struct cachemgr *m = arg;

	return bsearch(&id, m->ids, m->nids, sizeof(*m->ids), cmp_u64) != NULL;
}

static int
step_orphans(struct cachemgr *m)
{
	int n;

	if (m->ids_failed)
		m->bucket = 256;
	if (m->bucket < 256) {
		n = cache_store_body_sweep(m->cs, m->bucket++, referenced, m,
		    m->pass_start - CACHEMGR_ORPHAN_GRACE_S);
		if (n > 0)
			m->c.orphans += (uint64_t)n;
		return VD_AGAIN;
	}
	if ((n = cache_store_tmp_sweep(m->cs)) > 0)
		m->c.tmp_files += (uint64_t)n;
	m->phase = CM_IDLE;
	m->c.passes++;
	return VD_DONE;
}

int
cachemgr_step(struct cachemgr *m, int64_t now)
{
	int rc = VD_AGAIN;

	m->now = now;
	if (m->phase == CM_IDLE)
		pass_begin(m);
	switch (m->phase) {
	case CM_SCAN:
		rc = step_scan(m);
		break;
	case CM_EVICT:
		rc = step_evict(m);
		break;
	case CM_ORPHANS:
		rc = step_orphans(m);
		break;
	case CM_IDLE:
		break;
	}
	if (rc == VD_ERR)
		m->phase = CM_IDLE;
	return rc;
}

/* ------------------------------------------------------------ the process */

struct cmproc {
	struct ev_loop		 loop;
	struct ev_io		 sig;
	struct ev_io		 master;
	struct ev_timer		 work;
	struct ev_timer		 rcheck;
	struct ev_timer		 gauge;
	struct ev_timer		 totals_t;
	struct ev_io		 atime;		/* the workers' access times */
	struct ev_timer		 atime_t;	/* ... written once a second */
	struct cache_atime_rx	 rx;
	struct cachemgr_totals	 totals;
	const struct stats_hdr	*hdr;		/* NULL: no segment (tests) */
	struct cache_store	 cs;
	struct cachemgr		 m;
	struct cachemgr_counts	 logged;
	char			 in[256];	/* a partial line from the master */
	size_t			 inlen;
};

/* The cumulative statistics into the store (see cachemgr.h). */
static void
totals_write(struct cmproc *p)
{
	uint64_t sum[CACHEMGR_NSTATS];
	char buf[8192];
	size_t len;
	int rc;

	if (p->hdr == NULL || p->cs.env == NULL)
		return;
	cachemgr_stats_sum(p->hdr, sum);
	cachemgr_totals_update(&p->totals, p->hdr->master_pid, p->hdr->started, sum);
	if ((len = cachemgr_totals_encode(&p->totals, buf, sizeof(buf))) == 0) {
		log_warnx("cache: cumulative statistics do not fit in %zu bytes", sizeof(buf));
		return;
	}
	if ((rc = cache_store_meta_put(&p->cs, CACHEMGR_TOTALS_KEY, buf, len)) != VD_OK)
		log_warnx("cache: cannot save the cumulative statistics (%s)",
		    rc == CACHE_STORE_FULL ? "store full" : "store error");
}

/* The last snapshot, whichever segment wrote it; none: all zero. */
static void
totals_read(struct cmproc *p)
{
	struct vd_str v;

	memset(&p->totals, 0, sizeof(p->totals));
	if (cache_store_meta_get(&p->m.rd, CACHEMGR_TOTALS_KEY, &v) == VD_OK &&
	    cachemgr_totals_decode(v.p, v.len, &p->totals) != VD_OK) {
		log_warnx("cache: damaged cumulative statistics, starting them again");
		memset(&p->totals, 0, sizeof(p->totals));
	}
	cache_reader_reset(&p->m.rd);
}

static _Noreturn void
cm_exit(struct cmproc *p, int status)
{
	totals_write(p);
	cachemgr_free(&p->m);
	cache_store_close(&p->cs);
	exit(status);
}

static void
cm_publish(struct cmproc *p)
{
	struct cachemgr_counts *c = &p->m.c, *l = &p->logged;

	uint64_t used;

	/* the scan's sum only for a store without the total */
	if (cache_store_used(&p->m.rd, &used) != VD_OK)
		used = p->m.used;
	if (vd.stats != NULL)
		vd.stats->cache_used = used;
	/* the walk counted the objects before what it removed */
	if (c->evicted != l->evicted || c->expired != l->expired ||
	    c->orphans != l->orphans || c->tmp_files != l->tmp_files)
		log_info("cache: %llu objects walked, %llu bytes stored now; removed %llu "
		    "least recently used, %llu expired, %llu orphan body files, %llu temp files",
		    (unsigned long long)p->m.objects, (unsigned long long)used,
		    (unsigned long long)(c->evicted - l->evicted),
		    (unsigned long long)(c->expired - l->expired),
		    (unsigned long long)(c->orphans - l->orphans),
		    (unsigned long long)(c->tmp_files - l->tmp_files));
	*l = *c;
}

static void
work_cb(struct ev_loop *l, struct ev_timer *t)
{
	struct cmproc *p = t->data;
	int rc;

	rc = cachemgr_step(&p->m, (int64_t)l->now_sec);
	if (rc == VD_AGAIN) {
		ev_timer_start(l, t, 0);	/* yield to the loop, then go on */
		return;
	}
	if (rc == VD_DONE)
		cm_publish(p);
	ev_timer_start(l, t, rc == VD_DONE && p->m.again ? 0 : CACHEMGR_PASS_MS);
}

/* cache-used: the store's exact total, so that it moves with every insert. */
static void
gauge_cb(struct ev_loop *l, struct ev_timer *t)
{
	struct cmproc *p = t->data;
	uint64_t used;

	if (vd.stats != NULL && cache_store_used(&p->m.rd, &used) == VD_OK)
		vd.stats->cache_used = used;
	ev_timer_start(l, t, CACHEMGR_GAUGE_MS);
}

static void
totals_cb(struct ev_loop *l, struct ev_timer *t)
{
	totals_write(t->data);
	ev_timer_start(l, t, CACHEMGR_TOTALS_MS);
}

static void
rcheck_cb(struct ev_loop *l, struct ev_timer *t)
{
	struct cmproc *p = t->data;

	cachemgr_reader_check(&p->m);
	ev_timer_start(l, t, CACHEMGR_READER_CHECK_MS);
}

static void
reopen_log(void)
{
	int fd;

	if (vd.conf->error_log == NULL || strcmp(vd.conf->error_log, "stderr") == 0)
		return;
	if ((fd = log_open_file(vd.conf->error_log)) == -1) {
		log_warn("reopen %s", vd.conf->error_log);
		return;
	}
	if (vd.log_fd > 2)
		close(vd.log_fd);
	vd.log_fd = fd;
}

static void
signal_cb(struct ev_loop *l, struct ev_io *io, uint32_t ev)
{
	struct cmproc *p = io->data;
	struct signalfd_siginfo si;
	int s;

	while ((s = signals_read(io->fd, &si)) > 0) {
		switch (s) {
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			log_info("%s: stopping", signals_name(s));
			cm_exit(p, VD_EXIT_OK);
		case SIGUSR1:
			reopen_log();
			break;
		default:
			break;		/* HUP: the master restarts us with the new conf */
		}
	}
}

/* One line from the master. */
static void
master_line(struct cmproc *p, const char *line)
{
	size_t n = strlen(CACHEMGR_MSG_READER_CHECK);

	if (strncmp(line, CACHEMGR_MSG_READER_CHECK, n) == 0 &&
	    (line[n] == '\0' || line[n] == ' ')) {
		log_debug("reader check for dead child%s", line + n);
		cachemgr_reader_check(&p->m);
	} else
		log_debug("ignoring message from the master: %.64s", line);
}

static void
master_cb(struct ev_loop *l, struct ev_io *io, uint32_t ev)
{
	struct cmproc *p = io->data;
	char *nl;
	ssize_t n;

	for (;;) {
		if (p->inlen == sizeof(p->in) - 1)
			p->inlen = 0;		/* an overlong line: not ours, drop it */
		n = recv(io->fd, p->in + p->inlen, sizeof(p->in) - 1 - p->inlen,
		    MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			log_warnx("master went away, exiting");
			cm_exit(p, VD_EXIT_OK);
		}
		p->inlen += (size_t)n;
		p->in[p->inlen] = '\0';
		while ((nl = memchr(p->in, '\n', p->inlen)) != NULL) {
			*nl = '\0';
			master_line(p, p->in);
			p->inlen -= (size_t)(nl + 1 - p->in);
			memmove(p->in, nl + 1, p->inlen);
			p->in[p->inlen] = '\0';
		}
	}
}

static void
cm_open(struct cmproc *p, const struct vd_conf *conf)
{
	struct cache_store_conf sc;
	char path[PATH_MAX - 64];

	if (cache_store_conf_init(&sc, conf, path, sizeof(path)) != VD_OK) {
		log_errx("cache directory for cache-on-disk=%s does not fit or no cache",
		    conf->cache_on_disk ? "yes" : "no");
		exit(VD_EXIT_FATAL);
	}
	if (cache_store_open(&p->cs, &sc) != VD_OK ||
	    cachemgr_init(&p->m, &p->cs, conf->max_cache_size, conf->max_fresh_time) != VD_OK) {
		log_errx("cannot open the cache store in %s", path);
		exit(VD_EXIT_FATAL);
	}
	if (conf->max_cache_size == CONF_SIZE_UNLIMITED)
		log_info("cache store %s: unlimited, map %zu MiB, %u reader slots",
		    path, sc.map_size >> 20, sc.max_readers);
	else
		log_info("cache store %s: at most %lld bytes, map %zu MiB, %u reader slots",
		    path, (long long)conf->max_cache_size, sc.map_size >> 20, sc.max_readers);
}

/* The access times held so far into the store (cache_atime.h). */
static void
atime_apply(struct cmproc *p)
{
	int rc;

	if (p->cs.env == NULL)
		return;
	if ((rc = cache_atime_apply(&p->rx, &p->cs)) != VD_OK)
		log_debug("cache: access times not written (%d): approximate", rc);
}

static void
atime_cb(struct ev_loop *l, struct ev_io *io, uint32_t ev)
{
	struct cmproc *p = io->data;

	(void)l;
	(void)ev;
	while (cache_atime_read(&p->rx, io->fd))
		atime_apply(p);		/* full: write, then read on */
}

static void
atime_timer_cb(struct ev_loop *l, struct ev_timer *t)
{
	atime_apply(t->data);
	ev_timer_start(l, t, CACHE_ATIME_MS);
}

static void
cm_init(struct cmproc *p, const struct cachemgr_spec *spec)
{
	int sfd;

	if ((sfd = signals_setup()) == -1)
		fatal("cache manager: signalfd");
	if (privdrop_worker() == -1) {
		log_errx("cache manager: cannot drop privileges");
		exit(VD_EXIT_FATAL);
	}
	(void)prctl(PR_SET_NAME, CACHEMGR_TITLE, 0, 0, 0);
	if (ev_loop_init(&p->loop, 16, 8) == -1)
		fatal("cache manager: event loop");
	vd.loop = &p->loop;
	cm_open(p, spec->conf);
	ev_io_init(&p->sig, sfd, signal_cb, p);
	if (ev_io_add(&p->loop, &p->sig, EPOLLIN) == -1)
		fatal("cache manager: epoll add signalfd");
	if (spec->master_fd >= 0) {
		ev_io_init(&p->master, spec->master_fd, master_cb, p);
		if (ev_io_add(&p->loop, &p->master, EPOLLIN | EPOLLRDHUP) == -1)
			fatal("cache manager: epoll add master fd");
	}
	cache_atime_rx_init(&p->rx);
	if (spec->atime_fd >= 0) {
		ev_io_init(&p->atime, spec->atime_fd, atime_cb, p);
		if (ev_io_add(&p->loop, &p->atime, EPOLLIN) == -1)
			fatal("cache manager: epoll add access-time socket");
		ev_timer_init(&p->atime_t, atime_timer_cb, p);
		ev_timer_start(&p->loop, &p->atime_t, CACHE_ATIME_MS);
	}
	/* at start: stale readers of whoever died before us, then a pass */
	cachemgr_reader_check(&p->m);
	ev_timer_init(&p->rcheck, rcheck_cb, p);
	ev_timer_start(&p->loop, &p->rcheck, CACHEMGR_READER_CHECK_MS);
	ev_timer_init(&p->work, work_cb, p);
	ev_timer_start(&p->loop, &p->work, 0);
	totals_read(p);
	totals_write(p);	/* rebased onto this segment at once */
	ev_timer_init(&p->totals_t, totals_cb, p);
	ev_timer_start(&p->loop, &p->totals_t, CACHEMGR_TOTALS_MS);
	ev_timer_init(&p->gauge, gauge_cb, p);
	ev_timer_start(&p->loop, &p->gauge, 0);
}

_Noreturn void
cachemgr_main(const struct cachemgr_spec *spec)
{
	struct cmproc p;

	memset(&p, 0, sizeof(p));
	vd.role = VD_ROLE_CACHEMGR;
	vd.worker_id = -1;
	vd.pid = getpid();
	vd.conf = spec->conf;
	vd.stats = spec->slot;
	vd.role_state = &p;
	/* our slot is the segment's `cachemgr` member (master.c): its header */
	if (spec->slot != NULL)
		p.hdr = (const struct stats_hdr *)(const void *)((const char *)spec->slot -
		    offsetof(struct stats_hdr, cachemgr));
	cm_init(&p, spec);
	log_info("cache manager started");
	for (;;) {
		if (vd.stats != NULL)
			vd.stats->heartbeat++;
		if (ev_run_once(&p.loop, 1000) == -1 && errno != EINTR) {
			log_err("epoll_wait");
			cm_exit(&p, VD_EXIT_CRASH);
		}
	}
}
