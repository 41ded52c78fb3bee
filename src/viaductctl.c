/*
 * viaductctl.c — operate a running viaduct from outside:
 *
 *   viaductctl [-f file] reload|reopen|stop|status|check [file]
 *   viaductctl [-f file] monitor [--json] [--workers] [--interval N]
 *   viaductctl [-f file] inserts|lookups [--json] [--interval N]
 *   viaductctl [-f file] rules|connections [--json]
 *   viaductctl [-f file] metrics
 *   viaductctl [-f file] cache-contents [PATTERN] [--sort uri|size|accessed]
 *                        [--limit N] [--json]
 *   viaductctl [-f file] purge URL | --match REGEX
 *
 * Everything it knows comes from the configuration file (the pid file and
 * the run directory) and the kernel (who holds the pid-file lock).  It
 * never writes to the stats segment.  Exit: 0 done, 1 failed (one line on
 * stderr), 3 `status` when not running (LSB).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "viaduct.h"
#include "cache_store.h"
#include "cachemgr.h"
#include "conf.h"
#include "connstat.h"
#include "pidfile.h"
#include "prom.h"
#include "stats.h"
#include "viaductctl.h"

#define DEFAULT_CONF	SYSCONFDIR "/viaduct/viaduct.conf"

_Noreturn void
ctl_usage(void)
{
	fprintf(stderr, "usage: %s [-f file] reload | reopen | stop | status | "
	    "check [file]\n"
	    "       %s [-f file] monitor [--json] [--workers] [--interval N]\n"
	    "       %s [-f file] inserts | lookups [--json] [--interval N]\n"
	    "       %s [-f file] rules | connections [--json]\n"
	    "       %s [-f file] metrics\n"
	    "       %s [-f file] cache-contents [PATTERN] [--sort uri|size|accessed] "
	    "[--limit N] [--json]\n"
	    "       %s [-f file] purge URL | --match REGEX\n",
	    CTL, CTL, CTL, CTL, CTL, CTL, CTL);
	exit(1);
}

_Noreturn void
ctl_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", CTL);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Errors always; warnings only for `check` (arg non-NULL). */
static void
diag(void *arg, bool is_error, const char *msg)
{
	if (is_error || arg != NULL)
		fprintf(stderr, "%s: %s\n", CTL, msg);
}

struct vd_conf *
ctl_load(const char *file, bool warnings)
{
	struct vd_conf *conf = conf_load(file, diag, warnings ? (void *)1 : NULL);

	if (conf == NULL)
		exit(1);
	return conf;
}

/* The master's pid, or exit 1 (exit `notrunning` if given) when it is not running. */
static pid_t
master_pid(const struct vd_conf *conf, int notrunning)
{
	pid_t pid = pidfile_holder(conf->pid_file);

	if (pid == -1)
		ctl_die("cannot read pid file %s: %s", conf->pid_file, strerror(errno));
	if (pid == 0) {
		fprintf(stderr, "%s: viaduct is not running (pid file %s is not locked)\n",
		    CTL, conf->pid_file);
		exit(notrunning);
	}
	return pid;
}

static void
signal_master(const struct vd_conf *conf, int sig)
{
	pid_t pid = master_pid(conf, 1);

	if (kill(pid, sig) == -1)
		ctl_die("cannot signal pid %d: %s", (int)pid, strerror(errno));
}

/* stop: TERM, then wait until the lock is gone (shutdown-timeout + 5 s). */
static int
stop(const struct vd_conf *conf)
{
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	int64_t waited = 0, limit = conf->shutdown_timeout + 5000;

	signal_master(conf, SIGTERM);
	while (pidfile_holder(conf->pid_file) > 0) {
		if (waited >= limit)
			ctl_die("viaduct is still running after %lld ms",
			    (long long)limit);
		nanosleep(&tick, NULL);
		waited += 50;
	}
	return 0;
}

/* ------------------------------------------------------------ views */

struct view {
	bool		 json;
	bool		 workers;
	int		 interval;	/* seconds; 0: print once */
};

