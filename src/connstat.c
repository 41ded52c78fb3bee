/* connstat.c — snapshots of a worker's connection table (see connstat.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "viaduct.h"
#include "conf.h"
#include "cache_proxy.h"
#include "connstat.h"
#include "log.h"
#include "proxy.h"
#include "stats.h"
#include "util.h"

/* What the last snapshot knew of a connection slot. */
struct shadow {
	int		 fd;		/* -1: free at the last snapshot */
	uint64_t	 serial;	/* conn.serial: a new connection in the slot */
	unsigned	 nreq;
	int64_t		 started_ms;
	char		 src[56];
	char		 dst[96];
};

struct connstat {
	struct connstat_region *r;
	size_t		 len;
	uint32_t	 cap;
	struct shadow	*sh;
	size_t		 nsh;
	uint64_t	 fp;		/* fingerprint of the last snapshot */
	int64_t		 last;		/* monotonic ms of the last snapshot */
};

static const char *const state_names[CONNSTAT_NSTATES] = {
	"rx-header", "idle", "resolving", "connecting", "waiting", "tx-header",
	"tx-body", "tunnel", "closing",
};

const char *
connstat_state_name(int state)
{
	return state >= 0 && state < CONNSTAT_NSTATES ? state_names[state] : "unknown";
}

static size_t
region_size(uint32_t cap)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t n = sizeof(struct connstat_region) + (size_t)cap * sizeof(struct connstat_rec);

	if (n < sizeof(struct connstat_hdr))
		n = sizeof(struct connstat_hdr);
	return (n + pg - 1) / pg * pg;
}

int
connstat_create(const char *path, uint32_t nslots, uint32_t cap, bool do_chown,
    uid_t uid, gid_t gid)
{
	struct connstat_hdr h;
	int fd, saved;

	if (cap > CONNSTAT_MAX_CAP)
		cap = CONNSTAT_MAX_CAP;
	memset(&h, 0, sizeof(h));
	h.version = CONNSTAT_VERSION;
	h.nslots = nslots;
	h.cap = cap;
	h.region_size = region_size(cap);
	h.magic = CONNSTAT_MAGIC;
	/* a fresh file each start, as for the stats segment */
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) == -1)
		return -1;
	if (ftruncate(fd, (off_t)((nslots + 1) * h.region_size)) == -1 ||
	    pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    (do_chown && fchown(fd, uid, gid) == -1))
		goto fail;
	close(fd);
	return 0;
fail:
	saved = errno;
	close(fd);
	unlink(path);
	errno = saved;
	return -1;
}

/* Our stats slot's index: the slot that holds our pid. */
static int
my_slot(const char *run_dir)
{
	const struct stats_hdr *sh;
	char path[4096];
	size_t len;
	int idx = -1;

	snprintf(path, sizeof(path), "%s/stats", run_dir);
	if ((sh = stats_open_ro(path, &len)) == NULL)
		return -1;
	for (uint32_t i = 0; i < stats_slots_used(sh) && idx < 0; i++)
		if (sh->slots[i].pid == (int64_t)getpid())
			idx = (int)i;
	stats_unmap(sh, len);
	return idx;
}

