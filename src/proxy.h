/*
 * proxy.h — inside the HTTP engine: one client connection and the request
 * flow through it (read head -> resolve -> connect -> send -> relay the
 * response -> next request or close).  Shared by conn.c (the table, accept,
 * close), proxy.c (the flow) and upstream.c (the origin side).
 *
 * One request at a time per connection: a pipelined request waits in the
 * client buffer until the response before it is complete, so responses
 * leave in order.  While a request body goes up, the origin is read too:
 * its 1xx are relayed (iout) and an early final response ends the upload.
 * CONNECT, and a 101 to an Upgrade we offered, turn the connection into a
 * tunnel (tunnel.h).  Origin connections come from the worker's keep-alive
 * pool when one is idle (upstream.c).  Every buffer is fixed-size and allocated with the table.
 * Descriptors are edge-triggered; `rd`/`wr` remember whether the last
 * attempt stopped on EAGAIN, and proxy_run() makes progress until every
 * side it needs is blocked.
 */
#ifndef VD_PROXY_H
#define VD_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "viaduct.h"
#include "cache_dscp.h"
#include "event.h"
#include "dns.h"
#include "http_parse.h"
#include "http_chunk.h"
#include "http_msg.h"
#include "tunnel.h"
#include "router.h"
#include "stats.h"

struct conn_table;
struct cache_conn;
struct cache_proxy;

/* A fixed buffer: bytes [start, end) are unconsumed; `base` is where reads
 * restart when it drains (the bytes before it hold the message head). */
struct buf {
	char		*p;
	size_t		 cap, base, start, end;
};

/* One side of the connection: a socket and what we know about it. */
struct side {
	int		 fd;
	struct ev_io	 io;
	bool		 rd;		/* may be readable */
	bool		 wr;		/* may be writable */
	bool		 eof;		/* read returned 0 */
	bool		 hup;		/* epoll said RDHUP/HUP/ERR: read until 0 */
};

/* A recv that returned less than it asked for drained the socket: with
 * edge-triggered epoll the next byte brings a new event, so the side is not
 * readable until then -- which saves the recv that would only say EAGAIN.
 * Not after a hang-up: its edge has come and gone, and the 0 that tells
 * EOF must still be read. */
static inline void
side_short_read(struct side *s, size_t got, size_t asked)
{
	if (got < asked && !s->hup)
		s->rd = false;
}

enum relay_out {
	RELAY_RAW,		/* forward the bytes as they are */
	RELAY_ENCODE,		/* until-close body, sent chunked */
	RELAY_DECODE,		/* chunked body, sent de-chunked (1.0 client) */
};

/* A body moving from one side's buffer to the other side, bounded. */
struct relay {
	struct http_framing fr;
	enum relay_out	 out;
	uint64_t	 left;		/* HTTP_BODY_LENGTH */
	struct http_chunk ch;
	bool		 ending;	/* the last output is queued */
	struct iovec	 iov[3];
	int		 niov;
	size_t		 consume;	/* src bytes done once iov is written */
	char		 chdr[24];
	uint64_t	 limit;		/* chunked data allowed, 0 = unlimited */
	uint64_t	 total;		/* chunked data so far */
	int		 status;	/* on RELAY_ESRC: the answer, 0 = 400 */
	const char	*why;		/* on error */
	/* the destination is gone: output is dropped as if written (a fetch
	 * finished for the cache alone, proxy.c) */
	bool		 discard;
	/* the cache copies body data as it streams (cache_fill.c); NULL: off */
	void		(*tap)(void *arg, const char *p, size_t n);
	void		*tap_arg;
	/* a head still to go out before the body, from *head_off: sent in the
	 * same sendmsg as the first body bytes when they are already here,
	 * alone when they are not (so the head never waits for the body) */
	const struct http_out *head;
	size_t		*head_off;
};

/* relay_run: VD_DONE, VD_AGAIN (a side is blocked), or these: */
#define RELAY_ESRC	(-10)	/* the source failed or broke the framing */
#define RELAY_EDST	(-11)	/* the destination failed */

