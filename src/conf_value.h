/*
 * conf_value.h — the values of `set` properties (conf_value.c): one
 * parser per type of conf_tbl.h, each checking syntax and range and
 * naming what it expected.
 *
 * conf_prop_set() parses w->value as pr's type into pr's field of c (and
 * its count or length companion).  On any error it reports it at the
 * value's column and leaves the field as it was; a string field's old
 * value is freed when a new one replaces it.  VD_OK or VD_ERR.
 */
#ifndef VD_CONF_VALUE_H
#define VD_CONF_VALUE_H

#include <stdbool.h>

#include "conf.h"
#include "conf_parser.h"

int	conf_prop_set(struct parser *p, const struct prop *pr, const struct word *w,
	    struct vd_conf *c);

/* An IPv4 or IPv6 address without a port into l (port 0, l zeroed first);
 * false when malformed. */
bool	conf_addr_parse(const char *s, struct conf_listen *l);

#endif
