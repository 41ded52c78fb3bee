/*
 * cache_body.c — body files (see the design note in cache_store.c): written
 * under bodies/tmp/<pid>.<id> (with a head file beside it while others may
 * stream it, cache_rww.h), renamed into bodies/xx/ before the index commit
 * that references them, unlinked after the commit that drops them; on a
 * full file system the writer makes room and tries again; the sweeps
 * remove what a crash left behind.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "cache_store_priv.h"

void
cache_body_unlink(const struct cache_store *cs, uint64_t id)
{
	char p[PATH_MAX];

	cache_store_body_path(cs, id, p, sizeof(p));
	if (unlink(p) == -1 && errno != ENOENT)
		log_warn("cache: unlink %s", p);
}

char *
cache_store_body_path(const struct cache_store *cs, uint64_t id, char *buf, size_t size)
{
	snprintf(buf, size, "%s/bodies/%02x/%016llx", cs->path, (unsigned)(id >> 56),
	    (unsigned long long)id);
	return buf;
}

int
cache_store_body_open(struct cache_store *cs, const struct cache_obj *o)
{
	char p[PATH_MAX];
	struct stat st = { 0 };
	int fd;

	if (!(o->flags & CACHE_OBJ_BODY_FILE)) {
		errno = EINVAL;
		return -1;
	}
	fd = open(cache_store_body_path(cs, o->body_file, p, sizeof(p)),
	    O_RDONLY | O_CLOEXEC | O_NOATIME);
	/* a file cut short (or grown) under its record would be sent short
	 * under the stored Content-Length: not this object's body */
	if (fd != -1 && (fstat(fd, &st) == -1 || (uint64_t)st.st_size != o->body_size)) {
		log_warnx("cache: body file %s has %lld bytes, its object %llu: not used",
		    p, (long long)st.st_size, (unsigned long long)o->body_size);
		close(fd);
		errno = EIO;
		return -1;
	}
	return fd;
}

static int
errno_status(void)
{
	return errno == ENOSPC || errno == EDQUOT ? CACHE_STORE_FULL : VD_ERR;
}

/*
 * ENOSPC/EDQUOT writing a body: evict objects with body files (what frees
 * the file system) and say whether to try again; errno is kept.
 */
static bool
body_room(struct cache_body *b, uint64_t need)
{
	int saved = errno;
	bool again;

	if ((saved != ENOSPC && saved != EDQUOT) || b->cs == NULL ||
	    b->room >= CACHE_BODY_ROOM_MAX)
		return false;
	b->room++;
	again = cache_index_room(b->cs, need, true) == VD_OK;
	errno = saved;
	return again;
}

int
cache_body_begin(struct cache_store *cs, struct cache_body *b)
{
	b->cs = cs;
	b->room = 0;
	b->hfd = -1;
	b->id = cs->next_file++;
	if (b->id == 0)
		b->id = cs->next_file++;	/* 0 means "no body file" */
	b->size = 0;
	snprintf(b->tmp, sizeof(b->tmp), "%s/bodies/tmp/%ld.%016llx", cs->path,
	    (long)getpid(), (unsigned long long)b->id);
	do
		b->fd = open(b->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	while (b->fd == -1 && body_room(b, 1));
	if (b->fd == -1) {
		log_warn("cache: create %s", b->tmp);
		return errno_status();
	}
	return VD_OK;
}

int
cache_body_write(struct cache_body *b, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(b->fd, c, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			/* room for what this body has reached, once more */
			if (body_room(b, b->size + n))
				continue;
			return errno_status();
		}
		c += w, n -= (size_t)w;
		b->size += (uint64_t)w;
	}
	return VD_OK;
}

/* The head file goes with the temp name (a reader that opened it keeps it). */
static void
body_head_drop(struct cache_body *b)
{
	char p[PATH_MAX + 8];

	if (b->hfd == -1)
		return;
	close(b->hfd);
	b->hfd = -1;
	snprintf(p, sizeof(p), "%s.head", b->tmp);
	unlink(p);
}

int
cache_body_head_create(struct cache_body *b)
{
	char p[PATH_MAX + 8];

	if (b->hfd != -1 || b->fd == -1)
		return VD_ERR;
	snprintf(p, sizeof(p), "%s.head", b->tmp);
	b->hfd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	return b->hfd == -1 ? VD_ERR : VD_OK;
}

int
cache_body_tmp_open(const struct cache_store *cs, int64_t pid, uint64_t id, bool head)
{
	char p[PATH_MAX + 64];

	snprintf(p, sizeof(p), "%s/bodies/tmp/%ld.%016llx%s", cs->path, (long)pid,
	    (unsigned long long)id, head ? ".head" : "");
	return open(p, O_RDONLY | O_CLOEXEC | O_NOATIME);
}

void
cache_body_abort(struct cache_store *cs, struct cache_body *b)
{
	(void)cs;
	body_head_drop(b);
	if (b->fd != -1)
		close(b->fd);
	b->fd = -1;
	unlink(b->tmp);
}

/* bodies/xx exists, or is made now. */
static int
body_dir(const struct cache_store *cs, uint64_t id)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/bodies/%02x", cs->path, (unsigned)(id >> 56));
	return cache_store_mkdir(p);
}

int
cache_body_commit(struct cache_store *cs, struct cache_body *b, const struct cache_key *k,
    const struct cache_obj *o)
{
	struct cache_obj rec = *o;
	char final[PATH_MAX];
	int rc;

	if (o->body_size != b->size || close(b->fd) == -1) {
		b->fd = -1;
		cache_body_abort(cs, b);
		return VD_ERR;
	}
	b->fd = -1;
	body_head_drop(b);
	cache_store_body_path(cs, b->id, final, sizeof(final));
	if (body_dir(cs, b->id) != VD_OK || rename(b->tmp, final) == -1) {
		rc = errno_status();
		cache_body_abort(cs, b);
		return rc;
	}
	rec.flags |= CACHE_OBJ_BODY_FILE;
	rec.body_file = b->id;
	rec.body = (struct vd_str){ NULL, 0 };
	if ((rc = cache_index_put(cs, k, &rec)) != VD_OK)
		unlink(final);	/* never referenced: nobody can have it open */
	return rc;
}

int
cache_store_tmp_sweep(struct cache_store *cs)
{
	char dir[PATH_MAX], p[PATH_MAX + 300];
	struct dirent *de;
	DIR *d;
	long pid;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/bodies/tmp", cs->path);
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		pid = strtol(de->d_name, NULL, 10);
		/* a live writer's file stays; pids are checked, not trusted */
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (unlink(p) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* "0123456789abcdef" (16 lowercase hex digits) -> id; false for anything else. */
static bool
body_name_id(const char *name, uint64_t *id)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 16; i++) {
		char c = name[i];
		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return false;
	}
	if (name[16] != '\0')
		return false;
	*id = v;
	return true;
}

int
cache_store_body_sweep(struct cache_store *cs, unsigned bucket,
    bool (*referenced)(void *, uint64_t), void *arg, int64_t before)
{
	char dir[PATH_MAX];
	struct dirent *de;
	struct stat st;
	uint64_t id;
	DIR *d;
	int dfd, n = 0;

	snprintf(dir, sizeof(dir), "%s/bodies/%02x", cs->path, bucket & 0xff);
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		/* not ours (or not a body): leave it alone */
		if (!body_name_id(de->d_name, &id) || (id >> 56) != (bucket & 0xff))
			continue;
		if (referenced(arg, id))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) || (int64_t)st.st_ctime >= before)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}
