/*
 * conf_diag.h — how the conf module tells its mistakes (conf_diag.c), and
 * the checks of a whole conf once every statement has been read.
 *
 * Every message is "FILE:LINE:COL: text" (a warning says "warning: "
 * after the position), goes to the load's callback or to stderr, and an
 * error counts towards the load's failure.  Text from the file is quoted
 * with conf_qt() so that a message never carries a control byte or a line
 * of unbounded length.  Nothing here allocates but conf_dupstr().
 */
#ifndef VD_CONF_DIAG_H
#define VD_CONF_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "conf_parser.h"

#define CONF_QUOTE_MAX		60	/* bytes of offending text quoted in a message */
#define CONF_QBUF		(CONF_QUOTE_MAX * 4 + 8)	/* conf_qt()'s buffer */
#define CONF_MSG_MAX		1024

/* s quoted into buf (CONF_QBUF bytes): non-printables escaped, long text
 * cut; returns buf. */
const char	*conf_qt(char *buf, size_t size, const char *s);

/* A message already formatted; counts an error. */
void		 conf_report(struct parser *p, bool is_error, const char *msg);

void		 conf_diag(struct parser *p, bool is_error, struct pos at,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define conf_error(p, at, ...)	conf_diag((p), true, (at), __VA_ARGS__)
#define conf_warn(p, at, ...)	conf_diag((p), false, (at), __VA_ARGS__)

/* "out of memory", once per load; sets p->oom, which stops the load. */
void		 conf_nomem(struct parser *p, struct pos at);

/* strdup(s), or NULL after conf_nomem().  Inline: a rule line makes a
 * copy of every name and value (t/rules_bench's load). */
static inline char *
conf_dupstr(struct parser *p, struct pos at, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		conf_nomem(p, at);
	return d;
}

/* After the last statement, with no error so far: compile the rule lists
 * (rules.h), check admin-port against the proxy's ports and build the
 * parent array, each into p->conf and each only while no error was found. */
void		 conf_check(struct parser *p);

#endif
