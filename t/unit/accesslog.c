/* t/unit/accesslog.c — access log lines, field by field, in every format. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "viaduct.h"
#include "accesslog.h"
#include "tap.h"

static char line[4096];

static const char *
fmt(enum accesslog_fmt f, const struct accesslog_entry *e)
{
	size_t n = accesslog_format(line, sizeof(line) - 1, f, e);

	line[n] = '\0';
	return line;
}

static struct accesslog_entry
miss(void)
{
	return (struct accesslog_entry){
		.time_ms = 1286536308779LL, .elapsed_ms = 180, .client = "192.168.0.224",
		.result = AL_TCP_MISS, .status = 200, .bytes = 411,
		.method = VD_STR("GET"), .url = VD_STR("http://www.example.com/"),
		.version = 11, .hier = AL_HIER_DIRECT, .peer = "192.0.2.7",
		.ctype = VD_STR("text/html; charset=utf-8"),
		.referer = VD_STR("http://a.example/"), .agent = VD_STR("curl/7.88 \"x\""),
	};
}

/* The URL escaper's eight-bytes-at-a-time test against the byte rule: one
 * odd byte in every lane of two words of plain ones. */
static void
test_url_lanes(void)
{
	static const unsigned char odd[] = { 0x00, 0x1f, 0x20, 0x21, 0x7e, 0x7f, 0x80, 0xff };
	int bad = 0;

	for (size_t k = 0; k < 17; k++)
		for (size_t j = 0; j < sizeof(odd); j++) {
			struct accesslog_entry e = miss();
			char url[17], want[64], wline[256];
			size_t w = 0;

			memset(url, 'a', sizeof(url));
			url[k] = (char)odd[j];
			for (size_t i = 0; i < sizeof(url); i++) {
				unsigned char c = (unsigned char)url[i];

				if (c > 0x20 && c < 0x7f)
					want[w++] = (char)c;
				else
					w += (size_t)snprintf(want + w, 4, "%%%02X", c);
			}
			want[w] = '\0';
			e.url = (struct vd_str){ url, sizeof(url) };
			snprintf(wline, sizeof(wline), "1286536308.779    180 192.168.0.224 TCP_MISS/200 411 GET "
			    "%s - HIER_DIRECT/192.0.2.7 text/html\n", want);
			if (strcmp(fmt(AL_FMT_SQUID, &e), wline) != 0)
				bad++;
		}
	is_int(bad, 0, "squid: the URL escaper agrees with the byte rule in every lane");
}

int
main(void)
{
	test_url_lanes();
	struct accesslog_entry e = miss();
	char small[16];

	is_str(fmt(AL_FMT_SQUID, &e),
	    "1286536308.779    180 192.168.0.224 TCP_MISS/200 411 GET "
	    "http://www.example.com/ - HIER_DIRECT/192.0.2.7 text/html\n",
	    "squid: time.ms, elapsed right-aligned in 6, result/status, media type only");
	is_str(fmt(AL_FMT_COMMON, &e),
	    "192.168.0.224 - - [08/Oct/2010:11:11:48 +0000] \"GET http://www.example.com/ HTTP/1.1\" 200 411\n",
	    "common: NCSA with the time in UTC");
	is_str(fmt(AL_FMT_COMBINED, &e),
	    "192.168.0.224 - - [08/Oct/2010:11:11:48 +0000] \"GET http://www.example.com/ HTTP/1.1\" 200 411"
	    " \"http://a.example/\" \"curl/7.88 \\x22x\\x22\"\n",
	    "combined: referer and user agent quoted, quotes escaped");
	is_str(fmt(AL_FMT_JSON, &e),
	    "{\"time\":1286536308.779,\"elapsed_ms\":180,\"client\":\"192.168.0.224\","
	    "\"result\":\"TCP_MISS\",\"status\":200,\"bytes\":411,\"method\":\"GET\","
	    "\"url\":\"http://www.example.com/\",\"user\":null,\"hierarchy\":\"HIER_DIRECT\","
	    "\"peer\":\"192.0.2.7\",\"content_type\":\"text/html\",\"referer\":\"http://a.example/\","
	    "\"user_agent\":\"curl/7.88 \\\"x\\\"\"}\n",
	    "json: one object per line, absent strings null");

	e = (struct accesslog_entry){ .time_ms = 1000005, .elapsed_ms = 1234567,
	    .client = "::1", .result = AL_NONE, .status = 400, .bytes = 0,
	    .hier = AL_HIER_NONE, .ctype = VD_STR("text/html") };
	is_str(fmt(AL_FMT_SQUID, &e),
	    "1000.005 1234567 ::1 NONE/400 0 NONE error:invalid-request - HIER_NONE/- text/html\n",
	    "squid: an unparsed request is NONE error:invalid-request, ms zero-padded");
	is_str(fmt(AL_FMT_COMMON, &e),
	    "::1 - - [01/Jan/1970:00:16:40 +0000] \"NONE error:invalid-request HTTP/1.1\" 400 -\n",
	    "common: no bytes is '-'");
	e.time_ms = 100010;
	e.elapsed_ms = 10;
	e.bytes = 100;
	ok(strncmp(fmt(AL_FMT_SQUID, &e), "100.010     10 ::1 NONE/400 100 ", 32) == 0,
	    "squid: numbers at the two-digit boundaries (10, 100, 010)");
	e.status = 0;
	e.result = AL_TCP_DENIED;
	ok(strstr(fmt(AL_FMT_SQUID, &e), " TCP_DENIED/000 ") != NULL,
	    "squid: no status is 000");

	e = miss();
	e.url = VD_STR("http://x.example/a b\x01\xff");
	e.method = VD_STR("G T");
	is_str(fmt(AL_FMT_SQUID, &e),
	    "1286536308.779    180 192.168.0.224 TCP_MISS/200 411 G\\x20T "
	    "http://x.example/a%20b%01%FF - HIER_DIRECT/192.0.2.7 text/html\n",
	    "squid: spaces and control bytes never split a field or a line");
	e.agent = (struct vd_str){ "a\nb", 3 };
	ok(strchr(fmt(AL_FMT_JSON, &e), '\n') == line + strlen(line) - 1,
	    "json: a newline in a value is escaped");
	ok(strstr(line, "\"a\\u000Ab\"") != NULL, "json: as \\u000A");

	e = miss();
	ok(accesslog_format(small, sizeof(small), AL_FMT_SQUID, &e) == 0,
	    "a line that does not fit is not cut: 0");

	is_int(accesslog_fmt_parse("squid"), AL_FMT_SQUID, "fmt squid");
	is_int(accesslog_fmt_parse("combined"), AL_FMT_COMBINED, "fmt combined");
	is_int(accesslog_fmt_parse("json"), AL_FMT_JSON, "fmt json");
	is_int(accesslog_fmt_parse("xml"), -1, "fmt unknown");
	is_str(accesslog_result_name(AL_TCP_REFRESH_UNMODIFIED), "TCP_REFRESH_UNMODIFIED",
	    "Squid's result names");
	is_str(accesslog_hier_name(AL_HIER_FIRSTUP_PARENT), "FIRSTUP_PARENT",
	    "Squid's hierarchy names");
	return done_testing();
}
