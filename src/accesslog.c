/*
 * accesslog.c — access log lines (pure formatting) and a worker's buffered,
 * whole-line writer.  See accesslog.h for the contract.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "viaduct.h"
#include "accesslog.h"
#include "conf.h"
#include "event.h"
#include "log.h"
#include "stats.h"
#include "util.h"

/* ------------------------------------------------------------ formatting */

static const char *const result_names[] = {
#define AL_X(e, s)	[e] = s,
	ACCESSLOG_RESULTS(AL_X)
#undef AL_X
};

static const char *const hier_names[] = {
	[AL_HIER_NONE] = "HIER_NONE",
	[AL_HIER_DIRECT] = "HIER_DIRECT",
	[AL_HIER_FIRSTUP_PARENT] = "FIRSTUP_PARENT",
	[AL_HIER_CARP] = "CARP",
};

const char *
accesslog_result_name(enum accesslog_result r)
{
	return (unsigned)r < AL_RESULT_MAX ? result_names[r] : "NONE";
}

const char *
accesslog_hier_name(enum accesslog_hier h)
{
	return (unsigned)h < AL_HIER_MAX ? hier_names[h] : "HIER_NONE";
}

int
accesslog_fmt_parse(const char *s)
{
	static const char *const names[] = { "squid", "common", "combined", "json" };

	for (size_t i = 0; s != NULL && i < VD_ARRLEN(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

/* A bounded line under construction; overflow is sticky. */
struct line {
	char	*p;
	size_t	 len, cap;
	bool	 overflow;
};

static void
put(struct line *l, const char *s, size_t n)
{
	if (l->overflow || n > l->cap - l->len) {
		l->overflow = true;
		return;
	}
	memcpy(l->p + l->len, s, n);
	l->len += n;
}

static void
puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static void
putf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
putf(struct line *l, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		l->overflow = true;
		return;
	}
	put(l, tmp, (size_t)n);
}

/*
 * An unsigned number, right-aligned in at least width characters padded
 * with pad ('0' or ' '): the hot squid format's fields without printf.
 */
static void
put_num(struct line *l, unsigned long long v, int width, char pad)
{
	static const char two[] =
	    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	    "8081828384858687888990919293949596979899";
	char tmp[24];
	size_t n = sizeof(tmp);

	while (v >= 10) {	/* two digits a division */
		unsigned d = (unsigned)(v % 100);

		v /= 100;
		tmp[--n] = two[2 * d + 1];
		tmp[--n] = two[2 * d];
	}
	if (v > 0 || n == sizeof(tmp))
		tmp[--n] = (char)('0' + v);
	while (width > (int)(sizeof(tmp) - n) && n > 0)
		tmp[--n] = pad;
	put(l, tmp + n, sizeof(tmp) - n);
}

/* ESC_URLQ: a URL inside a quoted field (the NCSA request): its quote and
 * backslash are %-encoded too, or GoAccess ends the field there. */
enum esc { ESC_TOKEN, ESC_URL, ESC_URLQ, ESC_QUOTED, ESC_JSON };

/* Bytes copied as they are: visible ASCII in tokens and URLs; also the
 * space, less the quote and the backslash, in quoted fields and JSON.  Two
 * functions, chosen once per field, keep the mode out of the byte loop. */
static inline bool
esc_plain_token(unsigned char ch)
{
	return (unsigned)(ch - 0x21) < 0x7f - 0x21;
}

/* Eight bytes at p all plain in a token or URL: none below 0x21 ("has a
 * byte less than n") and none at or above 0x7f (adding 1 sets the high bit). */
static inline bool
word_plain_token(const char *p)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x80 * ones;
	uint64_t x;

	memcpy(&x, p, 8);
	return ((((x - 0x21 * ones) & ~x) | x | (x + ones)) & high) == 0;
}

static inline bool
esc_plain_quoted(unsigned char ch)
{
	return (unsigned)(ch - 0x20) < 0x7f - 0x20 && ch != '"' && ch != '\\';
}

static inline bool
esc_plain_urlq(unsigned char ch)
{
	return esc_plain_token(ch) && ch != '"' && ch != '\\';
}

static void
put_esc_byte(struct line *l, unsigned char ch, enum esc how)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[6];

	switch (how) {
	case ESC_URL:
	case ESC_URLQ:
		e[0] = '%'; e[1] = hex[ch >> 4]; e[2] = hex[ch & 15];
		put(l, e, 3);
		break;
	case ESC_JSON:
		if (ch == '"' || ch == '\\') {
			e[0] = '\\'; e[1] = (char)ch;
			put(l, e, 2);
			break;
		}
		e[0] = '\\'; e[1] = 'u'; e[2] = '0'; e[3] = '0';
		e[4] = hex[ch >> 4]; e[5] = hex[ch & 15];
		put(l, e, 6);
		break;
	default:
		e[0] = '\\'; e[1] = 'x'; e[2] = hex[ch >> 4]; e[3] = hex[ch & 15];
		put(l, e, 4);
		break;
	}
}

