/* fuzz_http_request.c — the request parser and the framing and rewrite
 * built on it: slices stay inside the input and never overlap, the parser
 * gives the same answer fed whole or in two pieces, output never overflows. */
#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "viaduct.h"
#include "http_parse.h"
#include "http_msg.h"

#define IN(s, b, n)	((s).len == 0 || ((s).p >= (b) && (s).p + (s).len <= (b) + (n)))

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_field f[64], f2[64];
	static char out[8192];
	const struct http_limits lim = { 2048, 4096, 64 };
	const char *b = (const char *)data;
	struct http_req r, r2;
	struct http_framing fr;
	struct http_fwd fw = { .via = "fuzz.via", .client_ip = "10.0.0.1", .anonymous = size & 1 };
	struct http_out o = { out, 0, sizeof(out), false };
	int rc, rc2, st;
	const char *why;

	memset(&r, 0, sizeof(r));
	r.fields = f;
	rc = http_parse_request(&r, b, size, &lim);
	/* resumability: a first call on a prefix must not change the outcome */
	memset(&r2, 0, sizeof(r2));
	r2.fields = f2;
	(void)http_parse_request(&r2, b, size / 2, &lim);
	rc2 = http_parse_request(&r2, b, size, &lim);
	if (rc2 != VD_AGAIN || rc != VD_ERR)	/* a limit may trip earlier on the prefix */
		assert(rc == rc2 || (rc2 == VD_ERR && r2.status >= 414));
	if (rc != VD_OK)
		return 0;
	assert(r.head_len <= size);
	assert(r.nfields <= lim.max_fields);
	assert(IN(r.method, b, r.head_len) && IN(r.target, b, r.head_len));
	assert(IN(r.host, b, r.head_len) && IN(r.path, b, r.head_len));
	for (int i = 0; i < r.nfields; i++) {
		assert(r.fields[i].name.len > 0);
		assert(IN(r.fields[i].name, b, r.head_len) && IN(r.fields[i].value, b, r.head_len));
		assert(r.fields[i].name.p + r.fields[i].name.len < r.fields[i].value.p ||
		    r.fields[i].value.len == 0);
		if (i > 0)
			assert(r.fields[i].name.p > r.fields[i - 1].value.p + r.fields[i - 1].value.len - 1 ||
			    r.fields[i - 1].value.len == 0);
		for (size_t k = 0; k < r.fields[i].value.len; k++)
			assert(r.fields[i].value.p[k] != '\r' && r.fields[i].value.p[k] != '\n' &&
			    r.fields[i].value.p[k] != '\0');
	}
	if (http_req_framing(&r, &fr, &st, &why) == VD_OK) {
		if (http_req_head(&o, &r, &fr, &fw) == VD_OK) {
			assert(o.len <= o.cap);
			assert(o.len >= 4 && memcmp(o.p + o.len - 4, "\r\n\r\n", 4) == 0);
		}
	} else {
		assert(st == 400 || st == 501);
	}
	return 0;
}
