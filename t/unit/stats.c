/* t/unit/stats.c — the stats segment, the pid-file lock, listener matching. */
#include "config.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "viaduct.h"
#include "listen.h"
#include "pidfile.h"
#include "stats.h"
#include "util.h"
#include "tap.h"

static void
test_stats(const char *dir)
{
	char path[512];
	struct stats_hdr *h;
	const struct stats_hdr *ro;
	struct stats_slot sum;
	size_t len, rolen;

	snprintf(path, sizeof(path), "%s/stats", dir);
	h = stats_create(path, 8, &len);
	ok(h != NULL, "segment created");
	if (h == NULL)
		return;
	is_int(h->nslots, 8, "slot count recorded");
	h->slots[0].requests = 5;
	h->slots[0].client_connections = 2;
	h->slots[7].requests = 7;
	h->master.accepted = 1;
	stats_sum(h, &sum);
	is_int(sum.requests, 12, "sum over slots");
	stats_retire(h, &h->slots[0]);
	is_int(h->slots[0].requests, 0, "retired slot is cleared");
	is_int(h->retired.requests, 5, "counter folded into retired");
	is_int(h->retired.client_connections, 0, "gauge not folded");
	stats_sum(h, &sum);
	is_int(sum.requests, 12, "total does not go backwards after a retire");
	is_int(sum.client_connections, 0, "dead gauge gone from the total");
	is_int(sum.accepted, 1, "master slot summed");

	ro = stats_open_ro(path, &rolen);
	ok(ro != NULL && rolen == len, "read-only map of the same segment");
	if (ro != NULL) {
		h->slots[3].hits = 9;
		stats_sum(ro, &sum);
		is_int(sum.hits, 9, "reader sees the writer's stores");
		stats_unmap(ro, rolen);
	}
	stats_unmap(h, len);
	{
		FILE *f = fopen(path, "w");
		fputs("not a segment, but long enough to look like one at first glance......", f);
		fclose(f);
	}
	ok(stats_open_ro(path, &rolen) == NULL, "a foreign file is refused");
	unlink(path);
}

static void
test_pidfile(const char *dir)
{
	char path[512], err[256];
	int fd, st;
	pid_t kid;

	snprintf(path, sizeof(path), "%s/x.pid", dir);
	is_int(pidfile_holder(path), 0, "no file: nobody holds it");
	fd = pidfile_acquire(path, err, sizeof(err));
	ok(fd >= 0, "lock taken");
	if ((kid = fork()) == 0) {
		char e[256];
		int f2 = pidfile_acquire(path, e, sizeof(e));
		char want[700];
		snprintf(want, sizeof(want), "pid file %s is locked by pid %d: already running",
		    path, (int)getppid());
		_exit(f2 == -1 && strcmp(e, want) == 0 && pidfile_holder(path) == getppid()
		    ? 0 : 1);
	}
	waitpid(kid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "another process is refused, told who holds it");
	pidfile_release(path, fd);
	is_int(access(path, F_OK), -1, "released: file removed");
}

static void
test_listen(void)
{
	struct sockaddr_storage a, b;
	socklen_t la, lb;

	vd_sockaddr_parse("127.0.0.1:8080", -1, &a, &la);
	vd_sockaddr_parse("127.0.0.1:8080", -1, &b, &lb);
	ok(listen_addr_equal(&a, &b), "same v4 address and port match");
	vd_sockaddr_parse("127.0.0.1:8081", -1, &b, &lb);
	ok(!listen_addr_equal(&a, &b), "another port does not");
	vd_sockaddr_parse("[::1]:8080", -1, &b, &lb);
	ok(!listen_addr_equal(&a, &b), "another family does not");
	vd_sockaddr_parse("[::1]:8080", -1, &a, &la);
	ok(listen_addr_equal(&a, &b), "same v6 address and port match");
}

int
main(void)
{
	char dir[] = "/tmp/vd-unit-stats-XXXXXX";

	if (mkdtemp(dir) == NULL)
		return 1;
	test_stats(dir);
	test_pidfile(dir);
	test_listen();
	rmdir(dir);
	return done_testing();
}
