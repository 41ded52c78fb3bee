/*
 * privdrop.h — privileges (libcap).
 *
 * privdrop_resolve(): looks up the configured user and group (start-up, as
 * root, before anything is created that must belong to them).  Not root at
 * start: the ids are our own and nothing will be switched.
 *
 * privdrop_master(): called once by the master after it bound its sockets
 * and opened its files as root.  Switches to the resolved user and group
 * (setgroups/setresgid/setresuid) keeping, through PR_SET_KEEPCAPS, only the
 * capabilities a reload may still need (CAP_NET_BIND_SERVICE when keep_bind,
 * i.e. a port below 1024 is configured; nothing else), drops the rest of the
 * bounding set, and re-enables core dumps (STYLE.md pitfall 10).  Nothing
 * for files: on USR1 the master reopens the logs as the user, and a log
 * file it cannot create there is made by logrotate (viaduct.8, USR1).
 * Not root at start, or root with no user configured: stays who it is.
 *
 * privdrop_worker(): in a freshly forked worker or cache manager: clears
 * every capability (effective, permitted, inheritable, ambient, bounding where
 * allowed), sets PR_SET_NO_NEW_PRIVS, re-enables core dumps. 0 or -1 (errno).
 *
 * resolve and master return 0, or -1 with one line in err.
 */
#ifndef VD_PRIVDROP_H
#define VD_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct vd_conf;

struct privdrop_ids {
	bool	 switch_user;	/* root at start and a user configured */
	uid_t	 uid;
	gid_t	 gid;
	char	 user[64];	/* for messages */
};

int	privdrop_resolve(const struct vd_conf *, struct privdrop_ids *,
	    char *err, size_t errlen);
int	privdrop_master(const struct privdrop_ids *, bool keep_bind,
	    char *err, size_t errlen);
int	privdrop_worker(void);

#endif
