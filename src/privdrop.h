/*
 * privdrop.h — privileges (libcap).
 *
 * privdrop_master(): called once by the master after it bound its sockets
 * and opened its files as root.  Switches to the configured user and group
 * (setgroups/setresgid/setresuid) keeping, through PR_SET_KEEPCAPS, only the
 * capabilities a reload may still need (CAP_NET_BIND_SERVICE when a port
 * below 1024 is configured; nothing else), and re-enables core dumps.
 * Not root at start: stays the user it is and keeps nothing.
 * Returns 0, or -1 after printing why (fatal at start-up).
 *
 * privdrop_worker(): in a freshly forked worker or cache manager: clears
 * every capability (effective, permitted, inheritable, ambient, bounding where
 * allowed), sets PR_SET_NO_NEW_PRIVS, re-enables core dumps. 0 or -1.
 */
#ifndef VD_PRIVDROP_H
#define VD_PRIVDROP_H

struct vd_conf;

int	privdrop_master(const struct vd_conf *);
int	privdrop_worker(void);

#endif
