/*
 * prom.h — the statistics segment in Prometheus text exposition format
 * (version 0.0.4): for `viaductctl metrics` (node_exporter's textfile
 * collector) and the admin listener's /metrics (admin.h).
 *
 * Every counter and gauge of stats_tbl.h becomes one metric family,
 * viaduct_<field> (counters end in _total), with a HELP and a TYPE line,
 * one sample per live worker slot labelled worker="<slot>" and one sample
 * without labels that is the node's total (every slot, the master, the
 * cache manager and the dead processes' retired counters, as stats_sum()
 * adds them).  Then viaduct_rule_hits_total{list,index,line} for every rule
 * of the configuration given, and the master's start time and reloads.
 *
 * Pure: no I/O, no allocation; the caller owns the buffer.  Any process may
 * call it on a mapped segment (read-only is enough).
 */
#ifndef VD_PROM_H
#define VD_PROM_H

#include <stddef.h>

struct stats_hdr;
struct stats_slot;
struct vd_conf;

/*
 * Write the exposition into buf[cap] (NUL-terminated when cap > 0).  sum is
 * stats_sum() of h (the caller has it: it is large); conf may be NULL (no
 * rule hits).  Returns the length of the whole text: when it is >= cap the
 * output was cut (at a line end) and a buffer of that size + 1 is enough.
 */
size_t	prom_write(char *buf, size_t cap, const struct stats_hdr *h,
	    const struct stats_slot *sum, const struct vd_conf *conf);

#endif
