/*
 * accesslog.h — the access log: one line per request, written when the
 * request ends, in Squid's native format (the default), NCSA common or
 * combined, or JSON (access-log-format in viaduct.conf(5)).
 *
 * Two layers:
 *  - accesslog_format() turns a struct accesslog_entry into one line.  Pure:
 *    no I/O, no allocation, no global state (unit-tested, t/unit/accesslog.c).
 *  - struct accesslog is a worker's log: a fixed 64 KiB buffer of whole lines
 *    written to the file (O_WRONLY|O_APPEND) with ONE write(2) when the next
 *    line would not fit, on the worker's 1 s timer, and on reopen (USR1),
 *    drain and exit.  Every write holds whole lines only and O_APPEND puts it
 *    at the end of the file atomically, so the workers' lines never interleave.
 *    A write cut short (disk full, file size limit) leaves half a line and the
 *    rest of that buffer is dropped; the next write to a file that ends inside
 *    a line (seen by a one-byte pread when the file is readable, else only a
 *    cut of our own) begins with '\n', so no line is glued onto the half one.
 *    So that the tail looked at is never another worker's write under way,
 *    the workers take turns with flock(2) around the look and the write (of
 *    a readable regular file only; nothing else takes that lock).
 *    A FIFO (a log collector's named pipe) is written in pieces of whole
 *    lines of at most PIPE_BUF (4096) bytes, the most the kernel writes to a
 *    pipe atomically: a single line longer than that cannot be atomic, and
 *    may be cut by another worker's lines when the pipe is full.
 *    Only the worker that created it touches it; it never blocks on anything
 *    but the file write itself.
 *
 * access-log=syslog[:FACILITY] sends each line instead as one RFC 3164
 * datagram (priority FACILITY.info, tag viaduct[pid]) to the unix socket
 * syslog-socket (/dev/log), at once and without buffering; the send never
 * waits: when the socket is full or absent the line is dropped and counted
 * (syslog-dropped in the statistics).
 *
 * The master creates the file as root and hands it to the user at start
 * (master.c access_log_create); on USR1 it creates a missing one again, but
 * as the user by then (privdrop.c keeps nothing for files), so where the
 * user may not create files the new file must exist first (logrotate's
 * create, contrib/logrotate/viaduct).  Workers open it by name, so a
 * rotated file (mv + create + USR1) is followed by every worker; one that
 * cannot be opened leaves them writing to the old one.
 *
 * accesslog_proxy.c is the glue on the request path: it turns a struct conn
 * into an entry (accesslog_req_start/accesslog_req_end, called from proxy.c).
 */
#ifndef VD_ACCESSLOG_H
#define VD_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "viaduct.h"

#define ACCESSLOG_BUFSIZE	65536
#define ACCESSLOG_FLUSH_MS	1000
#define ACCESSLOG_MAX_URL	8192	/* longer URLs are cut in the log only */

/* Squid's result codes (the part before the '/').  The cache codes come
 * with the cache (issue 6); the names are Squid's own, so analysers
 * (calamaris, SARG, GoAccess) classify hits and misses without configuration. */
#define ACCESSLOG_RESULTS(X) \
	X(AL_NONE,			"NONE") \
	X(AL_TCP_MISS,			"TCP_MISS") \
	X(AL_TCP_HIT,			"TCP_HIT") \
	X(AL_TCP_MEM_HIT,		"TCP_MEM_HIT") \
	X(AL_TCP_REFRESH_UNMODIFIED,	"TCP_REFRESH_UNMODIFIED") \
	X(AL_TCP_REFRESH_MODIFIED,	"TCP_REFRESH_MODIFIED") \
	X(AL_TCP_CLIENT_REFRESH_MISS,	"TCP_CLIENT_REFRESH_MISS") \
	X(AL_TCP_IMS_HIT,		"TCP_IMS_HIT") \
	X(AL_TCP_NEGATIVE_HIT,		"TCP_NEGATIVE_HIT") \
	X(AL_TCP_DENIED,		"TCP_DENIED") \
	X(AL_TCP_TUNNEL,		"TCP_TUNNEL") \
	X(AL_TCP_SWAPFAIL_MISS,		"TCP_SWAPFAIL_MISS") \
	X(AL_TCP_REFRESH_FAIL_OLD,	"TCP_REFRESH_FAIL_OLD")	/* stale-if-error */

enum accesslog_result {
#define AL_X(e, s)	e,
	ACCESSLOG_RESULTS(AL_X)
#undef AL_X
	AL_RESULT_MAX
};

