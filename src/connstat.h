/*
 * connstat.h — the open client connections, for `viaductctl connections`.
 *
 * A file in the run directory (run-dir/conns): a header, then one fixed
 * region per worker stats slot (same index as stats->slots[]), each a
 * sequence counter, the owner's pid and up to `cap` connection records.
 *
 * Who writes: the master creates the file at start (connstat_create, as
 * root, chowned to the worker user) and never maps it.  Each worker opens
 * it after fork (connstat_open), maps its own region and, every
 * CONNSTAT_INTERVAL_MS, copies a snapshot of its connection table into it
 * (connstat_update) when something changed.  The request path has no hook:
 * the snapshot reads struct conn (proxy.h) and asks the kernel for the byte
 * counts (TCP_INFO); the age comes from when a snapshot first saw the
 * connection, so it is exact to one interval.
 *
 * Who reads: viaductctl maps the file read-only (connstat_open_ro) and
 * copies a region out with connstat_read, which retries while the worker is
 * mid-write (the sequence counter is odd) so that a record is never torn.
 * A region counts only while its pid is the pid in the matching stats slot:
 * a dead worker's last snapshot is never shown.
 */
#ifndef VD_CONNSTAT_H
#define VD_CONNSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONNSTAT_MAGIC		0x7664636f6e6e7331ULL	/* "vdconns1" */
#define CONNSTAT_VERSION	1
#define CONNSTAT_INTERVAL_MS	250
#define CONNSTAT_MAX_CAP	4096	/* records per worker; more are counted, not listed */
#define CONNSTAT_FULL_MS	1000	/* refresh byte counts at least this often */

/* RouterOS's /ip proxy connections states, plus tunnel. */
enum connstat_state {
	CONNSTAT_RX_HEADER,
	CONNSTAT_IDLE,
	CONNSTAT_RESOLVING,
	CONNSTAT_CONNECTING,
	CONNSTAT_WAITING,
	CONNSTAT_TX_HEADER,
	CONNSTAT_TX_BODY,
	CONNSTAT_TUNNEL,
	CONNSTAT_CLOSING,
	CONNSTAT_NSTATES
};

struct connstat_rec {
	char		 src[56];	/* client "addr:port" ("[v6]:port") */
	char		 dst[96];	/* origin "addr:port", or "host:port" before connecting */
	uint8_t		 state;		/* enum connstat_state */
	uint8_t		 tunnel;	/* a CONNECT (protocol "connect"), else "http" */
	uint8_t		 pad[6];
	uint64_t	 rx_bytes;	/* from the client (TCP_INFO bytes_received) */
	uint64_t	 tx_bytes;	/* to the client, acknowledged (bytes_acked) */
	int64_t		 started_ms;	/* unix time in ms, first seen */
	uint64_t	 requests;	/* on this connection so far */
};

struct connstat_region {
	uint64_t	 seq;		/* odd while the owner writes */
	int64_t		 pid;		/* the owner; 0 never written */
	int64_t		 updated_ms;	/* unix time in ms of the snapshot */
	uint32_t	 n;		/* records below */
	uint32_t	 total;		/* open connections (n unless over cap) */
	struct connstat_rec rec[];
};

struct connstat_hdr {
	uint64_t	 magic;
	uint32_t	 version;
	uint32_t	 nslots;
	uint32_t	 cap;		/* records per region */
	uint32_t	 pad;
	uint64_t	 region_size;	/* bytes, page multiple; region i at (i + 1) * region_size */
};

/* The state's name ("rx-header", ...). */
const char	*connstat_state_name(int state);

/* Master, at start: (re)create PATH for nslots regions of cap records,
 * owned by uid:gid when chown is set.  0 or -1 (errno). */
int		 connstat_create(const char *path, uint32_t nslots, uint32_t cap,
		    bool chown, uid_t uid, gid_t gid);

/* Worker, after fork: map the region of the stats slot whose pid is ours,
 * with what it needs to follow nconns connection slots (allocated here, so
 * that no snapshot ever allocates).  NULL when that is impossible (logged
 * once; the worker serves anyway). */
struct connstat;
struct conn_table;
struct vd_conf;
struct connstat	*connstat_open(const struct vd_conf *, size_t nconns);
/* Snapshot the table into the region if anything changed (now: monotonic ms). */
void		 connstat_update(struct connstat *, const struct conn_table *, int64_t now);
void		 connstat_close(struct connstat *);

/* viaductctl: map read-only; NULL (errno, EINVAL: not ours) on failure. */
const struct connstat_hdr *connstat_open_ro(const char *path, size_t *maplen);
/* Copy region `slot` into out[max] if its owner is pid: records copied, -1
 * if the region is not pid's (or never settled); *total open connections. */
int		 connstat_read(const struct connstat_hdr *, uint32_t slot, int64_t pid,
		    struct connstat_rec *out, uint32_t max, uint32_t *total);

#endif
