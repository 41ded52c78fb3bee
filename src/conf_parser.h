/*
 * conf_parser.h — the state of one configuration load, private to the
 * conf module (conf.c and conf_*.c; conf.h is the module's contract).
 *
 * A struct parser lives on conf_load_buf()'s stack for one load: it holds
 * the conf being filled (owned by the load until it returns it), the
 * current logical line with the file position of every byte, the words of
 * that line and the error count.  Every function that takes one reports
 * its own errors through it (conf_diag.h) and goes on, so that one load
 * lists every mistake.
 */
#ifndef VD_CONF_PARSER_H
#define VD_CONF_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "conf_tbl.h"

#define CONF_MAX_WORDS		256

/* The number of properties in conf_tbl.h. */
enum {
#define CONF_PROP(n, s, t, mi, ma, d, f, a, doc)	+ 1
	CONF_NPROPS = 0 CONF_PROPS
#undef CONF_PROP
};

/* One row of conf_tbl.h, with the field's place in struct vd_conf. */
struct prop {
	const char	*name;
	int		 section;
	int		 type;
	int64_t		 min, max;
	const char	*dflt;
	size_t		 off, aux;
	const char	*doc;
};

struct pos {
	int	 line, col;
};

struct word {
	char		*text;		/* unescaped; cut at the first unquoted '=' */
	char		*value;		/* after that '=', or NULL for a bare word */
	struct pos	 at;		/* the word's first byte */
	struct pos	 vat;		/* the value's first byte */
};

struct parser {
	const char	*name;
	conf_diag_cb	*diag;
	void		*arg;
	int		 nerrors;
	bool		 oom;
	struct vd_conf	*conf;
	int		 section;

	char		*lbuf;		/* the logical line; byte i came from lpos[i] */
	struct pos	*lpos;
	size_t		 llen, lcap;
	char		*wbuf;		/* unescaped words */
	struct word	 words[CONF_MAX_WORDS];
	int		 nwords;
	struct pos	 set_at[CONF_NPROPS];	/* where each property was last set */
};

#endif
