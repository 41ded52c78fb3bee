#!/usr/bin/perl
# Framing that the client or the origin could read two ways, found by the
# HTTP/1.1 intermediary audit (RFC 9110 §6.5, §7.8, §8.6; RFC 9112 §6):
# the origin never receives something that reads as another number of
# requests than the client sent, and the client never gets a response that
# belongs to another request.  Every case asserts on the bytes each side got.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

my $inject = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED";
# GET /NAME answers $resp{NAME}; /NAME-late sends $late after 50 ms, as an
# origin does that writes a HEAD or 204 body it should not have sent.
my %resp = (
	'conn-cl' => "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 3\r\n\r\nabc",
	'204-cl' => "HTTP/1.1 204 No Content\r\nContent-Length: 40\r\n\r\n",
	'100-cl' => "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
	'head-late' => "HTTP/1.1 200 OK\r\nContent-Length: 38\r\n\r\n",
	'head-nolen-late' => "HTTP/1.1 200 OK\r\n\r\n",
	'te-badcl' => "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	'cl-list' => "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n",
	'te-cl' => "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	'chunk-junk' => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n",
	'te10' => "HTTP/1.0 200 OK\r\nCache-Control: max-age=300\r\nTransfer-Encoding: chunked\r\n" .
	    "Content-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	'407' => "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\n" .
	    "Content-Length: 4\r\n\r\nauth",
	'ext-quote' => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"\r\nab\"cd\r\n0\r\n\r\n",
	'trailer-ws' => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T : 1\r\n\r\n",
	'trailer-cl' => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 9\r\n\r\n",
);
my $raw = Viaduct::Origin->new(raw => sub {
	my ($s, $record) = @_;
	my $buf = '';
	while (1) {
		while ($buf !~ /\r\n\r\n/) {
			my $n = sysread($s, $buf, 65536, length $buf);
			return if !$n;
		}
		$buf =~ s/\A(.*?\r\n\r\n)//s;
		my $head = $1;
		$record->($head);
		my ($name) = $head =~ m{^\S+ /(\S*)};
		print $s $resp{$name} // "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nnormal\n";
		if ($name =~ /-late$/) {
			sleep 0.05;
			print $s $inject;
		}
	}
});
my $ro = '127.0.0.1:' . $raw->port;
my $origin = Viaduct::Origin->new;
my $o = '127.0.0.1:' . $origin->port;

my $v = start_viaduct(conf => Viaduct::Test::default_conf() . "set via-pseudonym=cf.via\n");
my $port = $v->port;