struct connstat *
connstat_open(const struct vd_conf *conf, size_t nconns)
{
	struct connstat_hdr h;
	struct connstat *cs;
	char path[4096];
	int fd, idx;
	void *m;

	if (conf->run_dir == NULL || (idx = my_slot(conf->run_dir)) < 0) {
		log_warnx("connections view off: no stats slot of ours in the run directory");
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/conns", conf->run_dir);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1) {
		log_warn("connections view off: %s", path);
		return NULL;
	}
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.magic != CONNSTAT_MAGIC ||
	    h.version != CONNSTAT_VERSION || (uint32_t)idx >= h.nslots ||
	    h.region_size != region_size(h.cap)) {
		log_warnx("connections view off: %s is not a connection table of ours", path);
		close(fd);
		return NULL;
	}
	m = mmap(NULL, h.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    (off_t)((uint64_t)(idx + 1) * h.region_size));
	close(fd);
	/* backed now, or a full run-dir tmpfs is a SIGBUS at some update */
	if (m != MAP_FAILED && vd_populate(m, h.region_size) == -1) {
		log_warn("connections view off: cannot back %s (run-dir full?)", path);
		munmap(m, h.region_size);
		return NULL;
	}
	cs = m == MAP_FAILED ? NULL : calloc(1, sizeof(*cs));
	if (cs == NULL || (cs->sh = calloc(nconns, sizeof(*cs->sh))) == NULL) {
		log_warn("connections view off: map %s", path);
		if (m != MAP_FAILED)
			munmap(m, h.region_size);
		free(cs);
		return NULL;
	}
	cs->nsh = nconns;
	for (size_t i = 0; i < nconns; i++)
		cs->sh[i].fd = -1;
	cs->r = m;
	cs->len = h.region_size;
	cs->cap = h.cap;
	cs->last = -1;
	/* a respawned worker's region still holds its predecessor's snapshot */
	cs->r->seq++;
	cs->r->n = cs->r->total = 0;
	cs->r->pid = getpid();
	__atomic_thread_fence(__ATOMIC_RELEASE);
	cs->r->seq++;
	return cs;
}

void
connstat_close(struct connstat *cs)
{
	if (cs == NULL)
		return;
	munmap(cs->r, cs->len);
	free(cs->sh);
	free(cs);
}

static void
fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	buf[0] = '\0';
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;

		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s->sin6_port));
	}
}

static void
peer_of(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	buf[0] = '\0';
	if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		fmt_addr(&ss, buf, len);
}

/* RouterOS's state names for where the request flow is (proxy.h). */
static int
state_of(const struct conn *c)
{
	switch (c->state) {
	case PX_HEAD:
		return c->nreq > 0 && c->in.end == c->in.start ? CONNSTAT_IDLE :
		    CONNSTAT_RX_HEADER;
	case PX_RESOLVE:
		return CONNSTAT_RESOLVING;
	case PX_CONNECT:
		return CONNSTAT_CONNECTING;
	case PX_SEND:
	case PX_RESP_HEAD:
		return CONNSTAT_WAITING;
	case PX_RESP_BODY:
		return c->out_off < c->out.len ? CONNSTAT_TX_HEADER : CONNSTAT_TX_BODY;
	case PX_TUNNEL_OK:
	case PX_REPLY:
		return CONNSTAT_TX_HEADER;
	case PX_TUNNEL:
		return CONNSTAT_TUNNEL;
	case PX_CACHE:		/* a hit being sent, or waiting for another's fetch */
		if (cache_proxy_waiting(c))
			return CONNSTAT_WAITING;
		return c->out_off < c->out.len ? CONNSTAT_TX_HEADER : CONNSTAT_TX_BODY;
	default:
		return CONNSTAT_CLOSING;
	}
}

static void
track(struct shadow *s, const struct conn *c, int64_t wall)
{
	/* a new connection in this slot since the last snapshot (the slot and
	 * even the fd number are reused at once): its address, once */
	if (s->fd != c->cl.fd || s->serial != c->serial) {
		s->fd = c->cl.fd;
		s->serial = c->serial;
		s->started_ms = wall;
		peer_of(c->cl.fd, s->src, sizeof(s->src));
	}
	s->nreq = c->nreq;
	if (c->up.s.fd >= 0 && c->state != PX_CONNECT && c->state != PX_HEAD)
		peer_of(c->up.s.fd, s->dst, sizeof(s->dst));
	else if (c->up.host[0] != '\0' && c->state != PX_HEAD)
		snprintf(s->dst, sizeof(s->dst), "%.80s:%u", c->up.host, c->up.port);
	else
		s->dst[0] = '\0';
}

