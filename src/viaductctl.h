/*
 * viaductctl.h — what viaductctl's command modules share (viaductctl.c is
 * the entry point and the views of the stats segment; viaductctl_cache.c
 * the cache index).  Every function here either succeeds or exits 1 with
 * one line on stderr: a command-line tool has nothing to unwind.
 */
#ifndef VIADUCT_VIADUCTCTL_H
#define VIADUCT_VIADUCTCTL_H

#include <stdbool.h>

#define CTL		"viaductctl"

struct vd_conf;

_Noreturn void	ctl_usage(void);
_Noreturn void	ctl_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The configuration, or exit 1 (its errors already printed). */
struct vd_conf	*ctl_load(const char *file, bool warnings);
/* s on stdout as a JSON string literal (RFC 8259 escapes). */
void		 ctl_json_str(const char *s);

int	ctl_contents_cmd(const char *file, int argc, char **argv);
int	ctl_purge_cmd(const char *file, int argc, char **argv);

#endif
