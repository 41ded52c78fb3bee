/*
 * conf.c — the configuration file: RouterOS export syntax in, an immutable
 * struct vd_conf out.
 *
 * Design note.  Three layers, each of which reports every error it finds
 * and carries on, so that one `viaduct -t` run lists all the mistakes:
 *
 *   lines       physical lines are joined into logical lines, every byte
 *               keeping its physical line and column (conf_lex.c).
 *   words       a logical line splits on blanks into NAME=VALUE or bare
 *               words, "quoted" parts taking RouterOS escapes (conf_lex.c).
 *   statements  a section header (/ip proxy ...), then `set` or `add` and
 *               their properties (here).  `set` is table-driven from
 *               conf_tbl.h: one parser per value type (conf_value.c), no
 *               per-property code (conf_prop.c).  `add` lines are kept
 *               verbatim for rules_compile.c.
 *
 * Defaults are the table's default text, parsed by the same code before the
 * file is read.  Once the file is read, what needs the whole conf is
 * checked (conf_diag.c): the rule lists compile, the admin port is its
 * own, the parent array builds.  conf_parser.h holds the state they share.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "viaduct.h"
#include "conf.h"
#include "conf_parser.h"
#include "conf_diag.h"
#include "conf_lex.h"
#include "conf_prop.h"

#define CONF_MAX_FILE		(16 * 1024 * 1024)

#define SEC_NONE		(-1)	/* before the first section header */
#define SEC_SKIP		(-2)	/* inside an unknown section: already reported */

/*
 * A section header: "/ip proxy access", "/ip/proxy/access" (v7) or
 * "/viaduct", possibly followed by a command on the same line (RouterOS
 * accepts "/ip proxy set enabled=yes").  Returns the index of the first
 * word after the path.
 */
static int
section_header(struct parser *p)
{
	char path[256] = "", q[CONF_QBUF];
	size_t i;
	int w;

	for (w = 0; w < p->nwords; w++) {
		const char *t = p->words[w].text;

		if (w > 0 && (p->words[w].value != NULL || t[0] == '/' ||
		    strcmp(t, "set") == 0 || strcmp(t, "add") == 0))
			break;
		if (p->words[w].value != NULL)
			break;
		for (; *t != '\0'; t++) {
			size_t o = strlen(path);

			if (o + 2 >= sizeof(path))
				break;
			path[o] = *t == '/' && o > 0 ? ' ' : *t;
			path[o + 1] = '\0';
		}
		if (w + 1 < p->nwords && strlen(path) + 2 < sizeof(path))
			strcat(path, " ");
	}
	for (i = strlen(path); i > 1 && path[i - 1] == ' '; i--)
		path[i - 1] = '\0';
	for (i = 0; i < CONF_NSECTIONS; i++)
		if (strcmp(path, conf_sec_names[i]) == 0) {
			p->section = (int)i;
			return w;
		}
	conf_error(p, p->words[0].at, "unknown section \"%s\" (expected /ip proxy,"
	    " /ip proxy access, /ip proxy cache, /ip proxy direct or /viaduct)",
	    conf_qt(q, sizeof(q), path));
	p->section = SEC_SKIP;
	return p->nwords;
}

static void
statement(struct parser *p)
{
	char q[CONF_QBUF], qv[CONF_QBUF];
	const struct word *cmd;
	const char *want, *other;
	int i = 0;

	if (p->words[0].text[0] == '/' && p->words[0].value == NULL)
		i = section_header(p);
	if (i == p->nwords || p->section == SEC_SKIP)
		return;
	cmd = &p->words[i];
	if (p->section == SEC_NONE) {
		conf_error(p, cmd->at, "\"%s\" before any section header (start with one"
		    " such as /ip proxy)", conf_qt(q, sizeof(q), cmd->text));
		return;
	}
	want = p->section >= CONF_SEC_ACCESS ? "add" : "set";
	other = p->section >= CONF_SEC_ACCESS ? "set" : "add";
	if (cmd->value != NULL) {
		conf_error(p, cmd->at, "missing command before \"%s=%s\" (expected \"%s\")",
		    conf_qt(q, sizeof(q), cmd->text), conf_qt(qv, sizeof(qv), cmd->value), want);
		return;
	}
	if (strcmp(cmd->text, other) == 0) {
		conf_error(p, cmd->at, "\"%s\" is not allowed in %s (use \"%s\")",
		    other, conf_sec_names[p->section], want);
		return;
	}
	if (strcmp(cmd->text, want) != 0) {
		conf_error(p, cmd->at, "unknown command \"%s\" in %s (expected \"%s\")",
		    conf_qt(q, sizeof(q), cmd->text), conf_sec_names[p->section], want);
		return;
	}
	if (p->section >= CONF_SEC_ACCESS)
		conf_add_rule(p, i + 1);
	else
		conf_set_props(p, i + 1);
}

static void
parse_all(struct parser *p, const char *buf, size_t len)
{
	size_t off = 0;
	int lineno = 0;

	while (!p->oom && conf_next_line(p, buf, len, &off, &lineno))
		if (conf_split_words(p) && p->nwords > 0)
			statement(p);
	conf_check(p);
}

struct vd_conf *
conf_load_buf(const char *name, const char *buf, size_t len,
    conf_diag_cb *diag_cb, void *arg)
{
	struct parser p = { .name = name, .diag = diag_cb, .arg = arg,
	    .section = SEC_NONE };

	p.conf = conf_defaults(&p);
	if (p.conf == NULL ||
	    (p.conf->file = strdup(name)) == NULL)
		conf_nomem(&p, (struct pos){ 0, 0 });
	else
		parse_all(&p, buf, len);
	free(p.lbuf);
	free(p.lpos);
	free(p.wbuf);
	if (p.nerrors > 0) {
		conf_free(p.conf);
		return NULL;
	}
	return p.conf;
}

static void
load_fail(const char *file, conf_diag_cb *diag_cb, void *arg, const char *what,
    int errnum)
{
	struct parser p = { .name = file, .diag = diag_cb, .arg = arg };
	char msg[CONF_MSG_MAX];

	snprintf(msg, sizeof(msg), "%s: %s: %s", file, what, strerror(errnum));
	conf_report(&p, true, msg);
}

struct vd_conf *
conf_load(const char *file, conf_diag_cb *diag_cb, void *arg)
{
	struct vd_conf *c;
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1) {
		load_fail(file, diag_cb, arg, "cannot open", errno);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || (!S_ISREG(st.st_mode) && (errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL)) ||
	    (st.st_size > CONF_MAX_FILE && (errno = EFBIG))) {
		load_fail(file, diag_cb, arg, "cannot read", errno);
		close(fd);
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		load_fail(file, diag_cb, arg, "cannot read", errno);
		close(fd);
		return NULL;
	}
	while (len < (size_t)st.st_size &&
	    (n = read(fd, buf + len, (size_t)st.st_size - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			load_fail(file, diag_cb, arg, "cannot read", errno);
			free(buf);
			close(fd);
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	c = conf_load_buf(file, buf, len, diag_cb, arg);
	free(buf);
	return c;
}