static void
record(struct connstat_rec *r, const struct shadow *s, const struct conn *c)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);

	memset(r, 0, sizeof(*r));
	memcpy(r->src, s->src, sizeof(r->src));
	memcpy(r->dst, s->dst, sizeof(r->dst));
	r->state = (uint8_t)state_of(c);
	r->tunnel = c->connect;
	r->started_ms = s->started_ms;
	r->requests = c->nreq;
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(c->cl.fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 &&
	    tl >= offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received)) {
		r->rx_bytes = ti.tcpi_bytes_received;
		r->tx_bytes = ti.tcpi_bytes_acked;
	}
}

/* Cheap: no system call, one pass over the table. */
static uint64_t
fingerprint(const struct conn_table *t)
{
	uint64_t fp = t->accepted * 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < t->n; i++) {
		const struct conn *c = &t->conns[i];

		if (c->state == PX_FREE)
			continue;
		fp = fp * 31 + ((uint64_t)i << 32) + ((uint64_t)c->state << 24) +
		    (uint64_t)c->nreq + (uint64_t)c->out_off + c->sent;
		fp = fp * 31 + (uint64_t)(c->up.s.fd + 1);
	}
	if (vd.stats != NULL)
		fp += vd.stats->sent_to_clients * 7 + vd.stats->received_from_servers * 13;
	return fp;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
connstat_update(struct connstat *cs, const struct conn_table *t, int64_t now)
{
	struct connstat_region *r;
	uint64_t fp;
	uint32_t n = 0, total = 0;
	int64_t wall;

	if (cs == NULL)
		return;
	fp = fingerprint(t);
	/* nothing moved: leave the region alone (byte counts of open
	 * connections still refresh once a second) */
	if (cs->last >= 0 && fp == cs->fp &&
	    (t->active == 0 || now - cs->last < CONNSTAT_FULL_MS))
		return;
	cs->fp = fp;
	cs->last = now;
	wall = wall_ms();
	r = cs->r;
	r->seq++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (size_t i = 0; i < t->n && i < cs->nsh; i++) {
		const struct conn *c = &t->conns[i];

		/* a background revalidation (cache_bg.h) is no client's */
		if (c->state == PX_FREE || c->cl.fd < 0 || c->internal) {
			cs->sh[i].fd = -1;
			continue;
		}
		total++;
		track(&cs->sh[i], c, wall);
		if (n < cs->cap)
			record(&r->rec[n++], &cs->sh[i], c);
	}
	r->n = n;
	r->total = total;
	r->updated_ms = wall;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	r->seq++;
}

const struct connstat_hdr *
connstat_open_ro(const char *path, size_t *maplen)
{
	const struct connstat_hdr *h;
	struct stat st;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		goto fail;
	if ((size_t)st.st_size < sizeof(*h)) {
		errno = EINVAL;
		goto fail;
	}
	h = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		goto fail;
	close(fd);
	if (h->magic != CONNSTAT_MAGIC || h->version != CONNSTAT_VERSION ||
	    h->region_size != region_size(h->cap) ||
	    (h->nslots + 1) * h->region_size > (uint64_t)st.st_size) {
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

int
connstat_read(const struct connstat_hdr *h, uint32_t slot, int64_t pid,
    struct connstat_rec *out, uint32_t max, uint32_t *total)
{
	const volatile struct connstat_region *r;
	struct timespec tick = { 0, 1000 * 1000 };
	uint64_t seq;
	uint32_t n;

	if (slot >= h->nslots)
		return -1;
	r = (const void *)((const char *)h + (slot + 1) * h->region_size);
	for (int tries = 0; tries < 1000; tries++) {
		seq = r->seq;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (seq & 1) {
			nanosleep(&tick, NULL);
			continue;
		}
		if (r->pid != pid)
			return -1;
		n = r->n;
		if (n > h->cap)
			n = h->cap;
		if (n > max)
			n = max;
		memcpy(out, (const void *)r->rec, n * sizeof(*out));
		*total = r->total;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (r->seq == seq)
			return (int)n;
	}
	return -1;
}