/* Squid's hierarchy codes (what follows the '/': the peer, or "-"). */
enum accesslog_hier {
	AL_HIER_NONE,		/* "HIER_NONE": answered without an upstream */
	AL_HIER_DIRECT,		/* "HIER_DIRECT": from the origin server */
	AL_HIER_FIRSTUP_PARENT,	/* "FIRSTUP_PARENT": the parent proxy */
	AL_HIER_CARP,		/* "CARP": a parent chosen by URL hash */
	AL_HIER_MAX
};

enum accesslog_fmt {
	AL_FMT_SQUID,
	AL_FMT_COMMON,
	AL_FMT_COMBINED,
	AL_FMT_JSON,
};

/* One finished request.  Strings are borrowed; empty or NULL means "-". */
struct accesslog_entry {
	int64_t			 time_ms;	/* wall clock at the end, ms since the epoch */
	int64_t			 elapsed_ms;
	const char		*client;	/* IP address text */
	enum accesslog_result	 result;
	int			 status;	/* 0: nothing was answered ("000") */
	uint64_t		 bytes;		/* sent to the client, head and body */
	struct vd_str		 method;	/* empty: "NONE" (request not parsed) */
	struct vd_str		 url;		/* empty: "error:invalid-request" */
	int			 version;	/* 10 or 11; 0 unknown (common: HTTP/1.1) */
	struct vd_str		 user;
	enum accesslog_hier	 hier;
	const char		*peer;		/* IP of the upstream, for the hierarchy */
	struct vd_str		 ctype;		/* media type of the response */
	struct vd_str		 referer;	/* combined, json */
	struct vd_str		 agent;		/* combined, json */
};

const char	*accesslog_result_name(enum accesslog_result);
const char	*accesslog_hier_name(enum accesslog_hier);
/* "squid" "common" "combined" "json" -> AL_FMT_*, or -1. */
int		 accesslog_fmt_parse(const char *);

/*
 * Format one line, '\n' included, into buf (no NUL).  Returns its length,
 * or 0 when it does not fit in cap.  The URL is cut at ACCESSLOG_MAX_URL
 * bytes; bytes outside printable ASCII and the field separators of the
 * format are escaped (\xHH; JSON: \u00HH), so a line is always one line.
 */
size_t		 accesslog_format(char *buf, size_t cap, enum accesslog_fmt,
		    const struct accesslog_entry *);

/* ------------------------------------------------------------ a worker's log */

struct accesslog;
struct vd_conf;

/*
 * Open conf->access_log (unless it is "none": then nothing is written) and
 * size the per-connection table for nconns connection slots
 * (accesslog_proxy.c).  Start-up only.  NULL only when out of memory; a
 * file that cannot be opened is logged and the worker runs without it.
 * Every call below accepts a NULL log.
 */
struct accesslog	*accesslog_create(const struct vd_conf *, size_t nconns);
/* Buffer one line; writes the buffer first when the line would not fit. */
void			 accesslog_write(struct accesslog *, const struct accesslog_entry *);
/* Write what is buffered (one write).  VD_OK or VD_ERR (logged; lines dropped). */
int			 accesslog_flush(struct accesslog *);
/* USR1: flush to the old file, then open the path again. */
void			 accesslog_reopen(struct accesslog *);
/* Flush and close (drain, exit). */
void			 accesslog_close(struct accesslog *);
/* Wall clock in ms from the loop's monotonic clock (re-synced on flush). */
int64_t			 accesslog_now_ms(struct accesslog *);
/* Lines buffered but not yet written (tests). */
size_t			 accesslog_pending(const struct accesslog *);

/* --------------------------------------------------- request path (glue) */

struct conn;

/* Per connection slot: the request in flight, if any. */
struct accesslog_req {
	int64_t		 start_ms;	/* the loop's monotonic clock */
	bool		 active;
};
/* The record of connection slot i, or NULL (glue only). */
struct accesslog_req	*accesslog_slot(struct accesslog *, size_t i);

/* A request was parsed (or failed to parse): remember when it started.
 * Idempotent until accesslog_req_end(). */
void	accesslog_req_start(struct conn *);
/* An error page is coming: when no request is in flight, the head did not
 * parse (or come in time); count it as a request (`requests`) and start it
 * when the head began: the connection's start for its first request, its
 * first byte for a later one (so a 408 shows request-header-timeout). */
void	accesslog_req_error(struct conn *);
/* The request ended (any outcome): log it once, count lookups-denied.
 * A no-op when no request is in flight on c. */
void	accesslog_req_end(struct conn *);

#endif