enum px_state {
	PX_FREE,
	PX_HEAD,		/* reading the request head */
	PX_RESOLVE,
	PX_CONNECT,
	PX_SEND,		/* request head + body to the origin */
	PX_RESP_HEAD,		/* reading the response head */
	PX_RESP_BODY,		/* response head + body to the client */
	PX_TUNNEL_OK,		/* writing 200 (CONNECT) or 101 to the client */
	PX_TUNNEL,		/* bytes both ways (tunnel.c) */
	PX_REPLY,		/* writing viaduct's own answer (TRACE, OPTIONS) */
	PX_ERROR,		/* writing an error page, then close */
	PX_LINGER,		/* half-closed, draining the client before close */
	PX_CACHE,		/* writing a response from the cache (cache_hit.c) */
};

struct upstream {
	struct side	 s;		/* s.io unused: the socket's is sock->io */
	struct up_sock	*sock;		/* while s.fd is open */
	bool		 reused;	/* taken from the keep-alive pool */
	bool		 fresh_only;	/* a retry: never take from the pool */
	bool		 waiting;	/* queued for max-server-connections */
	bool		 reusable;	/* may go back to the pool after this response */
	struct conn	*wnext, *wprev;	/* the wait queue */
	/* serialize-connections: waiting for a busy connection to the origin */
	bool		 serial;	/* in the table's serial queue */
	bool		 serial_gaveup;	/* waited its time: opens its own */
	int64_t		 serial_until;	/* loop ms: then give up */
	struct conn	*snext, *sprev;	/* the serial queue */
	struct buf	 in;
	char		 host[256];	/* for DNS, NUL-terminated */
	uint16_t	 port;
	struct dns_query *dnsq;
	struct sockaddr_storage addrs[DNS_MAX_ADDRS];
	socklen_t	 lens[DNS_MAX_ADDRS];
	int		 naddrs, cur;
	const char	*error;		/* why the last connect failed */
	bool		 local;		/* ... on our side (no descriptor): 503 */
	bool		 got;		/* response bytes arrived on this connection */
	bool		 timed_out;
	/* through a parent (parent.h): addrs[] are the parents to try, in
	 * order, addrs[i] being the conf's parent_set->p[pidx[i]] */
	bool		 via_parent;
	int8_t		 pidx[DNS_MAX_ADDRS];
	/* the direct list's answer (enum rules_direct), asked once per request
	 * so that a failover does not count its rule twice; fallback: no parent
	 * answered and the request goes to the origin (both reset per request) */
	uint8_t		 direct;
	bool		 fallback;
	bool		 direct_addr;	/* the direct list's answer depends on the address */
	bool		 acl_addr;	/* so does the access list's (rules_access()) */
};

struct conn {
	struct conn_table *t;
	struct conn	*next_free;
	/* posted: its turn ended with requests still buffered (conn_post) */
	struct conn	*post_next, *post_prev;
	bool		 posted;
	enum px_state	 state;
	struct side	 cl;
	struct ev_timer	 timer;
	char		 peer[64];	/* client IP, for X-Forwarded-For */
	enum router_mode mode;		/* of the listener it came in on */
	bool		 has_odst;	/* transparent: redirected by the firewall */
	struct sockaddr_storage odst;	/* ... from here (SO_ORIGINAL_DST) */
	unsigned	 nreq;		/* requests on this connection */
	uint64_t	 serial;	/* which connection this slot holds (connstat.c) */
	bool		 running;	/* inside proxy_run (callbacks must not re-enter) */
	bool		 internal;	/* made by the cache (cache_bg.h), not a client */

	struct buf	 in;		/* client bytes: head, then body */
	struct http_out	 out;		/* head (or error page) being written */
	size_t		 out_off;
	struct http_out	 iout;		/* an interim (1xx) response to the client */
	size_t		 iout_off;
	bool		 expect;	/* the client waits for 100 (Continue) */
	bool		 early;		/* the final response came before the request body ended */
	bool		 connect;	/* a CONNECT request */
	bool		 upgrade;	/* offered the origin an Upgrade */
	struct tunnel	 tun;

	struct http_req	 req;
	struct http_framing req_fr;
	bool		 keep_alive;	/* the client may send another request */
	bool		 client_close;	/* ... and it said it would not (close, 1.0) */
	bool		 head_method;
	bool		 resp_started;	/* response bytes reached the client */

