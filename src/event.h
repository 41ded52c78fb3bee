/*
 * event.h — the event loop of a worker or the cache manager: epoll
 * (edge- or level-triggered per registration), a timer heap and a cached clock.
 *
 * Ownership: the caller owns every struct ev_io and struct ev_timer and must
 * keep it alive while registered.  An ev_io registered again after a close
 * (a reused connection slot) flips its instance bit, so events still queued
 * for the old descriptor in the same epoll_wait batch are dropped (nginx).
 * The loop never allocates after ev_loop_init(), except to grow the timer
 * heap beyond the capacity given there.
 * Callbacks may register, modify and delete any io or timer, including their own.
 */
#ifndef VD_EVENT_H
#define VD_EVENT_H

#include <stdint.h>
#include <sys/epoll.h>
#include <time.h>

struct ev_loop;
struct ev_io;
struct ev_timer;

typedef void	ev_io_cb(struct ev_loop *, struct ev_io *, uint32_t revents);
typedef void	ev_timer_cb(struct ev_loop *, struct ev_timer *);

struct ev_io {
	int		 fd;		/* -1 when not registered */
	uint32_t	 events;
	unsigned	 instance;	/* flipped on every ev_io_add */
	ev_io_cb	*cb;
	void		*data;
};

struct ev_timer {
	int64_t		 when;		/* heap key: ms on the loop's monotonic clock */
	int64_t		 due;		/* the deadline: >= when (pushed back lazily) */
	size_t		 slot;		/* index in the heap + 1; 0 = not armed */
	uint64_t	 run;		/* the loop's timer_runs when it was armed */
	ev_timer_cb	*cb;
	void		*data;
};

struct ev_loop {
	int		 epfd;
	int		 stop;		/* set by a callback to leave ev_run() */
	int64_t		 now_ms;	/* monotonic, read once per turn */
	time_t		 now_sec;	/* wall clock, read once per turn */
	uint64_t	 turn;		/* epoll_waits so far: which turn this is */
	uint64_t	 timer_runs;	/* run_timers() passes so far (+1 inside one) */
	struct epoll_event *events;
	int		 maxevents;
	struct ev_timer	**heap;
	size_t		 nheap;
	size_t		 heapcap;
};

/* 0 or -1 with errno set. */
int	ev_loop_init(struct ev_loop *, int maxevents, size_t timer_capacity);
void	ev_loop_free(struct ev_loop *);
void	ev_update_time(struct ev_loop *);

void	ev_io_init(struct ev_io *, int fd, ev_io_cb *, void *data);
/* events may include EPOLLET, EPOLLEXCLUSIVE (add only). 0 or -1 with errno. */
int	ev_io_add(struct ev_loop *, struct ev_io *, uint32_t events);
int	ev_io_mod(struct ev_loop *, struct ev_io *, uint32_t events);
/* Removes the registration (not the fd); safe on an io never added. */
int	ev_io_del(struct ev_loop *, struct ev_io *);
/* The fd is about to be closed, and no other descriptor refers to its open
 * file: close() takes it out of the epoll set, so only forget it here (no
 * system call).  Events of it still queued in this batch are ignored. */
void	ev_io_forget(struct ev_io *);

void	ev_timer_init(struct ev_timer *, ev_timer_cb *, void *data);
/* (Re)arm to fire after `after_ms` from the loop's cached now. 0 or -1 (ENOMEM). */
int	ev_timer_start(struct ev_loop *, struct ev_timer *, int64_t after_ms);
void	ev_timer_stop(struct ev_loop *, struct ev_timer *);
static inline int ev_timer_armed(const struct ev_timer *t) { return t->slot != 0; }

/*
 * One turn: wait for events (at most max_wait_ms, or until the next timer;
 * -1 waits indefinitely), dispatch them, then run expired timers.
 * Returns the number of io events dispatched, or -1 with errno (not EINTR).
 */
int	ev_run_once(struct ev_loop *, int max_wait_ms);
/* Turns until loop->stop is set. */
int	ev_run(struct ev_loop *);

#endif
