/*
 * conf_lex.h — the reader of RouterOS export syntax (conf_lex.c): bytes
 * to logical lines to words, each byte keeping its place in the file.
 *
 * Lines: a physical line that ends in an odd number of backslashes
 * continues on the next, whose leading blanks are dropped (RouterOS wraps
 * exports at 80 columns, even inside a word, and indents the rest by four
 * spaces); a line whose first non-blank is `#` is a comment.  Words: a
 * logical line splits on blanks; `#` at the start of a word ends the line;
 * a word is NAME=VALUE or a bare word; "quoted" parts take RouterOS
 * escapes, unquoted parts are literal (exports quote every value that holds
 * a backslash, so a literal `\.` in a hand-written regex works).
 *
 * The line and its words live in the parser's buffers (p->lbuf, p->wbuf,
 * p->words), valid until the next conf_next_line(); the caller frees the
 * buffers once, after the last line.
 */
#ifndef VD_CONF_LEX_H
#define VD_CONF_LEX_H

#include <stdbool.h>
#include <stddef.h>

#include "conf_parser.h"

/* The next logical line into p->lbuf, from buf at *off (physical line
 * number in *lineno).  False at the end of the input, or out of memory
 * (p->oom). */
bool	conf_next_line(struct parser *p, const char *buf, size_t len, size_t *off,
	    int *lineno);

/* Split the logical line into p->words (p->nwords); false (after an
 * error) drops the line. */
bool	conf_split_words(struct parser *p);

#endif
