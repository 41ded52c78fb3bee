/* fuzz_http_response.c — the response parser, framing and the head we send
 * the client: slices inside the input, output bounded and well-terminated. */
#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "viaduct.h"
#include "http_parse.h"
#include "http_msg.h"

#define IN(s, b, n)	((s).len == 0 || ((s).p >= (b) && (s).p + (s).len <= (b) + (n)))

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Content-Length field lines in a head we built (values hold no CR or LF,
 * so every match after a CRLF starts a field line). */
static int
length_lines(const char *p, size_t n)
{
	static const char k[] = "\r\ncontent-length:";
	int count = 0;

	for (size_t i = 0; i + sizeof(k) - 1 <= n; i++) {
		size_t j;

		for (j = 0; j < sizeof(k) - 1; j++)
			if ((p[i + j] | (k[j] >= 'a' ? 0x20 : 0)) != k[j])
				break;
		count += j == sizeof(k) - 1;
	}
	return count;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_field f[64];
	static char out[8192];
	const struct http_limits lim = { 4096, 4096, 64 };
	const char *b = (const char *)data;
	struct http_resp r;
	struct http_framing fr;
	struct http_resp_out ro = { .chunked = size & 1, .close = size & 2,
	    .keep_alive_10 = size & 4, .upgrade = size & 8 };
	struct http_out o = { out, 0, sizeof(out), false };
	const char *why;

	memset(&r, 0, sizeof(r));
	r.fields = f;
	if (http_parse_response(&r, b, size, &lim) != VD_OK)
		return 0;
	assert(r.head_len <= size && r.status >= 100 && r.status <= 999);
	assert(IN(r.reason, b, r.head_len));
	for (int i = 0; i < r.nfields; i++) {
		assert(r.fields[i].name.len > 0);
		assert(IN(r.fields[i].name, b, r.head_len) && IN(r.fields[i].value, b, r.head_len));
	}
	if (http_resp_framing(&r, size & 8, &fr, &why) != VD_OK)
		return 0;
	assert(!(size & 8) || fr.kind == HTTP_BODY_NONE);
	if (http_resp_head(&o, &r, &fr, &ro, "fuzz.via") == VD_OK) {
		int cl = length_lines(o.p, o.len);

		assert(o.len >= 4 && memcmp(o.p + o.len - 4, "\r\n\r\n", 4) == 0);
		/* the client reads one length, and none where it has no meaning */
		assert(cl <= 1);
		assert(cl == 0 || (!fr.te_and_cl && r.status >= 200 && r.status != 204));
		assert(fr.kind != HTTP_BODY_LENGTH || cl == 1);
	}
	return 0;
}
