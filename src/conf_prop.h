/*
 * conf_prop.h — the property tables and what applies them to a struct
 * vd_conf (conf_prop.c): the defaults, `set` in /ip proxy and /viaduct,
 * `add` in the rule lists, and conf_free() (conf.h).
 *
 * conf_set_props() and conf_add_rule() take the words of one statement
 * from index i on (after the command) in p->section, report every bad
 * word at its column and apply the others: a `set` with one bad property
 * still sets the rest, an `add` stores its rule with the good properties
 * (the load fails anyway, on the error count).  Rule values are copied
 * verbatim for rules_compile.c.
 */
#ifndef VD_CONF_PROP_H
#define VD_CONF_PROP_H

#include "conf.h"
#include "conf_parser.h"

#define CONF_NSECTIONS		(CONF_SEC_DIRECT + 1)

/* conf_tbl.h's rows, in its order (p->set_at has the same indexes). */
extern const struct prop	 conf_props[CONF_NPROPS];
/* "/ip proxy", "/viaduct", ... by enum conf_section */
extern const char *const	 conf_sec_names[CONF_NSECTIONS];

/* The property NAME of a `set` section, or NULL. */
const struct prop	*conf_prop_find(int section, const char *name);

void			 conf_set_props(struct parser *p, int i);
void			 conf_add_rule(struct parser *p, int i);

/* A new conf holding every default, parsed by conf_prop_set() as the
 * file is; NULL when out of memory. */
struct vd_conf		*conf_defaults(struct parser *p);

#endif