	struct upstream	 up;
	struct relay	 body;		/* the body now moving (request, then response) */
	struct http_resp resp;
	struct http_resp_out ro;
	int		 status;	/* of the response, for counters */
	uint64_t	 sent;		/* bytes to the client for this response */
	uint32_t	 linger_q;	/* PX_LINGER: unsent bytes at the last look */
	struct cache_conn *cache;	/* cache_conn.h's state; NULL: no cache */
	struct cache_dscp dscp;		/* cache-hit-dscp on the client socket */
};

/* One open origin connection of a worker (upstream.c), busy or idle.  Its
 * socket is registered with epoll once, when it is opened, and stays
 * registered until it is closed: events go to the owning connection while
 * it is busy and to the pool while it is idle, so that lending it out and
 * parking it again cost no system call. */
struct up_sock {
	struct up_sock	*next, *prev;	/* idle: the LRU (most recent first); else the free list */
	struct conn_table *t;
	struct conn	*owner;		/* NULL while idle */
	int		 fd;
	struct ev_io	 io;
	struct ev_timer	 timer;		/* the idle timeout */
	int64_t		 idle_since;	/* loop ms it was parked at */
	uint64_t	 idle_turn;	/* ... and the loop's turn */
	uint16_t	 port;		/* the pool key (pool_key()) */
	char		 host[256];
};

/* An origin whose last response said HTTP/1.0 (upstream_note_version). */
#define UP_V10_MAX	16
struct up_v10 {
	uint16_t	 port;
	char		 host[256];	/* "": a free slot */
};

struct conn_table {
	struct ev_loop	*loop;
	/* origin connections of this worker: open (busy + idle), bound, pool */
	int		 nserver, server_max;
	struct up_sock	*socks, *sock_free, *idle_lru;
	int		 nidle;
	struct conn	*wq_head, *wq_tail;	/* waiting for a server slot */
	struct ev_timer	 wake;
	struct conn	*sq_head, *sq_tail;	/* serialize-connections' FIFO */
	struct ev_timer	 serial;		/* its next look */
	struct conn	*posted;		/* conn_post(): run again next turn */
	struct conn	*post_batch;		/* those post_cb is running now */
	struct ev_timer	 post_timer;
	struct up_v10	 v10[UP_V10_MAX];	/* the last origins that spoke 1.0 */
	unsigned	 v10_next;		/* the slot to reuse next */
	const struct vd_conf *conf;
	struct conn	*conns;
	size_t		 n, active;
	unsigned long	 accepted;
	uint64_t	 serials;	/* the last conn.serial given */
	struct conn	*free;
	struct dns	*dns;
	struct router	*router;
	bool		 shutdown;
	struct http_limits req_lim, resp_lim;
	char		 via[256];
	char		 date[32];	/* conn_date(): IMF-fixdate of date_sec */
	time_t		 date_sec;
	int64_t		 accept_warned;	/* loop ms of the last accept() warning */
	const char	*admin;
	void		*mem;
	struct cache_proxy *cache;	/* cache_proxy.c; NULL: max-cache-size=none */
};

/* A counter of what clients get (stats.h): a background revalidation
 * (cache_bg.h) is no client's, and counts in none of them. */
#define CLIENT_STATS_INC(c, f, n) \
	do { if (!(c)->internal) STATS_INC(f, n); } while (0)

/* conn.c: run c again after the loop's next look at every socket, so that
 * a client pipelining cache hits does not keep the others waiting. */
void	conn_post(struct conn *);

/* proxy.c */
void	proxy_start(struct conn *);		/* a fresh connection */
void	proxy_run(struct conn *);		/* make progress */
void	proxy_timeout(struct conn *);
void	proxy_error(struct conn *, int status, const char *why);
void	proxy_head_only(struct conn *);
/* A request the cache parked (collapsed forwarding) goes to the origin after all. */
void	proxy_upstream(struct conn *);
/* The request once more, as the client sent it, to the origin (the cache's
 * conditional one got an answer it cannot use). */
void	proxy_refetch(struct conn *);

/* conn.c */
void	conn_close(struct conn *);
/* Close with a reset (SO_LINGER 0): for a client whose response is cut
 * short where only a reset can tell it so (read until the close). */
void	conn_abort(struct conn *);
/* The current time as an IMF-fixdate (RFC 9110 §5.6.7), formatted once a
 * second: the Date of what viaduct answers itself, and of a forwarded
 * response that came without one (§6.6.1). */
