/* t/unit/prom.c — prom_write(): format, totals vs per-worker samples, cut at a line end. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "viaduct.h"
#include "prom.h"
#include "stats.h"
#include "tap.h"


int
main(void)
{
	size_t len = sizeof(struct stats_hdr) + 2 * sizeof(struct stats_slot);
	struct stats_hdr *h = calloc(1, len);
	struct stats_slot *sum = calloc(1, sizeof(*sum));
	char *buf = malloc(1 << 16), small[100];
	size_t n, m;

	h->nslots = 2;
	h->started = 1700000000;
	h->slots[1].pid = 42;
	h->slots[1].requests = 7;
	h->retired.requests = 3;
	h->slots[1].client_connections = 2;
	stats_sum(h, sum);
	n = prom_write(buf, 1 << 16, h, sum, NULL);
	ok(n > 0 && n < (1 << 16) && strlen(buf) == n, "the whole text fits and is NUL-terminated");
	ok(strstr(buf, "# HELP viaduct_requests_total requests received from clients\n") != NULL,
	    "HELP line from stats_tbl.h");
	ok(strstr(buf, "# TYPE viaduct_requests_total counter\n") != NULL, "counter TYPE, _total");
	ok(strstr(buf, "\nviaduct_requests_total 10\n") != NULL, "total = slots + retired");
	ok(strstr(buf, "\nviaduct_requests_total{worker=\"1\"} 7\n") != NULL, "live worker sample");
	ok(strstr(buf, "{worker=\"0\"}") == NULL, "a free slot has no sample");
	ok(strstr(buf, "# TYPE viaduct_client_connections gauge\n") != NULL, "gauge keeps its name");
	ok(strstr(buf, "viaduct_rule_hits_total") == NULL, "no conf: no rule hits");
	ok(strstr(buf, "\nviaduct_start_time_seconds 1700000000\n") != NULL, "start time");
	ok(buf[n - 1] == '\n', "ends with a newline");
	m = prom_write(small, sizeof(small), h, sum, NULL);
	is_int((long long)m, (long long)n, "a short buffer still reports the whole length");
	ok(strlen(small) < sizeof(small) && small[strlen(small) - 1] == '\n',
	    "a short buffer holds whole lines only");
	free(buf);
	free(sum);
	free(h);
	done_testing();
}
