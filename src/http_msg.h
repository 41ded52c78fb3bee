/*
 * http_msg.h — what a proxy does to a message between parsing and sending:
 * the framing decision (RFC 9112 §6.3), hop-by-hop fields (RFC 9110 §7.6.1),
 * Via (RFC 9110 §7.6.3) and loop detection, X-Forwarded-For, the rewritten
 * heads for the origin and for the client, and error pages.
 *
 * Pure functions: no I/O, no global state.  Output goes into a caller-owned
 * fixed buffer (struct http_out); running out of room sets `overflow`
 * instead of growing it.
 */
#ifndef VD_HTTP_MSG_H
#define VD_HTTP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_parse.h"

enum http_body {
	HTTP_BODY_NONE,
	HTTP_BODY_LENGTH,
	HTTP_BODY_CHUNKED,
	HTTP_BODY_EOF,		/* responses only: until the origin closes */
};

struct http_framing {
	enum http_body	 kind;
	uint64_t	 length;	/* HTTP_BODY_LENGTH */
	bool		 has_length;	/* a valid Content-Length (without TE), */
	uint64_t	 declared;	/* also where it frames nothing (HEAD, 304) */
	bool		 te_and_cl;	/* both were present: TE governs, close after */
	/* a response that carries no body (HEAD, 204, 304) although its head
	 * announced one (a length, chunked, or for HEAD no length at all): an
	 * origin that sends it anyway would leave it in front of the next
	 * response, so the connection is not reused */
	bool		 skipped;
};

/* VD_OK, or VD_ERR with *status (400, 501) and *why. */
int	http_req_framing(const struct http_req *, struct http_framing *,
	    int *status, const char **why);
/* VD_OK, or VD_ERR (*why): the proxy answers 502. */
int	http_resp_framing(const struct http_resp *, bool head_request,
	    struct http_framing *, const char **why);

/* Is `token` among the Connection options (case-insensitive)? */
bool	http_conn_has(const struct http_field *, int n, const char *token);
/* Any line of `field` has the list member `token` (case-insensitive). */
bool	http_list_has(const struct http_field *, int n, const char *field,
	    const char *token);
/* A hop-by-hop field: the fixed list or named by Connection.  Scans the
 * Connection fields on every call: for one field only. */
bool	http_is_hop(const struct http_field *, int n, struct vd_str name);

/* The hop-by-hop set of one message, for filtering all its fields: the
 * Connection options are collected once (http_hops_init), so that asking
 * about each field costs a length switch, not a rescan of the head. */
#define HTTP_HOPS_MAX	16
struct http_hops {
	const struct http_field	*f;	/* for the rare overflow: rescan */
	int			 nf, n;
	bool			 overflow;
	struct vd_str		 tok[HTTP_HOPS_MAX];
};
void	http_hops_init(struct http_hops *, const struct http_field *, int n);
bool	http_hops_has(const struct http_hops *, struct vd_str name);
/* Does the Upgrade field offer only websocket (the one upgrade viaduct
 * forwards; h2c behind a proxy would tunnel past its per-request rules)? */
bool	http_upgrade_websocket(const struct http_field *, int n);
/* Does any Via entry name `pseudonym` as received-by (a loop)? */
bool	http_via_has(const struct http_field *, int n, const char *pseudonym);

struct http_out {
	char		*p;
	size_t		 len;
	size_t		 cap;
	bool		 overflow;
};

void	http_out_add(struct http_out *, const char *, size_t);
void	http_out_str(struct http_out *, const char *);
void	http_out_vstr(struct http_out *, struct vd_str);
void	http_out_uint(struct http_out *, uint64_t);

struct http_fwd {
	const char	*via;		/* pseudonym */
	const char	*client_ip;	/* for X-Forwarded-For; NULL: none */
	bool		 anonymous;	/* no X-Forwarded-For, From, Referer */
	bool		 upgrade;	/* keep Upgrade, send Connection: upgrade */
	bool		 set_max_forwards;	/* rewrite Max-Forwards (TRACE, OPTIONS) */
	uint64_t	 max_forwards;	/* to this value, in place */
	struct vd_str	 host;		/* Host for an origin-form request without
					 * one (RFC 9112 §3.2); empty: none */
};

/*
 * The head sent to the origin: origin-form target (empty path -> "/", or
 * "*" for OPTIONS, RFC 9112 §3.2.4),
 * HTTP/1.1, Host from the target, hop-by-hop fields removed, Content-Length
 * dropped when chunked, Via and X-Forwarded-For added.  VD_OK or VD_ERR
 * (overflow).
 */
int	http_req_head(struct http_out *, const struct http_req *,
	    const struct http_framing *, const struct http_fwd *);

/* How the response body goes to the client. */
struct http_resp_out {
	bool		 chunked;	/* we send Transfer-Encoding: chunked */
	bool		 close;		/* we close after it (Connection: close) */
	bool		 keep_alive_10;	/* a 1.0 client keeps the connection */
	bool		 upgrade;	/* a 101: keep Upgrade, send Connection: upgrade */
	const char	*date;		/* NULL, or the Date to add when the response
					 * has none (RFC 9110 §6.6.1) */
};

int	http_resp_head(struct http_out *, const struct http_resp *,
	    const struct http_framing *, const struct http_resp_out *,
	    const char *via);

const char	*http_reason(int status);

/* Max-Forwards (RFC 9110 §7.6.2): VD_OK and *v, VD_DECLINED when absent,
 * VD_ERR when malformed. */
int	http_max_forwards(const struct http_req *, uint64_t *v);

/* The methods viaduct itself answers about (OPTIONS, 405). */
#define HTTP_ALLOW	"GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE, CONNECT"

/*
 * viaduct's own answers when Max-Forwards reaches 0: TRACE echoes the
 * request head as received (`head`, head_len bytes), minus Authorization,
 * Proxy-Authorization and Cookie, as message/http; OPTIONS lists Allow.
 */
void	http_trace_reply(struct http_out *, const char *head, size_t head_len,
	    const char *via, const char *date, bool close, bool keep_alive_10);
void	http_options_reply(struct http_out *, const char *via, const char *date,
	    bool close, bool keep_alive_10);

/*
 * A complete error response (head and small HTML body naming the status,
 * the URL, the reason and the cache administrator), Connection: close
 * unless keep_alive.  `date` is the current IMF-fixdate: viaduct is the
 * origin of its own answers (RFC 9110 §6.6.1).
 */
void	http_error_page(struct http_out *, int status, struct vd_str url,
	    const char *reason, const char *admin, const char *via,
	    const char *date, bool keep_alive);

#endif