const char *conn_date(struct conn_table *);
void	conn_timer(struct conn *, int64_t ms);

/* upstream.c: connect to up->addrs in turn (bound to src-address).  VD_OK
 * connected, VD_AGAIN in progress or queued behind max-server-connections,
 * VD_ERR every address failed (up->error). */
int	upstream_connect(struct conn *);
int	upstream_connected(struct conn *);	/* after writable: same codes */
void	upstream_close(struct conn *);
/* May this request be sent again if its connection fails before any response
 * byte: an idempotent method (RFC 9110 §9.2.2) and no body (a body is not
 * kept to be sent twice).  Such requests may also reuse an older idle
 * connection (UPSTREAM_UNSAFE_IDLE_MS). */
bool	upstream_retryable(const struct conn *);
/* Take an idle connection to up->host:port from the pool: VD_OK or
 * VD_DECLINED.  A request that could not be sent again on a new connection
 * takes only one idle for less than UPSTREAM_UNSAFE_IDLE_MS (upstream.c). */
int	upstream_pool_get(struct conn *);
/*
 * RFC 9112 §6.1: a client sends Transfer-Encoding only to a server it knows
 * handles HTTP/1.1, "by remembering the version of a prior received
 * response".  The worker remembers the last UP_V10_MAX origins whose last
 * response was HTTP/1.0 (note: after every final response from an origin);
 * origin_v10 asks whether the request's origin (after route()), or the
 * parent planned for it (after upstream_parent_plan()), is one.
 */
void	upstream_note_version(struct conn *, int version);
bool	upstream_origin_v10(const struct conn *);
/* Done with the origin connection: pooled when up->reusable, else closed. */
void	upstream_release(struct conn *);
int	upstream_pool_init(struct conn_table *);
void	upstream_pool_free(struct conn_table *);
void	upstream_pool_drain(struct conn_table *);	/* close every idle one */
/*
 * Parents (parent.h), for start_upstream(): with a parent configured and the
 * direct list denying the origin, VD_OK: addrs[] hold the live parents by
 * URL hash and the head in c->out is in absolute-form; VD_DECLINED: straight
 * to the origin (always, with no parent); VD_ERR: an error page is set (no
 * parent is live).
 */
int	upstream_parent_plan(struct conn *);
/* The parent being connected to refused or timed out: down for the hold time. */
void	upstream_parent_failed(struct conn *);
/* CONNECT through a parent: the CONNECT request for it, into c->out. */
int	upstream_parent_connect_head(struct conn *);
/*
 * The parent being tried failed (refused, timed out, closed without an
 * answer; the caller has marked it down): send the request again to the
 * next live parent by hash, or, when none is left, straight to the origin
 * unless a direct deny rule forbids it.  replay: the request may be sent
 * again (nothing of it went, or it went whole and is idempotent).  true:
 * the request is on its way again (proxy_upstream()); false: not through a
 * parent, not replayable, or never_direct with no parent left -- the
 * caller answers the error as before.
 */
bool	upstream_parent_next(struct conn *, bool replay);

/* relay.c: move the body until done or a side blocks (VD_DONE, VD_AGAIN,
 * RELAY_ESRC, RELAY_EDST). */
int	relay_run(struct relay *, struct buf *src, struct side *from,
	    struct side *to, uint64_t *in_count, uint64_t *out_count);
/* A chunked request body: its decoder also refuses the trailer fields the
 * head owns (framing, Host, connection management); after memset. */
void	relay_check_trailer(struct relay *);
/* Read into the drained buffer.  VD_OK (bytes or EOF), VD_AGAIN, RELAY_ESRC (*why). */
int	relay_fill(struct buf *, struct side *from, uint64_t *count, const char **why);
/* sendfile() bytes *off .. end of fd to the side, at most 1 MiB a call so that
 * one body cannot hog the loop; *off and *count advance.  VD_OK all sent,
 * VD_AGAIN the side blocks (to->wr cleared), VD_DECLINED the file ended
 * before `end`, VD_ERR the side failed. */
int	relay_sendfile(struct side *to, int fd, uint64_t *off, uint64_t end, uint64_t *count);

#endif