static const struct stats_hdr *
open_segment(const struct vd_conf *conf, size_t *len)
{
	const struct stats_hdr *h;
	char path[4096];

	master_pid(conf, 1);
	snprintf(path, sizeof(path), "%s/stats", conf->run_dir);
	if ((h = stats_open_ro(path, len)) == NULL)
		ctl_die("cannot read stats segment %s: %s", path,
		    errno == EINVAL ? "not a viaduct statistics segment of this version" :
		    strerror(errno));
	return h;
}

/* Resident memory of a process in bytes, 0 if it is gone. */
static uint64_t
rss_of(int64_t pid)
{
	char path[64];
	unsigned long size, res;
	FILE *f;
	int n;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%lld/statm", (long long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fscanf(f, "%lu %lu", &size, &res);
	fclose(f);
	return n == 2 ? (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static uint64_t
total_ram(const struct stats_hdr *h)
{
	uint64_t sum = rss_of(h->master_pid) + rss_of(h->cachemgr.pid);

	for (uint32_t i = 0; i < stats_slots_used(h); i++)
		sum += rss_of(h->slots[i].pid);
	return sum;
}

/* RouterOS time: 1w2d3h4m5s */
static const char *
fmt_uptime(int64_t s, char *buf, size_t len)
{
	static const struct { int64_t secs; char unit; } u[] = {
		{ 604800, 'w' }, { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	size_t off = 0;

	buf[0] = '\0';
	if (s < 0)
		s = 0;
	for (size_t i = 0; i < VD_ARRLEN(u) && off < len; i++) {
		if (s >= u[i].secs || (u[i].unit == 's' && off == 0)) {
			off += (size_t)snprintf(buf + off, len - off, "%lld%c",
			    (long long)(s / u[i].secs), u[i].unit);
			s %= u[i].secs;
		}
	}
	return buf;
}

static double
ratio(uint64_t part, uint64_t whole)
{
	return whole > 0 ? 100.0 * (double)part / (double)whole : 0.0;
}

/*
 * Since-install totals (cachemgr.h): the snapshot the cache manager keeps
 * in the store, folded onto the live sums; false when there is no cache.
 */
static bool
since_install(const struct vd_conf *conf, const struct stats_hdr *h,
    uint64_t out[CACHEMGR_NSTATS])
{
	struct cache_store_conf c;
	struct cache_store cs;
	struct cache_reader rd;
	struct cachemgr_totals t;
	struct vd_str v;
	uint64_t sum[CACHEMGR_NSTATS];
	char path[PATH_MAX];

	if (cache_store_conf_init(&c, conf, path, sizeof(path)) != VD_OK ||
	    access(path, F_OK) == -1)
		return false;
	c.read_only = true;
	if (cache_store_open(&cs, &c) != VD_OK)
		return false;
	memset(&t, 0, sizeof(t));
	if (cache_reader_init(&cs, &rd) == VD_OK) {
		if (cache_store_meta_get(&rd, CACHEMGR_TOTALS_KEY, &v) == VD_OK &&
		    cachemgr_totals_decode(v.p, v.len, &t) != VD_OK)
			memset(&t, 0, sizeof(t));
		cache_reader_free(&rd);
	}
	cache_store_close(&cs);
	cachemgr_stats_sum(h, sum);
	cachemgr_totals_since_install(&t, h->master_pid, h->started, sum, out);
	return true;
}

static void
monitor_totals_text(const uint64_t *tot)
{
	static const int kib[] = { CACHEMGR_STAT_received_from_servers,
	    CACHEMGR_STAT_sent_to_clients, CACHEMGR_STAT_hits_sent_to_clients };
	static const int num[] = { CACHEMGR_STAT_requests, CACHEMGR_STAT_hits };
	char name[64];

	for (size_t i = 0; i < VD_ARRLEN(num); i++) {
		snprintf(name, sizeof(name), "total-%s", cachemgr_stat_name(num[i]));
		printf("%22s: %llu\n", name, (unsigned long long)tot[num[i]]);
	}
	for (size_t i = 0; i < VD_ARRLEN(kib); i++) {
		snprintf(name, sizeof(name), "total-%s", cachemgr_stat_name(kib[i]));
		printf("%22s: %lluKiB\n", name, (unsigned long long)tot[kib[i]] / 1024);
	}
	printf("%22s: %.1f%%\n", "total-hit-ratio",
	    ratio(tot[CACHEMGR_STAT_hits], tot[CACHEMGR_STAT_requests]));
}

static void
monitor_text(const struct stats_hdr *h, const struct stats_slot *t, bool workers,
    const uint64_t *tot)
{
	char up[64];

	printf("%22s: %s\n", "status", "running");
	printf("%22s: %s\n", "uptime", fmt_uptime(time(NULL) - h->started, up, sizeof(up)));
	printf("%22s: %llu\n", "client-connections", (unsigned long long)t->client_connections);
	printf("%22s: %llu\n", "server-connections", (unsigned long long)t->server_connections);
	printf("%22s: %llu\n", "requests", (unsigned long long)t->requests);
	printf("%22s: %llu\n", "hits", (unsigned long long)t->hits);
	printf("%22s: %lluKiB\n", "cache-used", (unsigned long long)t->cache_used / 1024);
	printf("%22s: %lluKiB\n", "total-ram-used", (unsigned long long)total_ram(h) / 1024);
	printf("%22s: %lluKiB\n", "received-from-servers",
	    (unsigned long long)t->received_from_servers / 1024);
	printf("%22s: %lluKiB\n", "sent-to-clients", (unsigned long long)t->sent_to_clients / 1024);
	printf("%22s: %lluKiB\n", "hits-sent-to-clients",
	    (unsigned long long)t->hits_sent_to_clients / 1024);
	printf("%22s: %.1f%%\n", "hit-ratio", ratio(t->hits, t->requests));
	if (tot != NULL)
		monitor_totals_text(tot);
	if (!workers)
		return;
	printf("\n%4s %8s %4s %10s %8s %10s %10s %12s\n", "SLOT", "PID", "GEN", "UPTIME",
	    "CLIENTS", "ACCEPTED", "REQUESTS", "SENT");
	for (uint32_t i = 0; i < stats_slots_used(h); i++) {
		const struct stats_slot *s = &h->slots[i];

		if (s->pid == 0)
			continue;
		printf("%4u %8lld %4lld %10s %8llu %10llu %10llu %10lluKiB\n", i,
		    (long long)s->pid, (long long)s->generation,
		    fmt_uptime(time(NULL) - s->started, up, sizeof(up)),
		    (unsigned long long)s->client_connections, (unsigned long long)s->accepted,
		    (unsigned long long)s->requests, (unsigned long long)s->sent_to_clients / 1024);
	}
}

static void
monitor_json(const struct stats_hdr *h, const struct stats_slot *t, bool workers,
    const uint64_t *tot)
{
	const char *sep = "";

	printf("{\"status\": \"running\", \"uptime\": %lld, \"master-pid\": %lld, "
	    "\"reloads\": %llu, \"total-ram-used\": %llu, \"hit-ratio\": %.3f",
	    (long long)(time(NULL) - h->started), (long long)h->master_pid,
	    (unsigned long long)h->reloads, (unsigned long long)total_ram(h),
	    ratio(t->hits, t->requests));
#define STATS_X(f, name, kind, help) \
	printf(", \"%s\": %llu", name, (unsigned long long)t->f);
	STATS_FIELDS(STATS_X)
#undef STATS_X
	if (tot != NULL) {	/* since install: counters only */
		printf(", \"total\": {");
		for (int i = 0; i < CACHEMGR_NSTATS; i++)
			if (cachemgr_stat_counter(i))
				printf("%s\"%s\": %llu", sep, cachemgr_stat_name(i),
				    (unsigned long long)tot[i]), sep = ", ";
		printf("}");
		sep = "";
	}
	if (workers) {
		printf(", \"workers\": [");
		for (uint32_t i = 0; i < stats_slots_used(h); i++) {
			const struct stats_slot *s = &h->slots[i];

			if (s->pid == 0)
				continue;
			printf("%s{\"slot\": %u, \"pid\": %lld, \"generation\": %lld, "
			    "\"uptime\": %lld", sep, i, (long long)s->pid,
			    (long long)s->generation, (long long)(time(NULL) - s->started));
#define STATS_X(f, name, kind, help) \
			printf(", \"%s\": %llu", name, (unsigned long long)s->f);
			STATS_FIELDS(STATS_X)
#undef STATS_X
			printf("}");
			sep = ", ";
		}
		printf("]");
	}
	printf("}\n");
}

/* inserts / lookups: the counters named PREFIX-*, RouterOS's names after it. */
static void
counters(const struct stats_slot *t, const char *prefix, bool json)
{
	size_t pl = strlen(prefix);
	const char *sep = "";

	if (json)
		printf("{");
#define STATS_X(f, name, kind, help)					\
	if (strncmp(name, prefix, pl) == 0) {				\
		const char *n_ = &(name)[pl];				\
		if (json)						\
			printf("%s\"%s\": %llu", sep, n_,		\
			    (unsigned long long)t->f);			\
		else							\
			printf("%20s: %llu\n", n_,			\
			    (unsigned long long)t->f);			\
		sep = ", ";						\
	}
	STATS_FIELDS(STATS_X)
#undef STATS_X
	if (json)
		printf("}\n");
}

static int
view(const struct vd_conf *conf, const char *what, const struct view *v)
{
	const struct stats_hdr *h;
	struct stats_slot sum;
	struct timespec ts;
	uint64_t tot[CACHEMGR_NSTATS];
	const uint64_t *tp;
	size_t len;

	for (;;) {
		h = open_segment(conf, &len);
		stats_sum(h, &sum);
		if (v->interval > 0 && !v->json)
			printf("\033[H\033[2J");	/* refresh in place */
		if (strcmp(what, "inserts") == 0)
			counters(&sum, "inserts-", v->json);
		else if (strcmp(what, "lookups") == 0)
			counters(&sum, "lookups-", v->json);
		else {
			tp = since_install(conf, h, tot) ? tot : NULL;
			if (v->json)
				monitor_json(h, &sum, v->workers, tp);
			else
				monitor_text(h, &sum, v->workers, tp);
		}
		stats_unmap(h, len);
		if (v->interval <= 0)
			return 0;
		fflush(stdout);
		ts.tv_sec = v->interval;
		ts.tv_nsec = 0;
		nanosleep(&ts, NULL);	/* until SIGINT ends us */
	}
}

/* A JSON string literal (RFC 8259 escapes). */
void
ctl_json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* ------------------------------------------------------------ rules */

/* The rule as it was written: its properties in order, name=value. */
static void
rule_text(const struct conf_rule *r)
{
	for (int p = 0; p < r->nprops; p++)
		printf("%s%s=%s", p > 0 ? " " : "", r->props[p].name, r->props[p].value);
}

static bool
rule_disabled(const struct conf_rule *r)
{
	for (int p = 0; p < r->nprops; p++)
		if (strcmp(r->props[p].name, "disabled") == 0)
			return strcmp(r->props[p].value, "yes") == 0 ||
			    strcmp(r->props[p].value, "true") == 0;
	return false;
}

static const struct conf_rules *
conf_list(const struct vd_conf *conf, int l)
{
	return l == RULES_ACCESS ? &conf->access : l == RULES_CACHE ? &conf->cache :
	    &conf->direct;
}

static void
rules_json(const struct vd_conf *conf, const struct stats_slot *t)
{
	printf("{");
	for (int l = 0; l < RULES_NLISTS; l++) {
		const struct conf_rules *cl = conf_list(conf, l);

		printf("%s\"%s\": [", l > 0 ? ", " : "", rules_list_name(l));
		for (int i = 0; i < cl->nrules; i++) {
			const struct conf_rule *r = &cl->rules[i];

			printf("%s{\"index\": %d, \"line\": %d, \"disabled\": %s, "
			    "\"hits\": %llu, \"properties\": {", i > 0 ? ", " : "", i,
			    r->line, rule_disabled(r) ? "true" : "false",
			    (unsigned long long)stats_rule_hits(t, l, i));
			for (int p = 0; p < r->nprops; p++) {
				printf("%s", p > 0 ? ", " : "");
				ctl_json_str(r->props[p].name);
				printf(": ");
				ctl_json_str(r->props[p].value);
			}
			printf("}}");
		}
		printf("]");
	}
	printf("}\n");
}

/* RouterOS's `print stats`: one block per list, rules in order. */
static void
rules_text(const struct vd_conf *conf, const struct stats_slot *t)
{
	for (int l = 0; l < RULES_NLISTS; l++) {
		const struct conf_rules *cl = conf_list(conf, l);

		printf("%s/ip proxy %s\n", l > 0 ? "\n" : "", rules_list_name(l));
		printf("%4s %1s %6s %12s  %s\n", "#", "", "LINE", "HITS", "RULE");
		for (int i = 0; i < cl->nrules; i++) {
			const struct conf_rule *r = &cl->rules[i];

			printf("%4d %1s %6d %12llu  ", i, rule_disabled(r) ? "X" : "",
			    r->line, (unsigned long long)stats_rule_hits(t, l, i));
			rule_text(r);
			printf("\n");
		}
	}
}

static int
rules_cmd(const char *file, int argc, char **argv)
{
	const struct stats_hdr *h;
	struct stats_slot *sum;
	struct vd_conf *conf;
	bool json = false;
	size_t len;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			ctl_usage();
	}
	conf = ctl_load(file, false);
	h = open_segment(conf, &len);
	if ((sum = malloc(sizeof(*sum))) == NULL)
		ctl_die("out of memory");
	stats_sum(h, sum);
	stats_unmap(h, len);
	if (json)
		rules_json(conf, sum);
	else
		rules_text(conf, sum);
	free(sum);
	conf_free(conf);
	return 0;
}

/* ------------------------------------------------------ connections */

static int64_t
wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void
conn_line(const struct connstat_rec *r, int64_t now, bool json, const char *sep)
{
	int64_t age = r->started_ms > 0 && now > r->started_ms ? (now - r->started_ms) / 1000 : 0;
	const char *proto = r->tunnel ? "connect" : "http";
	char up[64];

	if (!json) {
		printf("%-24.56s %-24.96s %-8s %-10s %10llu %10llu %8s\n", r->src, r->dst,
		    proto, connstat_state_name(r->state), (unsigned long long)r->rx_bytes,
		    (unsigned long long)r->tx_bytes, fmt_uptime(age, up, sizeof(up)));
		return;
	}
	printf("%s{\"src-address\": ", sep);
	ctl_json_str(r->src);
	printf(", \"dst-address\": ");
	ctl_json_str(r->dst);
	printf(", \"protocol\": \"%s\", \"state\": \"%s\", \"rx-bytes\": %llu, "
	    "\"tx-bytes\": %llu, \"age\": %lld, \"requests\": %llu}", proto,
	    connstat_state_name(r->state), (unsigned long long)r->rx_bytes,
	    (unsigned long long)r->tx_bytes, (long long)age, (unsigned long long)r->requests);
}

static int
connections_cmd(const char *file, int argc, char **argv)
{
	const struct connstat_hdr *ch;
	const struct stats_hdr *h;
	struct connstat_rec *recs;
	struct vd_conf *conf;
	char path[4096];
	const char *sep = "";
	bool json = false;
	size_t len, clen;
	uint32_t total, hidden = 0;
	int64_t now;
	int n;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			ctl_usage();
	}
	conf = ctl_load(file, false);
	h = open_segment(conf, &len);
	snprintf(path, sizeof(path), "%s/conns", conf->run_dir);
	if ((ch = connstat_open_ro(path, &clen)) == NULL)
		ctl_die("cannot read connection table %s: %s", path, errno == EINVAL ?
		    "not a viaduct connection table of this version" : strerror(errno));
	if ((recs = calloc(ch->cap > 0 ? ch->cap : 1, sizeof(*recs))) == NULL)
		ctl_die("out of memory");
	if (json)
		printf("{\"connections\": [");
	else
		printf("%-24s %-24s %-8s %-10s %10s %10s %8s\n", "SRC-ADDRESS", "DST-ADDRESS",
		    "PROTOCOL", "STATE", "RX-BYTES", "TX-BYTES", "AGE");
	now = wall_ms();
	for (uint32_t i = 0; i < stats_slots_used(h) && i < ch->nslots; i++) {
		if (h->slots[i].pid == 0)
			continue;
		if ((n = connstat_read(ch, i, h->slots[i].pid, recs, ch->cap, &total)) < 0)
			continue;
		for (int k = 0; k < n; k++) {
			conn_line(&recs[k], now, json, sep);
			sep = ", ";
		}
		hidden += total - (uint32_t)n;
	}
	if (json)
		printf("], \"not-listed\": %u}\n", hidden);
	else if (hidden > 0)
		printf("(%u more connections not listed)\n", hidden);
	free(recs);
	stats_unmap(ch, clen);
	stats_unmap(h, len);
	conf_free(conf);
	return 0;
}

/* ---------------------------------------------------------- metrics */

static int
metrics_cmd(const char *file, int argc, char **argv)
{
	const struct stats_hdr *h;
	struct stats_slot *sum;
	struct vd_conf *conf;
	size_t len, cap = 65536, need;
	char *buf = NULL;

	if (argc != 1)
		ctl_usage();
	conf = ctl_load(file, false);
	h = open_segment(conf, &len);
	if ((sum = malloc(sizeof(*sum))) == NULL)
		ctl_die("out of memory");
	stats_sum(h, sum);
	for (;;) {
		if ((buf = realloc(buf, cap)) == NULL)
			ctl_die("out of memory");
		if ((need = prom_write(buf, cap, h, sum, conf)) < cap)
			break;
		cap = need + 1;
	}
	fwrite(buf, 1, need, stdout);
	free(buf);
	free(sum);
	stats_unmap(h, len);
	conf_free(conf);
	return 0;
}

static int
view_cmd(const char *file, int argc, char **argv)
{
	struct view v = { false, false, 0 };
	struct vd_conf *conf;
	char *end;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			v.json = true;
		else if (strcmp(argv[i], "--workers") == 0 && strcmp(argv[0], "monitor") == 0)
			v.workers = true;
		else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
			v.interval = (int)strtol(argv[++i], &end, 10);
			if (*end != '\0' || v.interval < 1 || v.interval > 86400)
				ctl_die("--interval wants a number of seconds, 1 to 86400");
		} else
			ctl_usage();
	}
	conf = ctl_load(file, false);
	ret = view(conf, argv[0], &v);
	conf_free(conf);
	return ret;
}