/*
 * Copy s so that it stays one field of one line: tokens (squid fields)
 * lose spaces, URLs are %-encoded (in quotes, their quote and backslash
 * too), quoted fields (NCSA) and JSON strings escape their quote and
 * backslash.  Empty: "-" (JSON: null, by the caller).
 * Runs of plain bytes are copied whole: a URL is usually one run.
 */
static void
put_esc(struct line *l, struct vd_str s, enum esc how, size_t max)
{
	size_t i = 0;

	if (s.p == NULL || s.len == 0) {
		put(l, "-", 1);
		return;
	}
	if (s.len > max)
		s.len = max;
	while (i < s.len) {
		size_t run = i;

		if (how == ESC_QUOTED || how == ESC_JSON) {
			while (run < s.len && esc_plain_quoted((unsigned char)s.p[run]))
				run++;
		} else if (how == ESC_URLQ) {
			while (run < s.len && esc_plain_urlq((unsigned char)s.p[run]))
				run++;
		} else {
			while (s.len - run >= 8 && word_plain_token(s.p + run))
				run += 8;
			while (run < s.len && esc_plain_token((unsigned char)s.p[run]))
				run++;
		}
		put(l, s.p + i, run - i);
		if (run < s.len)
			put_esc_byte(l, (unsigned char)s.p[run++], how);
		i = run;
	}
}

static struct vd_str
cstr(const char *s)
{
	return (struct vd_str){ s, s != NULL ? strlen(s) : 0 };
}

static struct vd_str
or_default(struct vd_str s, const char *dflt)
{
	return s.len > 0 && s.p != NULL ? s : cstr(dflt);
}

/* Only the media type: "text/html; charset=utf-8" -> "text/html". */
static struct vd_str
media_type(struct vd_str s)
{
	size_t n = 0;

	while (n < s.len && s.p[n] != ';' && s.p[n] != ' ' && s.p[n] != '\t')
		n++;
	return (struct vd_str){ s.p, n };
}

/* Squid: %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt */
static void
fmt_squid(struct line *l, const struct accesslog_entry *e)
{
	put_num(l, (unsigned long long)(e->time_ms / 1000), 0, '0');
	put(l, ".", 1);
	put_num(l, (unsigned long long)(e->time_ms % 1000), 3, '0');
	put(l, " ", 1);
	put_num(l, e->elapsed_ms > 0 ? (unsigned long long)e->elapsed_ms : 0, 6, ' ');
	put(l, " ", 1);
	put_esc(l, cstr(e->client), ESC_TOKEN, 64);
	put(l, " ", 1);
	puts_(l, accesslog_result_name(e->result));
	put(l, "/", 1);
	put_num(l, e->status > 0 ? (unsigned)e->status : 0, 3, '0');
	put(l, " ", 1);
	put_num(l, (unsigned long long)e->bytes, 0, '0');
	put(l, " ", 1);
	put_esc(l, or_default(e->method, "NONE"), ESC_TOKEN, 64);
	put(l, " ", 1);
	put_esc(l, or_default(e->url, "error:invalid-request"), ESC_URL, ACCESSLOG_MAX_URL);
	put(l, " ", 1);
	put_esc(l, e->user, ESC_TOKEN, 256);
	put(l, " ", 1);
	puts_(l, accesslog_hier_name(e->hier));
	put(l, "/", 1);
	put_esc(l, cstr(e->peer), ESC_TOKEN, 256);
	put(l, " ", 1);
	put_esc(l, media_type(e->ctype), ESC_TOKEN, 256);
	put(l, "\n", 1);
}

