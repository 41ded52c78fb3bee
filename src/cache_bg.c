/*
 * cache_bg.c — background revalidation through an internal client (see
 * cache_bg.h): a socketpair, one end a connection of the table, the other
 * here, writing the request and dropping the answer.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "viaduct.h"
#include "cache_bg.h"
#include "conf.h"
#include "conn.h"
#include "event.h"
#include "http_msg.h"
#include "log.h"
#include "proxy.h"

struct bg_slot {
	struct cache_bg	*bg;
	struct ev_io	 io;		/* our end of the socketpair */
	struct cache_key key;
	bool		 used;
};

struct cache_bg {
	struct conn_table *t;
	struct bg_slot	 slot[CACHE_BG_MAX];
	int		 running;
	struct http_out	 req;		/* the request being written */
};

struct cache_bg *
cache_bg_create(struct conn_table *t)
{
	struct cache_bg *bg;
	size_t cap = (size_t)t->conf->max_header_size + 64;

	if ((bg = calloc(1, sizeof(*bg))) == NULL)
		return NULL;
	if ((bg->req.p = malloc(cap)) == NULL) {
		free(bg);
		return NULL;
	}
	bg->req.cap = cap;
	bg->t = t;
	for (int i = 0; i < CACHE_BG_MAX; i++) {
		bg->slot[i].bg = bg;
		bg->slot[i].io.fd = -1;
	}
	return bg;
}

static void
slot_end(struct bg_slot *s)
{
	struct cache_bg *bg = s->bg;

	if (s->io.fd >= 0) {
		ev_io_del(bg->t->loop, &s->io);
		close(s->io.fd);
		s->io.fd = -1;
	}
	if (s->used) {
		s->used = false;
		bg->running--;
	}
}

void
cache_bg_free(struct cache_bg *bg)
{
	if (bg == NULL)
		return;
	for (int i = 0; i < CACHE_BG_MAX; i++)
		slot_end(&bg->slot[i]);
	free(bg->req.p);
	free(bg);
}

int
cache_bg_running(const struct cache_bg *bg)
{
	return bg != NULL ? bg->running : 0;
}

/* The answer is of no interest (the internal request stored it): read and
 * drop until the connection closes, then the key is free again. */
static void
drain_cb(struct ev_loop *l, struct ev_io *io, uint32_t ev)
{
	struct bg_slot *s = io->data;
	char junk[16384];
	ssize_t n;

	(void)l;
	(void)ev;
	for (;;) {
		n = recv(io->fd, junk, sizeof(junk), 0);
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		slot_end(s);		/* EOF or error: it is over */
		return;
	}
}

/* Fields not copied from the client's request: hop-by-hop, framing, and
 * whatever would stop the origin from answering the revalidation as one
 * (its own conditionals, Range, the client's Cache-Control). */
static bool
skipped(const struct http_req *r, struct vd_str name)
{
	static const char *const f[] = {
		"content-length", "transfer-encoding", "expect", "range", "if-range",
		"if-none-match", "if-modified-since", "if-match", "if-unmodified-since",
		"cache-control", "pragma", "max-forwards",
	};

	for (size_t i = 0; i < VD_ARRLEN(f); i++)
		if (http_str_ieq(name, f[i]))
			return true;
	return http_is_hop(r->fields, r->nfields, name);
}

/* GET <the client's target>, its end-to-end fields, Connection: close. */
static int
build_request(struct http_out *o, const struct http_req *r)
{
	o->len = 0;
	o->overflow = false;
	http_out_str(o, "GET ");
	http_out_vstr(o, r->target);
	http_out_str(o, " HTTP/1.1\r\n");
	for (int i = 0; i < r->nfields; i++) {
		const struct http_field *f = &r->fields[i];

		if (skipped(r, f->name))
			continue;
		http_out_vstr(o, f->name);
		http_out_str(o, ": ");
		http_out_vstr(o, f->value);
		http_out_str(o, "\r\n");
	}
	http_out_str(o, "Connection: close\r\n\r\n");
	return o->overflow ? VD_ERR : VD_OK;
}

static struct bg_slot *
find_slot(struct cache_bg *bg, const struct cache_key *key, bool *running)
{
	struct bg_slot *free_slot = NULL;

	*running = false;
	for (int i = 0; i < CACHE_BG_MAX; i++) {
		struct bg_slot *s = &bg->slot[i];

		if (s->used && memcmp(&s->key, key, sizeof(*key)) == 0) {
			*running = true;
			return NULL;
		}
		if (!s->used && free_slot == NULL)
			free_slot = s;
	}
	return free_slot;
}

int
cache_bg_start(struct cache_bg *bg, struct conn *c, const struct cache_key *key)
{
	struct bg_slot *s;
	bool running;
	int sv[2];
	ssize_t n;

	if (bg == NULL || bg->t->shutdown)
		return VD_DECLINED;
	if ((s = find_slot(bg, key, &running)) == NULL)
		return VD_DECLINED;
	if (build_request(&bg->req, &c->req) != VD_OK)
		return VD_DECLINED;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("cache: background revalidation: socketpair");
		return VD_ERR;
	}
	ev_io_init(&s->io, sv[0], drain_cb, s);
	if (ev_io_add(bg->t->loop, &s->io, EPOLLIN | EPOLLRDHUP | EPOLLET) == -1) {
		log_warn("cache: background revalidation: epoll");
		close(sv[0]);
		close(sv[1]);
		s->io.fd = -1;
		return VD_ERR;
	}
	s->used = true;
	s->key = *key;
	bg->running++;
	/* the connection starts now, with nothing to read yet: the request is
	 * served on a later loop turn, never inside the caller's */
	if (conn_internal(bg->t, sv[1], c) != VD_OK) {	/* it closed sv[1] */
		slot_end(s);
		return VD_DECLINED;
	}
	n = send(sv[0], bg->req.p, bg->req.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n != (ssize_t)bg->req.len) {
		/* a fresh socketpair takes a header whole; if not, our close
		 * makes the internal connection see the end and go */
		log_warnx("cache: background revalidation: request not written");
		slot_end(s);
		return VD_ERR;
	}
	log_debug("cache: background revalidation of %.*s started",
	    (int)(c->req.target.len > 200 ? 200 : c->req.target.len), c->req.target.p);
	return VD_OK;
}