int
main(int argc, char **argv)
{
	const char *file = DEFAULT_CONF, *cmd;
	struct vd_conf *conf;
	pid_t pid;
	int ch, ret = 0;

	while ((ch = getopt(argc, argv, "+f:")) != -1) {
		if (ch != 'f')
			ctl_usage();
		file = optarg;
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		ctl_usage();
	cmd = argv[0];

	if (strcmp(cmd, "check") == 0) {
		if (argc > 2)
			ctl_usage();
		if (argc == 2)
			file = argv[1];
		conf_free(ctl_load(file, true));
		printf("%s: configuration OK\n", file);
		return 0;
	}
	if (strcmp(cmd, "rules") == 0)
		return rules_cmd(file, argc, argv);
	if (strcmp(cmd, "connections") == 0)
		return connections_cmd(file, argc, argv);
	if (strcmp(cmd, "metrics") == 0)
		return metrics_cmd(file, argc, argv);
	if (strcmp(cmd, "cache-contents") == 0)
		return ctl_contents_cmd(file, argc, argv);
	if (strcmp(cmd, "purge") == 0)
		return ctl_purge_cmd(file, argc, argv);
	if (strcmp(cmd, "monitor") == 0 || strcmp(cmd, "inserts") == 0 ||
	    strcmp(cmd, "lookups") == 0)
		return view_cmd(file, argc, argv);
	if (argc != 1)
		ctl_usage();
	conf = ctl_load(file, false);
	if (strcmp(cmd, "reload") == 0)
		signal_master(conf, SIGHUP);
	else if (strcmp(cmd, "reopen") == 0)
		signal_master(conf, SIGUSR1);
	else if (strcmp(cmd, "stop") == 0)
		ret = stop(conf);
	else if (strcmp(cmd, "status") == 0) {
		pid = master_pid(conf, 3);
		printf("viaduct is running (pid %d)\n", (int)pid);
	} else
		ctl_usage();
	conf_free(conf);
	return ret;
}
