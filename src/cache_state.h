/*
 * cache_state.h — was the cache store left consistent by the last run?
 *
 * The store is written without a flush per commit (MDB_NOSYNC): a miss
 * that inserts must not stall a worker's event loop on the disk.  What a
 * process commits is in the kernel's page cache at once, so a crashed or
 * killed process loses nothing, and the kernel writes it back in its own
 * time.  Only an operating-system crash or a power cut while viaduct ran
 * can leave a meta page on disk whose data pages are not (or an index
 * entry whose body file is not), and LMDB cannot tell.  A state file
 * beside the environment tells it instead:
 *
 *   <dir>/viaduct.state   "viaduct-cache-state 1 running|clean <boot-id>"
 *
 * written by the master: "running" and this boot's id before any process
 * opens the store, "clean" once every process has exited and the file
 * system holding the store is flushed (syncfs).  At start, "running" from
 * another boot means the machine went down under viaduct: the index and
 * its lock file are removed (the cache starts empty, and the cache manager
 * removes the body files that no index entry names).  "running" from this
 * boot (a crash, kill -9) and "clean" keep the store.  No state file: a
 * store of an earlier version, flushed at every commit, or a new one: kept.
 */
#ifndef VIADUCT_CACHE_STATE_H
#define VIADUCT_CACHE_STATE_H

#include <stddef.h>

#define CACHE_STATE_FILE	"viaduct.state"

/*
 * At start, before any process opens the store in dir.  VD_OK: kept,
 * VD_DONE: it was emptied (why says so for the log), VD_ERR: the state
 * file could not be written (errno; why says what).  A directory that does
 * not exist yet is VD_OK with nothing written.
 */
int	cache_state_start(const char *dir, char *why, size_t whylen);

/* At stop, after every process that wrote the store exited: flush, mark clean.
 * VD_ERR (errno): not flushed, or not marked; the next start after a reboot
 * then empties the store. */
int	cache_state_stop(const char *dir);

/* Remove the index (data.mdb, lock.mdb) of the store in dir: it is
 * damaged.  The processes that had it open must open it again.  0 or -1. */
int	cache_state_reset(const char *dir);

/* This boot's id (/proc/sys/kernel/random/boot_id); "" if unreadable. */
void	cache_state_boot_id(char *out, size_t outlen);

#endif
