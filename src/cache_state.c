/* cache_state.c — the store's state file across runs and reboots (cache_state.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "viaduct.h"
#include "cache_state.h"

#define STATE_MAGIC	"viaduct-cache-state 1"
#define BOOT_ID_PATH	"/proc/sys/kernel/random/boot_id"

void
cache_state_boot_id(char *out, size_t outlen)
{
	FILE *f = fopen(BOOT_ID_PATH, "re");

	out[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(out, (int)outlen, f) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

static int
path_in(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The whole file, durably: temp file, fsync, rename, fsync of the directory. */
static int
state_write(const char *dir, const char *what)
{
	char path[PATH_MAX], tmp[PATH_MAX], boot[64], line[160];
	int fd, n, rc = 0;

	if (path_in(path, sizeof(path), dir, CACHE_STATE_FILE) == -1 ||
	    path_in(tmp, sizeof(tmp), dir, CACHE_STATE_FILE ".tmp") == -1)
		return -1;
	cache_state_boot_id(boot, sizeof(boot));
	n = snprintf(line, sizeof(line), "%s %s %s\n", STATE_MAGIC, what,
	    boot[0] != '\0' ? boot : "-");
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) == -1)
		return -1;
	if (write(fd, line, (size_t)n) != n || fsync(fd) == -1)
		rc = -1;
	if (close(fd) == -1)
		rc = -1;
	if (rc == 0 && rename(tmp, path) == -1)
		rc = -1;
	if (rc == -1) {
		int e = errno;
		(void)unlink(tmp);
		errno = e;
		return -1;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(fd);
		close(fd);
	}
	return 0;
}

/* "running" and the boot it was written in, from the file; false: keep. */
static bool
left_running_in_other_boot(const char *dir, char *seen, size_t seenlen)
{
	char path[PATH_MAX], line[160], what[16], boot[64], now[64];
	FILE *f;
	bool other = false;

	if (path_in(path, sizeof(path), dir, CACHE_STATE_FILE) == -1 ||
	    (f = fopen(path, "re")) == NULL)
		return false;
	if (fgets(line, sizeof(line), f) != NULL &&
	    strncmp(line, STATE_MAGIC " ", sizeof(STATE_MAGIC)) == 0 &&
	    sscanf(line + sizeof(STATE_MAGIC), "%15s %63s", what, boot) == 2 &&
	    strcmp(what, "running") == 0) {
		cache_state_boot_id(now, sizeof(now));
		other = now[0] != '\0' && strcmp(boot, now) != 0;
		snprintf(seen, seenlen, "%s", boot);
	}
	fclose(f);
	return other;
}

static int
remove_index(const char *dir)
{
	static const char *const files[] = { "data.mdb", "lock.mdb" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (path_in(path, sizeof(path), dir, files[i]) == -1)
			return -1;
		if (unlink(path) == -1 && errno != ENOENT)
			return -1;
	}
	return 0;
}

int
cache_state_reset(const char *dir)
{
	return remove_index(dir);
}

int
cache_state_start(const char *dir, char *why, size_t whylen)
{
	char seen[64] = "";
	int rc = VD_OK;

	why[0] = '\0';
	if (access(dir, F_OK) == -1 && errno == ENOENT)
		return VD_OK;
	if (left_running_in_other_boot(dir, seen, sizeof(seen))) {
		if (remove_index(dir) == -1) {
			snprintf(why, whylen, "cannot remove the index in %s", dir);
			return VD_ERR;
		}
		snprintf(why, whylen, "the system went down while the cache in %s was in "
		    "use (boot %s): its index may not have reached the disk, so the cache "
		    "starts empty", dir, seen);
		rc = VD_DONE;
	}
	if (state_write(dir, "running") == -1) {
		snprintf(why, whylen, "cannot write %s/%s", dir, CACHE_STATE_FILE);
		return VD_ERR;
	}
	return rc;
}

int
cache_state_stop(const char *dir)
{
	int fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? VD_OK : VD_ERR;
	/* the index and the body files it names: one file system */
	rc = syncfs(fd);
	close(fd);
	if (rc == -1)
		return VD_ERR;	/* not flushed: not clean */
	return state_write(dir, "clean") == -1 ? VD_ERR : VD_OK;
}