/* NCSA: host ident user [dd/Mon/yyyy:HH:MM:SS +0000] "request" status bytes */
static void
fmt_common(struct line *l, const struct accesslog_entry *e, bool combined)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)(e->time_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	put_esc(l, cstr(e->client), ESC_TOKEN, 64);
	put(l, " - ", 3);
	put_esc(l, e->user, ESC_TOKEN, 256);
	putf(l, " [%02d/%s/%04d:%02d:%02d:%02d +0000] \"", tm.tm_mday,
	    mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	put_esc(l, or_default(e->method, "NONE"), ESC_QUOTED, 64);
	put(l, " ", 1);
	put_esc(l, or_default(e->url, "error:invalid-request"), ESC_URLQ, ACCESSLOG_MAX_URL);
	putf(l, " HTTP/1.%d\" %03d ", e->version == 10 ? 0 : 1, e->status);
	if (e->bytes > 0)
		putf(l, "%llu", (unsigned long long)e->bytes);
	else
		put(l, "-", 1);
	if (combined) {
		put(l, " \"", 2);
		put_esc(l, e->referer, ESC_QUOTED, 1024);
		put(l, "\" \"", 3);
		put_esc(l, e->agent, ESC_QUOTED, 1024);
		put(l, "\"", 1);
	}
	put(l, "\n", 1);
}

static void
json_str(struct line *l, const char *key, struct vd_str v, size_t max)
{
	putf(l, ",\"%s\":", key);
	if (v.p == NULL || v.len == 0) {
		puts_(l, "null");
		return;
	}
	put(l, "\"", 1);
	put_esc(l, v, ESC_JSON, max);
	put(l, "\"", 1);
}

static void
fmt_json(struct line *l, const struct accesslog_entry *e)
{
	putf(l, "{\"time\":%lld.%03d,\"elapsed_ms\":%lld", (long long)(e->time_ms / 1000),
	    (int)(e->time_ms % 1000), (long long)e->elapsed_ms);
	json_str(l, "client", cstr(e->client), 64);
	json_str(l, "result", cstr(accesslog_result_name(e->result)), 64);
	putf(l, ",\"status\":%d,\"bytes\":%llu", e->status, (unsigned long long)e->bytes);
	json_str(l, "method", e->method, 64);
	json_str(l, "url", e->url, ACCESSLOG_MAX_URL);
	json_str(l, "user", e->user, 256);
	json_str(l, "hierarchy", cstr(accesslog_hier_name(e->hier)), 64);
	json_str(l, "peer", cstr(e->peer), 256);
	json_str(l, "content_type", media_type(e->ctype), 256);
	json_str(l, "referer", e->referer, 1024);
	json_str(l, "user_agent", e->agent, 1024);
	put(l, "}\n", 2);
}

size_t
accesslog_format(char *buf, size_t cap, enum accesslog_fmt fmt,
    const struct accesslog_entry *e)
{
	struct line l = { buf, 0, cap, false };

	switch (fmt) {
	case AL_FMT_COMMON:	fmt_common(&l, e, false); break;
	case AL_FMT_COMBINED:	fmt_common(&l, e, true); break;
	case AL_FMT_JSON:	fmt_json(&l, e); break;
	default:		fmt_squid(&l, e); break;
	}
	return l.overflow ? 0 : l.len;
}

/* ------------------------------------------------------------ the writer */

struct accesslog {
	int			 fd;		/* -1: access-log=none or not open */
	const char		*path;		/* the conf's; NULL for none */
	enum accesslog_fmt	 fmt;
	int64_t			 wall_off;	/* realtime ms - monotonic ms */
	int64_t			 dropped;	/* lines lost to write errors */
	bool			 syslog;	/* fd is a unix datagram socket */
	bool			 syslog_failing;	/* the last datagram was dropped */
	bool			 torn;		/* our last write ended inside a line */
	bool			 pipe;		/* fd is a FIFO: writes of at most PIPE_BUF */
	bool			 rdwr;		/* a regular file opened read-write (tail_torn) */
	int			 pri;		/* facility | LOG_INFO */
	struct sockaddr_un	 sun;		/* syslog-socket */
	size_t			 len;
	struct accesslog_req	*reqs;		/* per connection slot (glue) */
	size_t			 nreqs;
	char			 buf[ACCESSLOG_BUFSIZE];
};

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
resync(struct accesslog *al)
{
	al->wall_off = clock_ms(CLOCK_REALTIME) - clock_ms(CLOCK_MONOTONIC);
}

int64_t
accesslog_now_ms(struct accesslog *al)
{
	int64_t mono = vd.loop != NULL ? vd.loop->now_ms : clock_ms(CLOCK_MONOTONIC);

	return mono + (al != NULL ? al->wall_off : 0);
}

/*
 * O_APPEND, and read-write when the file is a regular one we may read, so
 * that a flush can see whether the file ends inside a line (tail_torn).  A
 * FIFO stays write-only: opened read-write it would never see its reader go.
 */
static int
open_file(const char *path)
{
	struct stat st, rst;
	int fd, rw;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		return fd;
	if ((rw = open(path, O_RDWR | O_APPEND | O_CLOEXEC)) == -1)
		return fd;	/* write-only: only our own torn writes are known */
	if (fstat(rw, &rst) == -1 || rst.st_dev != st.st_dev || rst.st_ino != st.st_ino) {
		close(rw);	/* renamed between the two opens */
		return fd;
	}
	close(fd);
	return rw;
}

static bool
is_fifo(int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

/* open_file() gave a regular file read-write: its tail can be checked. */
static bool
is_rdwr(int fd)
{
	int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;

	return fl != -1 && (fl & O_ACCMODE) == O_RDWR;
}

static bool
is_none(const char *path)
{
	return path == NULL || path[0] == '\0' || strcmp(path, "none") == 0;
}

/*
 * access-log=syslog: a non-blocking unix datagram socket, unconnected so
 * that a syslog daemon that restarts (a new socket at the same path) is
 * found again by the next datagram.
 */
static void
syslog_open(struct accesslog *al, const struct vd_conf *conf, int facility)
{
	al->syslog = true;
	al->pri = facility | LOG_INFO;
	al->sun.sun_family = AF_UNIX;
	vd_strlcpy(al->sun.sun_path, conf->syslog_socket, sizeof(al->sun.sun_path));
	al->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (al->fd == -1)
		log_warn("access log: cannot create a syslog socket");
}

/*
 * One line, one datagram, RFC 3164 as syslog(3) sends it to a local
 * daemon: "<PRI>Mmm dd hh:mm:ss viaduct[pid]: line" (the daemon adds the
 * host name).  Never waits: a full or missing socket drops the line and
 * counts it (syslog-dropped).
 */
static void
syslog_send(struct accesslog *al, const struct accesslog_entry *e)
{
	static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)(e->time_ms / 1000);
	struct tm tm;
	size_t n, h;
	int hn;

	if (localtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	hn = snprintf(al->buf, sizeof(al->buf), "<%d>%s %2d %02d:%02d:%02d %s[%ld]: ",
	    al->pri, mon[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    VD_NAME, (long)vd.pid);
	if (hn < 0 || (size_t)hn >= sizeof(al->buf))
		return;
	h = (size_t)hn;
	if ((n = accesslog_format(al->buf + h, sizeof(al->buf) - h, al->fmt, e)) == 0) {
		log_warnx("access log line longer than %d bytes dropped", ACCESSLOG_BUFSIZE);
		return;
	}
	n--;		/* the datagram is the line; no newline */
	if (sendto(al->fd, al->buf, h + n, MSG_DONTWAIT | MSG_NOSIGNAL,
	    (struct sockaddr *)&al->sun, sizeof(al->sun)) == (ssize_t)(h + n)) {
		al->syslog_failing = false;
		return;
	}
	al->dropped++;
	STATS_INC(syslog_dropped, 1);
	if (!al->syslog_failing)	/* once per run of failures, not per line */
		log_warn("access log: syslog socket %s did not take a line",
		    al->sun.sun_path);
	al->syslog_failing = true;
}

struct accesslog *
accesslog_create(const struct vd_conf *conf, size_t nconns)
{
	int facility;

	struct accesslog *al;
	int fmt = accesslog_fmt_parse(conf->access_log_format);

	if ((al = calloc(1, sizeof(*al))) == NULL)
		return NULL;
	if ((al->reqs = calloc(nconns > 0 ? nconns : 1, sizeof(*al->reqs))) == NULL) {
		free(al);
		return NULL;
	}
	al->nreqs = nconns;
	al->fmt = fmt >= 0 ? (enum accesslog_fmt)fmt : AL_FMT_SQUID;
	al->fd = -1;
	resync(al);
	if (is_none(conf->access_log))
		return al;
	if (conf_log_syslog(conf->access_log, &facility)) {
		syslog_open(al, conf, facility);
		return al;	/* no path: nothing to reopen on USR1 */
	}
	al->path = conf->access_log;
	if ((al->fd = open_file(al->path)) == -1)
		log_warn("cannot open access log %s", al->path);
	al->pipe = is_fifo(al->fd);
	al->rdwr = is_rdwr(al->fd);
	return al;
}

/*
 * Does the file end inside a line?  A write cut short by a full disk or
 * the file size limit leaves half a line, ours or another worker's; the
 * next line must not be glued onto it.  Only a regular file we can read
 * can tell (otherwise only our own torn write is known: al->torn), and
 * only under the workers' lock (flush): a file's size grows while a write
 * is under way, so a tail seen during another worker's write may be the
 * middle of a line still being written.
 */
static bool
tail_torn(int fd)
{
	struct stat st;
	char c;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size == 0)
		return false;
	return pread(fd, &c, 1, st.st_size - 1) == 1 && c != '\n';
}

/*
 * One write of the whole lines p[0..n), after a '\n' that ends a torn
 * tail when nl: one writev(2), so that O_APPEND places the two together.
 * Returns the bytes of p written (n: all), or -1 with errno; al->torn says
 * whether the file now ends inside one of our lines.
 */
static ssize_t
write_lines(struct accesslog *al, const char *p, size_t n, bool nl)
{
	struct iovec iov[2] = { { (void *)"\n", nl ? 1 : 0 }, { (void *)p, n } };
	ssize_t w;

	do
		w = writev(al->fd, iov, 2);
	while (w == -1 && errno == EINTR);
	if (w == -1)
		return -1;
	if ((size_t)w <= iov[0].iov_len) {
		if (w > 0)
			al->torn = false;	/* only the '\n': the tail is ended */
		return 0;
	}
	w -= (ssize_t)iov[0].iov_len;
	al->torn = p[w - 1] != '\n';
	return w;
}

/*
 * How much of the buffer from off goes in one write.  A file: all of it
 * (O_APPEND keeps a write whole).  A pipe: only a write of at most PIPE_BUF
 * bytes is atomic (pipe(7)); a larger one is split when the pipe fills and
 * another worker's write lands in between, mid-line.  So whole lines up to
 * PIPE_BUF (less the '\n' of nl); a single line longer than that goes
 * alone and may be split by another worker's lines.
 */
static size_t
chunk_len(const struct accesslog *al, size_t off, bool nl)
{
	size_t rest = al->len - off, max = PIPE_BUF - (nl ? 1 : 0);
	const char *p = al->buf + off, *e;

	if (!al->pipe || rest <= max)
		return rest;
	if ((e = memrchr(p, '\n', max)) != NULL)
		return (size_t)(e - p) + 1;
	e = memchr(p + max, '\n', rest - max);	/* every line ends with one */
	return e != NULL ? (size_t)(e - p) + 1 : rest;
}

int
accesslog_flush(struct accesslog *al)
{
	size_t off = 0, n;
	ssize_t w = 0;
	bool nl, locked;

	if (al == NULL || al->len == 0)
		return VD_OK;
	resync(al);
	if (al->fd < 0) {
		al->len = 0;
		return VD_OK;
	}
	/* the workers' writes to a file they can read take turns (flock(2),
	 * each worker its own open file), so that the tail they look at is
	 * never another's write under way; a lock that cannot be had costs
	 * the look only */
	locked = al->rdwr && flock(al->fd, LOCK_EX) == 0;
	nl = al->torn || (locked && tail_torn(al->fd));
	for (; off < al->len; off += n, nl = false) {
		n = chunk_len(al, off, nl);
		if ((w = write_lines(al, al->buf + off, n, nl)) != (ssize_t)n)
			break;
	}
	if (locked)
		(void)flock(al->fd, LOCK_UN);
	if (off == al->len) {
		al->len = 0;
		return VD_OK;
	}
	/* The rest is dropped, not written after the cut: by the time the
	 * disk has room, other workers' lines may follow the cut. */
	al->dropped++;
	if (w == -1)
		log_warn("access log %s: write failed, %zu bytes dropped", al->path,
		    al->len - off);
	else
		log_warnx("access log %s: short write (disk full or file size limit), "
		    "%zu bytes dropped%s", al->path, al->len - off - (size_t)w,
		    al->torn ? "; the next write ends the torn line first" : "");
	al->len = 0;
	return VD_ERR;
}

void
accesslog_write(struct accesslog *al, const struct accesslog_entry *e)
{
	size_t n;

	if (al == NULL || al->fd < 0)
		return;
	if (al->syslog) {
		syslog_send(al, e);
		return;
	}
	n = accesslog_format(al->buf + al->len, sizeof(al->buf) - al->len, al->fmt, e);
	if (n == 0 && al->len > 0) {
		accesslog_flush(al);
		n = accesslog_format(al->buf, sizeof(al->buf), al->fmt, e);
	}
	if (n == 0) {
		log_warnx("access log line longer than %d bytes dropped", ACCESSLOG_BUFSIZE);
		return;
	}
	al->len += n;
}

void
accesslog_reopen(struct accesslog *al)
{
	int fd;

	if (al == NULL || al->path == NULL)
		return;
	accesslog_flush(al);		/* what was accepted goes to the old file */
	if ((fd = open_file(al->path)) == -1) {
		log_warn("reopen access log %s", al->path);
		return;
	}
	if (al->fd >= 0)
		close(al->fd);
	al->fd = fd;
	al->pipe = is_fifo(fd);
	al->rdwr = is_rdwr(fd);
	al->torn = false;	/* another file */
}

void
accesslog_close(struct accesslog *al)
{
	if (al == NULL)
		return;
	accesslog_flush(al);
	if (al->fd >= 0)
		close(al->fd);
	al->fd = -1;
}

size_t
accesslog_pending(const struct accesslog *al)
{
	return al != NULL ? al->len : 0;
}

struct accesslog_req *
accesslog_slot(struct accesslog *al, size_t i)
{
	return al != NULL && i < al->nreqs ? &al->reqs[i] : NULL;
}
