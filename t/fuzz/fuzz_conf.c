/*
 * t/fuzz/fuzz_conf.c — libFuzzer target for the configuration parser.
 *
 * Invariants: conf_load_buf() never crashes or leaks on any input; every
 * diagnostic is "fuzz:LINE:COL: ..." with LINE and COL at least 1 and LINE
 * within the input; a NULL result comes with at least one error, a conf
 * with none; a loaded conf has sane values.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viaduct.h"
#include "conf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct seen {
	int	 lines;		/* physical lines in the input */
	int	 nerr;
};

static void
check(void *arg, bool is_error, const char *msg)
{
	struct seen *s = arg;
	char *end;
	long line, col;

	if (strncmp(msg, "fuzz:", 5) != 0)
		abort();
	line = strtol(msg + 5, &end, 10);
	if (end == msg + 5 || *end != ':' || line < 1 || line > s->lines)
		abort();
	col = strtol(end + 1, &end, 10);
	if (col < 1 || *end != ':' || end[1] != ' ')
		abort();
	if (is_error)
		s->nerr++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { 1, 0 };
	struct conf_listen l[CONF_MAX_LISTEN * 2];
	struct vd_conf *c;

	for (size_t i = 0; i < size; i++)
		if (data[i] == '\n')
			s.lines++;
	c = conf_load_buf("fuzz", (const char *)data, size, check, &s);
	if ((c == NULL) != (s.nerr > 0))
		abort();
	if (c != NULL) {
		if (c->nports < 1 || c->nports > CONF_MAX_PORTS || c->workers < 1 ||
		    c->cache_hit_dscp < 0 || c->cache_hit_dscp > 63 ||
		    c->pid_file == NULL || c->pid_file[0] == '\0')
			abort();
		if (conf_listeners(c, l, (int)VD_ARRLEN(l)) < 1)
			abort();
		for (int i = 0; i < c->access.nrules; i++)
			for (int j = 0; j < c->access.rules[i].nprops; j++)
				if (c->access.rules[i].props[j].line < 1 ||
				    c->access.rules[i].props[j].line > s.lines)
					abort();
	}
	conf_free(c);
	return 0;
}
