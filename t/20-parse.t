#!/usr/bin/perl
# The strict parser through the real binary: every malformed request gets
# the right 4xx with an HTML page, the connection is closed, and the origin
# never sees a byte of it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

my $origin = Viaduct::Origin->new;
my $op = $origin->port;
my $url = "http://127.0.0.1:$op/x";
my $h = "Host: 127.0.0.1:$op\r\n";

my $v = start_viaduct(conf => Viaduct::Test::default_conf() . "set via-pseudonym=parse.via\n");
my $port = $v->port;

my @cases = (
	[ 'whitespace between field name and colon', "GET $url HTTP/1.1\r\nHost : 127.0.0.1:$op\r\n\r\n", 400 ],
	[ 'obs-fold', "GET $url HTTP/1.1\r\n${h}X-A: b\r\n c\r\n\r\n", 400 ],
	[ 'bare CR in a field', "GET $url HTTP/1.1\r\n${h}X-A: b\rc\r\n\r\n", 400 ],
	[ 'bare LF line ending', "GET $url HTTP/1.1\n$h\r\n", 400 ],
	[ 'NUL in a field', "GET $url HTTP/1.1\r\n${h}X-A: b\0c\r\n\r\n", 400 ],
	[ 'control byte in a field', "GET $url HTTP/1.1\r\n${h}X-A: b\x01c\r\n\r\n", 400 ],
	[ 'invalid method token', "G\@T $url HTTP/1.1\r\n$h\r\n", 400 ],
	[ 'missing Host in HTTP/1.1', "GET $url HTTP/1.1\r\nX-A: b\r\n\r\n", 400 ],
	[ 'duplicate Host', "GET $url HTTP/1.1\r\n$h$h\r\n", 400 ],
	[ 'differing Content-Length', "POST $url HTTP/1.1\r\n${h}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400 ],
	[ 'invalid Content-Length', "POST $url HTTP/1.1\r\n${h}Content-Length: +3\r\n\r\nabc", 400 ],
	[ 'TE whose final coding is not chunked', "POST $url HTTP/1.1\r\n${h}Transfer-Encoding: gzip\r\n\r\nabc", 400 ],
	[ 'bad chunk size', "POST $url HTTP/1.1\r\n${h}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400, 1 ],
	[ 'chunk size overflow', "POST $url HTTP/1.1\r\n${h}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n0\r\n\r\n", 400, 1 ],
	[ 'request line over max-request-line', "GET http://127.0.0.1:$op/" . ('a' x 17000) . " HTTP/1.1\r\n$h\r\n", 414 ],
	[ 'header over max-header-size', "GET $url HTTP/1.1\r\n$h" . ("X-Big: " . ('b' x 1000) . "\r\n") x 70 . "\r\n", 431 ],
	[ 'more fields than max-headers', "GET $url HTTP/1.1\r\n$h" . join('', map { "X-$_: v\r\n" } 1 .. 200) . "\r\n", 431 ],
	[ 'HTTP/2.0 request line', "GET $url HTTP/2.0\r\n$h\r\n", 505 ],
	[ 'origin-form to an explicit proxy', "GET /x HTTP/1.1\r\n$h\r\n", 400 ],
	[ 'unsupported scheme', "GET ftp://127.0.0.1/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 501 ],
	# request-line and Host oddities of the h1 audit (RFC 9112 §3, §3.2)
	[ 'two spaces after the method', "GET  $url HTTP/1.1\r\n$h\r\n", 400 ],
	[ 'tab as a separator', "GET\t$url HTTP/1.1\r\n$h\r\n", 400 ],
	[ 'space after the version', "GET $url HTTP/1.1 \r\n$h\r\n", 400 ],
	[ 'HTTP/01.1', "GET $url HTTP/01.1\r\n$h\r\n", 400 ],
	[ 'HTTP/1.10', "GET $url HTTP/1.10\r\n$h\r\n", 400 ],
	[ 'lower-case http/1.1', "GET $url http/1.1\r\n$h\r\n", 400 ],
	[ 'HTTP/0.9 request line', "GET $url\r\n\r\n", 400 ],
	[ 'leading bare LF', "\nGET $url HTTP/1.1\r\n$h\r\n", 400 ],
	[ 'fragment in the target', "GET $url#frag HTTP/1.1\r\n$h\r\n", 400 ],
	[ 'userinfo in the target', "GET http://u:p\@127.0.0.1:$op/x HTTP/1.1\r\n$h\r\n", 400 ],
	[ 'empty authority', "GET http:///x HTTP/1.1\r\n$h\r\n", 400 ],
	[ 'unclosed IPv6 literal', "GET http://[::1/x HTTP/1.1\r\n$h\r\n", 400 ],
	[ 'obs-text in the target', "GET $url\xff HTTP/1.1\r\n$h\r\n", 400 ],
	[ 'Host with userinfo', "GET $url HTTP/1.1\r\nHost: a\@127.0.0.1:$op\r\n\r\n", 400 ],
	[ 'Host with a bad port', "GET $url HTTP/1.1\r\nHost: 127.0.0.1:x\r\n\r\n", 400 ],
	[ 'Host port out of range', "GET $url HTTP/1.1\r\nHost: 127.0.0.1:99999\r\n\r\n", 400 ],
	[ 'Host list', "GET $url HTTP/1.1\r\nHost: 127.0.0.1, other\r\n\r\n", 400 ],
	[ 'empty field name', "GET $url HTTP/1.1\r\n$h: b\r\n\r\n", 400 ],
	[ 'non-token byte in a field name', "GET $url HTTP/1.1\r\n${h}X(A): b\r\n\r\n", 400 ],
	[ 'DEL in a field', "GET $url HTTP/1.1\r\n${h}X-A: b\x7fc\r\n\r\n", 400 ],
);

for my $c (@cases) {
	my ($name, $req, $want, $reaches_origin) = @$c;
	my $t0 = scalar $origin->requests;
	# no half-close: the proxy itself must answer and close
	my $resp = http_raw($port, $req, timeout => 10);
	like($resp, qr{\AHTTP/1\.1 $want }, "$name -> $want");
	like($resp, qr{\r\nConnection: close\r\n}i, "$name: Connection: close");
	like($resp, qr{<html>.*$want.*cache administrator}si, "$name: HTML error page");
	unless ($reaches_origin) {
		is(scalar($origin->requests), $t0, "$name: the origin saw nothing");
	}
}

# the bad chunked bodies were detected after the head was forwarded; what
# the origin got must never contain the broken chunk line
for my $r ($origin->requests) {
	unlike($r, qr/zz\r\n|ffffffffffffffffff/, 'no broken chunk reached the origin');
}

# loop detection: our own pseudonym in Via -> 508, never forwarded
my $conf2 = Viaduct::Test::default_conf() . "set via-pseudonym=loop.test\n";
my $v2 = start_viaduct(conf => $conf2);
my $n0 = scalar $origin->requests;
my $r = http_raw($v2->port, "GET $url HTTP/1.1\r\n${h}Via: 1.1 other, 1.1 loop.test\r\n\r\n");
like($r, qr{\AHTTP/1\.1 508 }, 'our pseudonym in Via -> 508');
is(scalar($origin->requests), $n0, 'loop: never forwarded');

# request-line forms that are served, and what the origin gets (RFC 9112 §3.2.2, §3.2.4)
for my $t ([ 'HTTP/1.2 is served as 1.1', "GET $url HTTP/1.2\r\n$h", "GET /x HTTP/1.1\r\n$h" ],
	   [ 'upper-case scheme', "GET HTTP://127.0.0.1:$op/x HTTP/1.1\r\n$h", "GET /x HTTP/1.1\r\n$h" ],
	   [ 'no path: /', "GET http://127.0.0.1:$op HTTP/1.1\r\n$h", "GET / HTTP/1.1\r\n$h" ],
	   [ 'no path, a query: /?q', "GET http://127.0.0.1:$op?a=1 HTTP/1.1\r\n$h", "GET /?a=1 HTTP/1.1\r\n$h" ],
	   [ 'OPTIONS with no path: *', "OPTIONS http://127.0.0.1:$op HTTP/1.1\r\n$h", "OPTIONS * HTTP/1.1\r\n$h" ],
	   [ 'empty Host beside absolute-form', "GET $url HTTP/1.1\r\nHost:\r\n", "GET /x HTTP/1.1\r\n$h" ],
	   [ 'Host differing from the target', "GET $url HTTP/1.1\r\nHost: other.example\r\n", "GET /x HTTP/1.1\r\n$h" ],
	   [ 'HTTP/1.0 without Host', "GET $url HTTP/1.0\r\n", "GET /x HTTP/1.1\r\n$h" ],
	   [ 'leading empty lines', "\r\n\r\nGET $url HTTP/1.1\r\n$h", "GET /x HTTP/1.1\r\n$h" ]) {
	my ($name, $req, $want) = @$t;
	$origin->clear;
	$r = http_raw($port, "${req}Connection: close\r\n\r\n");
	like($r, qr{\AHTTP/1\.1 200 }, "$name: 200");
	# RFC 9110 §7.6.3: Via names the protocol the request came in
	my $via = $req =~ m{^GET \S+ HTTP/1\.0\r\n} ? '1.0' : '1.1';
	is(($origin->requests)[0], "${want}X-Forwarded-For: 127.0.0.1\r\nVia: $via parse.via\r\n\r\n",
	    "$name: forwarded as it should be");
}

# the connection is closed after an error even with keep-alive requested
$r = http_raw($port, "GET $url HTTP/1.1\r\nHost : x\r\n\r\nGET $url HTTP/1.1\r\n$h\r\n");
my @st = $r =~ m{^HTTP/1\.1 (\d+)}mg;
is("@st", "400", 'nothing is answered after a rejected request');

done_testing();