sub raw { undate(http_raw(@_)) }
sub statuses { my @s = ($_[0] // '') =~ m{(?:\A|\r\n\r\n|\n|[a-z])HTTP/1\.1 (\d\d\d) }g; @s }
sub two { "$_[0] http://$ro/$_[1] HTTP/1.1\r\nHost: $ro\r\n\r\n" .
    "GET http://$ro/next HTTP/1.1\r\nHost: $ro\r\nConnection: close\r\n\r\n" }
my $next = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nDate: D\r\nConnection: close\r\nVia: 1.1 cf.via\r\n\r\nnormal\n";

# --- responses
$raw->clear;
my $r = raw($port, two('GET', 'conn-cl'));
is($r, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nDate: D\r\nVia: 1.1 cf.via\r\n\r\nabc$next",
    'Connection: Content-Length from the origin: the length still reaches the client');

$r = raw($port, two('GET', '204-cl'));
is($r, "HTTP/1.1 204 No Content\r\nDate: D\r\nVia: 1.1 cf.via\r\n\r\n$next",
    'RFC 9110 §8.6: a 204 reaches the client without the Content-Length it must not have');

$r = raw($port, two('GET', '100-cl'));
is($r, "HTTP/1.1 100 Continue\r\nVia: 1.1 cf.via\r\n\r\n" .
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nDate: D\r\nVia: 1.1 cf.via\r\n\r\nabc$next",
    'RFC 9110 §8.6: a 1xx is relayed without Content-Length');

$raw->clear;
$r = raw($port, two('HEAD', 'head-late'));
is($r, "HTTP/1.1 200 OK\r\nContent-Length: 38\r\nDate: D\r\nVia: 1.1 cf.via\r\n\r\n$next",
    'a body sent after a HEAD response never answers the next request');
my @log = $raw->log;
is(scalar @log, 2, 'HEAD then GET: two requests at the origin');
isnt($log[1][0], $log[0][0], '... the GET on another connection than the HEAD that announced a body');

$raw->clear;
$r = raw($port, two('HEAD', 'head-nolen-late'));
is($r, "HTTP/1.1 200 OK\r\nDate: D\r\nVia: 1.1 cf.via\r\n\r\n$next",
    'nor after a HEAD response without a length (its GET would end at close)');
@log = $raw->log;
isnt($log[1][0], $log[0][0], '... the GET on another connection');

$raw->clear;
$r = raw($port, two('GET', 'te-badcl'));
is($r, "HTTP/1.1 200 OK\r\nDate: D\r\nTransfer-Encoding: chunked\r\nVia: 1.1 cf.via\r\n\r\n3\r\nabc\r\n0\r\n\r\n$next",
    'chunked with an invalid Content-Length: chunked governs, the Content-Length is not relayed');
@log = $raw->log;
isnt($log[1][0], $log[0][0], 'RFC 9112 §6.1: ... and that origin connection is not used again');

$raw->clear;
$r = raw($port, two('GET', 'te-cl'));
like($r, qr{\AHTTP/1\.1 200 OK\r\nDate: D\r\nTransfer-Encoding: chunked\r\nVia: 1\.1 cf\.via\r\n\r\n3\r\nabc\r\n0\r\n\r\n\Q$next\E\z},
    'Transfer-Encoding with Content-Length: chunked governs');
@log = $raw->log;
isnt($log[1][0], $log[0][0], 'RFC 9112 §6.1: ... and that origin connection is closed after it');

$r = raw($port, two('HEAD', 'cl-list'));
is($r, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nDate: D\r\nVia: 1.1 cf.via\r\n\r\n$next",
    'a HEAD response\'s Content-Length list reaches the client as one value');

# --- responses: the chunked grammar (RFC 9112 §7.1): a malformed line is
# never relayed as if it were one; before any byte went out the client gets
# 502, after it the connection is cut short of the last chunk
$r = raw($port, two('GET', 'chunk-junk'));
like($r, qr{\AHTTP/1\.1 502 Bad Gateway\r\n.*Reason: junk after chunk size}s,
    'RFC 9112 §7.1.1: junk after a response\'s chunk size -> 502');
is_deeply([ statuses($r) ], [502], '... nothing of its body, and the connection closes');
$r = raw($port, two('GET', 'te10'));
like($r, qr{\AHTTP/1\.1 502 Bad Gateway\r\n.*Reason: Transfer-Encoding in an HTTP/1\.0 response}s,
    'RFC 9112 §6.1, §6.3: Transfer-Encoding in a 1.0 response is faulty framing: 502');
unlike($r, qr{hello}, '... nothing of it relayed');
$r = raw($port, two('GET', '407'));
like($r, qr{\AHTTP/1\.1 502 Bad Gateway\r\n.*Reason: the next hop demands proxy authentication}s,
    'RFC 9110 §11.7.1, §15.5.8: a 407 from the next hop is not relayed without its challenge: 502');
unlike($r, qr{Proxy-Authenticate|\r\n\r\nauth}, '... neither the challenge nor the 407\'s body reaches the client');
$r = raw($port, two('GET', 'ext-quote'));
like($r, qr{\AHTTP/1\.1 502 Bad Gateway\r\n.*Reason: control byte in chunk extension}s,
    'RFC 9112 §7.1.1: an unterminated quoted chunk extension from the origin -> 502, never relayed');
$r = raw($port, two('GET', 'trailer-ws'));
like($r, qr{\AHTTP/1\.1 200 OK\r\nDate: D\r\nTransfer-Encoding: chunked\r\nVia: 1\.1 cf\.via\r\n\r\n(?:5\r\nhello)?\z},
    'whitespace before a response trailer\'s colon: cut before the trailer, no last chunk, nothing after');
$r = raw($port, two('GET', 'trailer-cl'));
is($r, "HTTP/1.1 200 OK\r\nDate: D\r\nTransfer-Encoding: chunked\r\nVia: 1.1 cf.via\r\n\r\n5\r\nhello\r\n0\r\n" .
    "Content-Length: 9\r\n\r\n$next", 'a well-formed response trailer is relayed verbatim, whatever its name');

# --- Upgrade: websocket only
$raw->clear;
$r = raw($port, "GET http://$ro/plain HTTP/1.1\r\nHost: $ro\r\nUpgrade: h2c\r\n" .
    "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings, close\r\n\r\n");
is($r, $next, 'Upgrade: h2c is answered as a plain request');
is(($raw->requests)[0], "GET /plain HTTP/1.1\r\nHost: $ro\r\nX-Forwarded-For: 127.0.0.1\r\nVia: 1.1 cf.via\r\n\r\n",
    'h2c is not offered to the origin (no tunnel past the access rules)');

# --- RFC 9110 §9.1: the method token is case-sensitive.  "head" is an
# extension method: its response has a body, which must reach the client
# (read as HEAD, the body would be taken for the next response)
$raw->clear;
$r = raw($port, "head http://$ro/plain HTTP/1.1\r\nHost: $ro\r\n\r\n" .
    "GET http://$ro/next HTTP/1.1\r\nHost: $ro\r\nConnection: close\r\n\r\n");
is($r, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nDate: D\r\nVia: 1.1 cf.via\r\n\r\nnormal\n$next",
    '"head" is no HEAD: its body relayed, then the next response');
like(($raw->requests)[0], qr{\Ahead /plain HTTP/1\.1\r\n}, '... and the origin got the method as sent');
$r = raw($port, "connect $ro HTTP/1.1\r\nHost: $ro\r\n\r\nGET /tunnelled HTTP/1.1\r\n\r\n");
like($r, qr{\AHTTP/1\.1 400 }, '"connect" is no CONNECT: authority-form with another method -> 400');
unlike($r, qr{Connection established}, '... no tunnel');
$r = raw($port, "options * HTTP/1.1\r\nHost: $ro\r\nConnection: close\r\n\r\n");
like($r, qr{\AHTTP/1\.1 400 }, '"options *": asterisk-form is for OPTIONS only -> 400');
$raw->clear;
$r = raw($port, "trace http://$ro/plain HTTP/1.1\r\nHost: $ro\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n");
is($r, $next, '"trace" with Max-Forwards: 0 is not answered by viaduct ...');
like(($raw->requests)[0], qr{\Atrace /plain HTTP/1\.1\r\n.*\r\nMax-Forwards: 0\r\n}s,
    '... it goes to the origin, Max-Forwards untouched');

# --- requests: chunked trailers the origin could merge into the head
my $hidden = "GET http://$o/smuggled HTTP/1.1\r\nHost: $o\r\n\r\n";

# RFC 9931: bytes a client sends after an Upgrade the origin declines are
# the new protocol's, not a request
$origin->clear;
$r = raw($port, "GET http://$ro/declined HTTP/1.1\r\nHost: $ro\r\nUpgrade: websocket\r\n" .
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n$hidden");
is($r, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nDate: D\r\nConnection: close\r\nVia: 1.1 cf.via\r\n\r\nnormal\n",
    'an Upgrade the origin declines: its answer, then the connection closes');
is(scalar($origin->requests), 0, '... and what followed the Upgrade request is never read as a request');
for my $t ([ 'Content-Length in the trailer', "Content-Length: 50" ],
	   [ 'Transfer-Encoding in the trailer', "Transfer-Encoding: chunked" ],
	   [ 'Host in the trailer', "host: evil.example" ],
	   [ 'Connection in the trailer', "Connection: close" ],
	   [ 'TE in the trailer', "TE: trailers" ],
	   [ 'Proxy-Authorization in the trailer', "Proxy-Authorization: Basic eDp5" ],
	   [ 'trailer line without a colon', "nocolon" ],
	   [ 'whitespace before a trailer colon', "X-T : 1" ],
	   [ 'empty trailer field name', ": 1" ],
	   [ 'a trailer name that is no token', "X(T): 1" ],
	   [ 'obs-fold in the trailer', "X-T: 1\r\n 2" ],
	   [ 'NUL in a trailer value', "X-T: a\0b" ]) {
	my ($name, $line) = @$t;
	$origin->clear;
	$r = http_raw($port, "POST http://$o/t HTTP/1.1\r\nHost: $o\r\nTransfer-Encoding: chunked\r\n\r\n" .
	    "5\r\nAAAAA\r\n0\r\n$line\r\n\r\n$hidden");
	is_deeply([ statuses($r) ], [400], "$name: 400, then closed");
	is(scalar($origin->requests), 0, "$name: the origin never got a complete request");
}
# RFC 9110 §7.6.1: a trailer field the request's Connection names would have
# to be removed; relayed verbatim it cannot be, so the request is refused
$origin->clear;
$r = raw($port, "POST http://$o/t HTTP/1.1\r\nHost: $o\r\nConnection: X-Tr\r\nTransfer-Encoding: chunked\r\n\r\n" .
    "5\r\nhello\r\n0\r\nX-Ok: 1\r\nx-tr: secret\r\n\r\n$hidden");
like($r, qr{\AHTTP/1\.1 400 Bad Request\r\n.*Reason: trailer field named by Connection}s,
    'a trailer field named by Connection: 400');
is(scalar($origin->requests), 0, '... the origin never got a complete request');
$r = raw($port, "POST http://$o/t HTTP/1.1\r\nHost: $o\r\nConnection: X-Tr, close\r\nTransfer-Encoding: chunked\r\n\r\n" .
    "5\r\nhello\r\n0\r\nX-Ok: 1\r\n\r\n");
like($r, qr{\AHTTP/1\.1 200 }, 'Connection naming a field the trailer does not carry: served');

# RFC 9112 §7.1.1: after the size only BWS, then ';' or CRLF; the origin
# (a lenient parser, as many are) would read "5 x" as a size of 5
for my $t ([ 'junk after a chunk size', "5 x\r\nAAAAA\r\n0\r\n\r\n" ],
	   [ 'junk after the last chunk\'s size', "5\r\nAAAAA\r\n0 x\r\n\r\n" ],
	   [ 'a TAB then junk after a chunk size', "5\tAAAAA\r\nAAAAA\r\n0\r\n\r\n" ],
	   [ 'a chunk extension name with a space', "5;a b\r\nAAAAA\r\n0\r\n\r\n" ],
	   [ 'a chunk extension without a name', "5;=x\r\nAAAAA\r\n0\r\n\r\n" ],
	   [ 'a quote inside a token chunk extension', "5;a=b\"\r\nAAAAA\r\n0\r\n\r\n" ]) {
	my ($name, $body) = @$t;
	$origin->clear;
	$r = http_raw($port, "POST http://$o/t HTTP/1.1\r\nHost: $o\r\nTransfer-Encoding: chunked\r\n\r\n" .
	    "$body$hidden");
	is_deeply([ statuses($r) ], [400], "$name: 400, then closed");
	is(scalar($origin->requests), 0, "$name: the origin never got a complete request");
}
$origin->clear;
$r = http_raw($port, "POST http://$o/t HTTP/1.1\r\nHost: $o\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" .
    "5 \t;a=1\r\nAAAAA\r\n2 \r\nBB\r\n0\r\n\r\n");
is_deeply([ statuses($r) ], [200], 'BWS after a chunk size, before ";" or CRLF: accepted');
is(($origin->requests)[0], "POST /t HTTP/1.1\r\nHost: $o\r\nTransfer-Encoding: chunked\r\nX-Forwarded-For: 127.0.0.1\r\n" .
    "Via: 1.1 cf.via\r\n\r\n5 \t;a=1\r\nAAAAA\r\n2 \r\nBB\r\n0\r\n\r\n", '... and relayed verbatim');
$origin->clear;
$r = http_raw($port, "POST http://$o/t HTTP/1.1\r\nHost: $o\r\nTransfer-Encoding: chunked\r\n\r\n" .
    "5;a=\"x;y\"\r\nAAAAA\r\n0\r\nX-Sum: 1\r\nX-Other: Content-Length: 5\r\n\r\n" .
    "GET http://$o/after HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n");
is_deeply([ statuses($r) ], [200, 200], 'ordinary trailer fields: both requests answered');
is(($origin->requests)[0], "POST /t HTTP/1.1\r\nHost: $o\r\nTransfer-Encoding: chunked\r\nX-Forwarded-For: 127.0.0.1\r\n" .
    "Via: 1.1 cf.via\r\n\r\n5;a=\"x;y\"\r\nAAAAA\r\n0\r\nX-Sum: 1\r\nX-Other: Content-Length: 5\r\n\r\n",
    '... relayed verbatim, extensions and trailer included');

# --- requests: names that CGI-style origins map onto the framing fields
$origin->clear;
$r = http_raw($port, "POST http://$o/u HTTP/1.1\r\nHost: $o\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\n" .
    "0\r\n\r\nGET http://$o/second HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n");
is_deeply([ statuses($r) ], [200, 200], 'Transfer_Encoding is no transfer coding: the two requests sent are answered');
is(($origin->requests)[0], "POST /u HTTP/1.1\r\nHost: $o\r\nContent-Length: 5\r\nX-Forwarded-For: 127.0.0.1\r\n" .
    "Via: 1.1 cf.via\r\n\r\n0\r\n\r\n", '... and it is not forwarded for an origin to read as one');
$origin->clear;
$r = http_raw($port, "GET http://$o/u HTTP/1.1\r\nHost: $o\r\nContent_Length: 9\r\nX_Kept: 1\r\nConnection: close\r\n\r\n");
is(($origin->requests)[0], "GET /u HTTP/1.1\r\nHost: $o\r\nX_Kept: 1\r\nX-Forwarded-For: 127.0.0.1\r\nVia: 1.1 cf.via\r\n\r\n",
    'Content_Length dropped, other underscore names kept');

done_testing();
