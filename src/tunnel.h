/*
 * tunnel.h — a byte tunnel between the client and the origin, after
 * CONNECT (RFC 9110 §9.3.6) or a 101 Switching Protocols: splice(2) both
 * ways through a pipe per direction, so the payload never enters user
 * space.  Each direction ends on its own: EOF from one side becomes a
 * shutdown(SHUT_WR) on the other once the pipe is drained (half-close);
 * the tunnel is done when both directions are.  A side that resets is a
 * side that closed (RFC 9110 §9.3.6): what it sent before is still
 * delivered to the other side, and what is bound for it is dropped (the
 * direction is "dead": its source is read and the bytes discarded, so that
 * nothing it sends is left unread to turn a close into a reset).
 *
 * Runs in a worker, never blocks.  The pipes are created by tunnel_start()
 * and closed by tunnel_close() (conn_close calls it).  Bytes read before
 * the tunnel began (after the CONNECT head in the client buffer, after the
 * 101 head in the origin buffer) go first, with send().
 */
#ifndef VD_TUNNEL_H
#define VD_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>

struct conn;

struct tunnel_dir {
	int		 pipe[2];	/* [0] read end, [1] write end; -1 closed */
	size_t		 inpipe;	/* bytes in the pipe */
	size_t		 cap;		/* the pipe's size */
	bool		 eof;		/* the source said EOF */
	bool		 shut;		/* EOF passed on to the destination */
	bool		 dead;		/* the destination is gone: drop */
};

struct tunnel {
	struct tunnel_dir d[2];		/* 0: client -> origin, 1: origin -> client */
	bool		 active;
};

/* Create the pipes.  VD_OK or VD_ERR (errno). */
int	tunnel_start(struct conn *);
/* Move bytes until every side is blocked.  VD_AGAIN (waiting; *moved tells
 * whether anything moved, for the idle timer), VD_DONE (both directions
 * ended; d[0].dead: the client may still be sending). */
int	tunnel_run(struct conn *, bool *moved);
void	tunnel_close(struct conn *);

#endif
