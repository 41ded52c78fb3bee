/* t/unit/event.c — the event loop: timers in order, stale events dropped. */
#include "config.h"

#include <unistd.h>

#include "viaduct.h"
#include "event.h"
#include "tap.h"

static int order[8], norder;

static void
timer_cb(struct ev_loop *l, struct ev_timer *t)
{
	order[norder++] = (int)(intptr_t)t->data;
}

static int fired;
static struct ev_io io_a, io_b;
static int again;

/* A 0 ms timer that arms itself again: once per pass of the loop. */
static void
again_cb(struct ev_loop *l, struct ev_timer *t)
{
	if (++again < 100)
		ev_timer_start(l, t, 0);
}

/* io_a's callback closes io_b: b's event in the same batch must be dropped. */
static void
io_a_cb(struct ev_loop *l, struct ev_io *io, uint32_t ev)
{
	char c;
	fired |= 1;
	(void)read(io->fd, &c, 1);
	ev_io_del(l, &io_b);
}

static void
io_b_cb(struct ev_loop *l, struct ev_io *io, uint32_t ev)
{
	fired |= 2;
}

int
main(void)
{
	struct ev_loop l;
	struct ev_timer t[5];
	int pa[2], pb[2];

	ok(ev_loop_init(&l, 16, 2) == 0, "loop initialises");
	for (int i = 0; i < 5; i++)
		ev_timer_init(&t[i], timer_cb, (void *)(intptr_t)i);
	ev_timer_start(&l, &t[0], 30);
	ev_timer_start(&l, &t[1], 10);
	ev_timer_start(&l, &t[2], 20);
	ev_timer_start(&l, &t[3], 5);	/* grows the heap past its capacity */
	ev_timer_start(&l, &t[4], 15);
	ev_timer_stop(&l, &t[4]);
	ok(!ev_timer_armed(&t[4]), "a stopped timer is disarmed");
	while (norder < 4)
		ev_run_once(&l, 100);
	ok(order[0] == 3 && order[1] == 1 && order[2] == 2 && order[3] == 0,
	    "timers fire in deadline order, a stopped one never");
	is_int(norder, 4, "exactly four timers fired");

	/* Pushed back (lazily re-filed), pulled forward, pushed then stopped. */
	norder = 0;
	ev_timer_start(&l, &t[0], 10);
	ev_timer_start(&l, &t[1], 20);
	ev_timer_start(&l, &t[2], 30);
	ev_timer_start(&l, &t[3], 25);
	ev_timer_start(&l, &t[0], 40);	/* later: only the deadline moves */
	ev_timer_start(&l, &t[2], 5);	/* earlier: re-filed at once */
	ev_timer_start(&l, &t[3], 35);
	ev_timer_stop(&l, &t[3]);
	{
		int64_t start = l.now_ms;

		while (norder < 3)
			ev_run_once(&l, 100);
		ok(l.now_ms - start >= 40, "a pushed-back timer waits for its new deadline");
	}
	ok(order[0] == 2 && order[1] == 1 && order[2] == 0,
	    "re-armed timers fire in their new deadline order");
	ev_run_once(&l, 50);
	is_int(norder, 3, "a pushed-back then stopped timer never fires");
	ok(!ev_timer_armed(&t[0]) && !ev_timer_armed(&t[3]), "fired and stopped timers are disarmed");

	ok(pipe(pa) == 0 && pipe(pb) == 0, "pipes");
	ev_io_init(&io_a, pa[0], io_a_cb, NULL);
	ev_io_init(&io_b, pb[0], io_b_cb, NULL);
	ev_io_add(&l, &io_a, EPOLLIN);
	ev_io_add(&l, &io_b, EPOLLIN);
	(void)write(pa[1], "x", 1);
	(void)write(pb[1], "x", 1);
	ev_run_once(&l, 100);
	/* epoll returns a before b or b before a; only when a ran first is b stale */
	ok(fired & 1, "io a dispatched");
	ok(ev_io_add(&l, &io_b, EPOLLIN) == 0, "a deleted io can be added again");
	fired = 0;
	ev_run_once(&l, 100);
	ok(fired == 2, "re-added io b gets its pending event");

	/* armed again from its own callback: the sockets get a turn in between */
	{
		struct ev_timer ta;

		ev_timer_init(&ta, again_cb, NULL);
		ev_timer_start(&l, &ta, 0);
		ev_run_once(&l, 100);
		is_int(again, 1, "a 0 ms timer armed again in its callback waits for the next pass");
		ev_run_once(&l, 100);
		is_int(again, 2, "... and runs in it");
		ev_timer_stop(&l, &ta);
	}
	ev_loop_free(&l);
	return done_testing();
}
