/* event.c — epoll, a binary min-heap of timers, one clock read per turn. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "viaduct.h"
#include "event.h"

int
ev_loop_init(struct ev_loop *l, int maxevents, size_t timer_capacity)
{
	memset(l, 0, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd == -1)
		return -1;
	l->maxevents = maxevents > 0 ? maxevents : 256;
	l->events = calloc((size_t)l->maxevents, sizeof(*l->events));
	l->heapcap = timer_capacity > 0 ? timer_capacity : 64;
	l->heap = calloc(l->heapcap, sizeof(*l->heap));
	if (l->events == NULL || l->heap == NULL) {
		ev_loop_free(l);
		errno = ENOMEM;
		return -1;
	}
	ev_update_time(l);
	return 0;
}

void
ev_loop_free(struct ev_loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	free(l->events);
	free(l->heap);
	l->epfd = -1;
	l->events = NULL;
	l->heap = NULL;
}

void
ev_update_time(struct ev_loop *l)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	l->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	l->now_sec = time(NULL);
}

void
ev_io_init(struct ev_io *io, int fd, ev_io_cb *cb, void *data)
{
	io->fd = fd;
	io->events = 0;
	io->cb = cb;
	io->data = data;
	/* instance survives re-init on purpose: see ev_io_add */
}

/* The low bit of a (word-aligned) ev_io pointer carries its instance. */
static uint64_t
io_token(const struct ev_io *io)
{
	return (uint64_t)(uintptr_t)io | (io->instance & 1u);
}

int
ev_io_add(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct epoll_event ev;

	io->instance ^= 1u;
	ev.events = events;
	ev.data.u64 = io_token(io);
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev) == -1)
		return -1;
	io->events = events;
	return 0;
}

int
ev_io_mod(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct epoll_event ev;

	if (io->events == events)
		return 0;
	ev.events = events;
	ev.data.u64 = io_token(io);
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) == -1)
		return -1;
	io->events = events;
	return 0;
}

int
ev_io_del(struct ev_loop *l, struct ev_io *io)
{
	int r = 0;

	if (io->fd >= 0 && io->events != 0)
		r = epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	/* events == 0 makes a stale event later in this batch fail the check */
	io->events = 0;
	return r;
}

void
ev_io_forget(struct ev_io *io)
{
	io->events = 0;
}

void
ev_timer_init(struct ev_timer *t, ev_timer_cb *cb, void *data)
{
	t->when = 0;
	t->due = 0;
	t->slot = 0;
	t->cb = cb;
	t->data = data;
}

static void
heap_set(struct ev_loop *l, size_t i, struct ev_timer *t)
{
	l->heap[i] = t;
	t->slot = i + 1;
}

static void
heap_up(struct ev_loop *l, size_t i)
{
	struct ev_timer *t = l->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (l->heap[p]->when <= t->when)
			break;
		heap_set(l, i, l->heap[p]);
		i = p;
	}
	heap_set(l, i, t);
}

static void
heap_down(struct ev_loop *l, size_t i)
{
	struct ev_timer *t = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && l->heap[c + 1]->when < l->heap[c]->when)
			c++;
		if (t->when <= l->heap[c]->when)
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

void
ev_timer_stop(struct ev_loop *l, struct ev_timer *t)
{
	size_t i;
	struct ev_timer *last;

	if (t->slot == 0)
		return;
	i = t->slot - 1;
	t->slot = 0;
	last = l->heap[--l->nheap];
	if (i == l->nheap)
		return;
	heap_set(l, i, last);
	heap_up(l, i);
	heap_down(l, last->slot - 1);
}

/*
 * Idle and phase timeouts are pushed back on every request; moving a timer
 * later only records the new deadline, and run_timers() re-files it when
 * its old place comes up: one sift per timeout period instead of two per
 * request.
 */
int
ev_timer_start(struct ev_loop *l, struct ev_timer *t, int64_t after_ms)
{
	int64_t due = l->now_ms + (after_ms > 0 ? after_ms : 0);

	if (t->slot != 0 && due >= t->when) {
		t->due = due;
		return 0;
	}
	ev_timer_stop(l, t);
	if (l->nheap == l->heapcap) {
		size_t cap = l->heapcap * 2;
		struct ev_timer **h = realloc(l->heap, cap * sizeof(*h));
		if (h == NULL) {
			errno = ENOMEM;
			return -1;
		}
		l->heap = h;
		l->heapcap = cap;
	}
	t->when = t->due = due;
	t->run = l->timer_runs;
	heap_set(l, l->nheap++, t);
	heap_up(l, l->nheap - 1);
	return 0;
}

static int
next_wait(struct ev_loop *l, int max_wait_ms)
{
	int64_t d;

	if (l->nheap == 0)
		return max_wait_ms;
	d = l->heap[0]->when - l->now_ms;
	if (d < 0)
		d = 0;
	if (max_wait_ms >= 0 && d > max_wait_ms)
		d = max_wait_ms;
	return d > INT32_MAX ? INT32_MAX : (int)d;
}

static void
run_timers(struct ev_loop *l)
{
	uint64_t run = ++l->timer_runs;

	while (l->nheap > 0 && l->heap[0]->when <= l->now_ms) {
		struct ev_timer *t = l->heap[0];

		/* armed by a callback of this pass (a 0 ms timer armed again):
		 * the next pass, after the sockets have had their turn */
		if (t->run == run)
			break;
		if (t->due > t->when) {
			t->when = t->due;
			heap_down(l, 0);
			continue;
		}
		ev_timer_stop(l, t);
		t->cb(l, t);
	}
}

int
ev_run_once(struct ev_loop *l, int max_wait_ms)
{
	int n;

	n = epoll_wait(l->epfd, l->events, l->maxevents, next_wait(l, max_wait_ms));
	l->turn++;
	ev_update_time(l);
	if (n == -1) {
		if (errno != EINTR)
			return -1;
		n = 0;
	}
	for (int i = 0; i < n; i++) {
		uint64_t tok = l->events[i].data.u64;
		struct ev_io *io = (struct ev_io *)(uintptr_t)(tok & ~(uint64_t)1);

		if ((tok & 1u) != (io->instance & 1u) || io->fd < 0 || io->events == 0)
			continue;	/* closed or reused earlier in this batch */
		io->cb(l, io, l->events[i].events);
	}
	run_timers(l);
	return n;
}

int
ev_run(struct ev_loop *l)
{
	while (!l->stop)
		if (ev_run_once(l, -1) == -1)
			return -1;
	return 0;
}
