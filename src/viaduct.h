/*
 * viaduct.h — what every module shares: the status vocabulary, counted
 * strings, and the one per-process context.
 *
 * Contract: `vd` is the only mutable global in the program.  Each process
 * (master, worker, cache manager, viaductctl) fills in its own copy right
 * after it starts or forks; nothing else keeps process-wide state.
 */
#ifndef VIADUCT_H
#define VIADUCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One status vocabulary everywhere a function can be "not done yet" (nginx). */
#define VD_OK		0
#define VD_ERR		(-1)
#define VD_AGAIN	(-2)
#define VD_DONE		(-3)
#define VD_DECLINED	(-4)

/* Exit codes a worker reports to the master (nginx): 2 means do not respawn. */
#define VD_EXIT_OK	0
#define VD_EXIT_CRASH	1
#define VD_EXIT_FATAL	2

#define VD_NAME		"viaduct"
#define VD_ARRLEN(a)	(sizeof(a) / sizeof((a)[0]))

/* A slice of bytes owned by somebody else (a read buffer, the config). */
struct vd_str {
	const char	*p;
	size_t		 len;
};
#define VD_STR(lit)	((struct vd_str){ (lit), sizeof(lit) - 1 })

enum vd_role {
	VD_ROLE_MASTER,
	VD_ROLE_WORKER,
	VD_ROLE_CACHEMGR,
	VD_ROLE_TOOL,		/* viaduct -t, viaductctl, unit tests */
};

struct vd_conf;
struct ev_loop;
struct stats_slot;

/* The per-process context. */
struct vd_proc {
	enum vd_role		 role;
	int			 worker_id;	/* 0-based slot among workers, -1 elsewhere */
	unsigned		 generation;	/* bumped by every successful reload */
	pid_t			 pid;
	const struct vd_conf	*conf;		/* immutable for the life of a worker */
	struct ev_loop		*loop;		/* NULL in the master */
	struct stats_slot	*stats;		/* this process's own slot, or NULL */
	int			 log_fd;	/* error log; 2 until the log is opened */
	int			 log_level;
	bool			 foreground;	/* -F: stderr is the operator's terminal */
	bool			 stderr_is_tty_or_pipe;	/* fatal() also echoes there */
	void			*role_state;	/* the role's own struct (worker, master) */
};

extern struct vd_proc vd;

/* Always compiled in (Varnish): a crashed worker is cheaper than a wrong response. */
#define VD_ASSERT(e) \
	((e) ? (void)0 : vd_assert_fail(__FILE__, __LINE__, #e))
_Noreturn void	vd_assert_fail(const char *, int, const char *);

#endif
