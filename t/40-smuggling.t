#!/usr/bin/perl
# Request smuggling vectors end to end: whatever the client sends, the
# origin sees at most the one request the client meant, never the request
# hidden in its body, and the client connection is either answered
# correctly once more or closed (RFC 9112 §6.1, §6.3, §11.2).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

my $origin = Viaduct::Origin->new();
my $o = "127.0.0.1:" . $origin->port;
my $v = start_viaduct(conf => Viaduct::Test::default_conf() . "set via-pseudonym=sm.via\n");
my $port = $v->port;

my $hidden = "GET http://$o/smuggled HTTP/1.1\r\nHost: $o\r\n\r\n";
my $hidden_o = "GET /smuggled HTTP/1.1\r\nHost: $o\r\n\r\n";

sub responses { my @s = $_[0] =~ m{(?:\A|\n)HTTP/1\.1 (\d\d\d) }g; @s }
sub nobody_smuggled {
	my ($name) = @_;
	my @r = $origin->requests;
	ok(!grep({ m{^GET /smuggled } } @r), "$name: the hidden request never reached the origin as a request");
	return @r;
}

# [name, bytes after the request line + Host, expected: 400/501 (nothing forwarded) or 'te' (TE governs, close)]
my @vectors = (
	[ 'CL.TE (CL shorter)', "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$hidden", 'te' ],
	[ 'TE.CL (CL longer)', "Transfer-Encoding: chunked\r\nContent-Length: 200\r\n\r\n0\r\n\r\n$hidden", 'te' ],
	[ 'TE.CL (chunk holds a request)', "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n" .
	    sprintf("%x\r\n%s\r\n0\r\n\r\n", length $hidden_o, $hidden_o), 'te-inside' ],
	[ 'Transfer-Encoding: chunked, identity', "Transfer-Encoding: chunked, identity\r\nContent-Length: 5\r\n\r\n0\r\n\r\n$hidden", 400 ],
	[ 'Transfer-Encoding : chunked', "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n$hidden", 400 ],
	[ 'duplicated chunked (two fields)', "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$hidden", 400 ],
	[ 'duplicated chunked (one list)', "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n$hidden", 400 ],
	[ 'unknown coding then chunked', "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n$hidden", 501 ],
	[ 'Transfer-Encoding: xchunked', "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n$hidden", 400 ],
	[ 'obs-fold in Transfer-Encoding', "Transfer-Encoding: identity\r\n chunked\r\n\r\n0\r\n\r\n$hidden", 400 ],
	[ 'obs-fold in Content-Length', "Content-Length:\r\n 5\r\n\r\nAAAAA$hidden", 400 ],
	[ 'bare LF between fields', "Content-Length: 5\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$hidden", 400 ],
	[ 'bare CR in a field', "X-A: a\rTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n$hidden", 400 ],
	[ 'two different Content-Length', "Content-Length: 5\r\nContent-Length: 6\r\n\r\nAAAAA$hidden", 400 ],
	[ 'Content-Length with a sign', "Content-Length: +5\r\n\r\nAAAAA$hidden", 400 ],
	[ 'NUL in a field value', "X-A: a\0b\r\nContent-Length: 5\r\n\r\nAAAAA$hidden", 400 ],
	[ 'TE in an HTTP/1.0 request', undef, 400 ],
);

for my $t (@vectors) {
	my ($name, $rest, $want) = @$t;
	$origin->clear;
	my $req = defined $rest
	    ? "POST http://$o/first HTTP/1.1\r\nHost: $o\r\n$rest"
	    : "POST http://$o/first HTTP/1.0\r\nHost: $o\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$hidden";
	my $r = http_raw($port, $req, timeout => 5);
	my @st = responses($r);
	my @seen = nobody_smuggled($name);
	if ($want eq 'te' || $want eq 'te-inside') {
		is_deeply(\@st, [200], "$name: one response, then the connection closed");
		is(scalar @seen, 1, "$name: the origin saw exactly one request");
		unlike($seen[0] // '', qr/^Content-Length/mi, "$name: Content-Length not forwarded");
		if ($want eq 'te') {
			like($seen[0] // '', qr{\r\nTransfer-Encoding: chunked\r\n.*\r\n\r\n0\r\n\r\n\z}s,
			    "$name: the chunked body governs");
		} else {
			like($seen[0] // '', qr{\r\n\r\n[0-9a-f]+\r\n\Q$hidden_o\E\r\n0\r\n\r\n\z}s,
			    "$name: the request-looking bytes stay inside the chunk");
		}
	} else {
		is_deeply(\@st, [$want], "$name: $want and nothing else");
		is(scalar @seen, 0, "$name: nothing forwarded");
	}
}

# --- bad chunk framing after the head went out: the origin sees one
# request, the client gets 400 and a closed connection
for my $t ([ 'chunk size overflow', "fffffffffffffffff1\r\nA\r\n0\r\n\r\n" ],
	   [ 'chunk size 0x', "0x5\r\nAAAAA\r\n0\r\n\r\n" ],
	   [ 'chunk size with a space', " 5\r\nAAAAA\r\n0\r\n\r\n" ],
	   [ 'bare LF after chunk size', "5\nAAAAA\r\n0\r\n\r\n" ],
	   [ 'chunk data longer than its size', "3\r\nAAAAA\r\n0\r\n\r\n" ]) {
	my ($name, $body) = @$t;
	$origin->clear;
	my $r = http_raw($port, "POST http://$o/c HTTP/1.1\r\nHost: $o\r\nTransfer-Encoding: chunked\r\n\r\n$body$hidden",
	    timeout => 5);
	my @seen = nobody_smuggled($name);
	ok(@seen <= 1, "$name: the origin saw at most one request");
	is_deeply([ responses($r) ], [400], "$name: 400, then closed");
}

# --- obfuscated framing fields: rejected before anything is forwarded ...
for my $t ([ 'TE: \\x0bchunked', "Transfer-Encoding: \x0bchunked\r\n", 400 ],
	   [ 'TE: "chunked" (quoted)', "Transfer-Encoding: \"chunked\"\r\n", 400 ],
	   [ 'TE: identity', "Transfer-Encoding: identity\r\n", 400 ],
	   [ 'TE: chunked;q=1', "Transfer-Encoding: chunked;q=1\r\n", 400 ],
	   [ 'TE: chunk', "Transfer-Encoding: chunk\r\n", 400 ],
	   [ 'empty TE', "Transfer-Encoding: \r\n", 400 ],
	   [ 'TE identity, then chunked on a second line', "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n", 501 ],
	   [ 'CL: 0x5', "Content-Length: 0x5\r\n", 400 ],
	   [ 'CL: 5 5', "Content-Length: 5 5\r\n", 400 ],
	   [ 'CL: 5.0', "Content-Length: 5.0\r\n", 400 ],
	   [ 'empty CL', "Content-Length: \r\n", 400 ],
	   [ 'CL: 5, 6', "Content-Length: 5, 6\r\n", 400 ],
	   [ 'CL of 20 digits', "Content-Length: 00000000000000000005\r\n", 400 ]) {
	my ($name, $field, $want) = @$t;
	$origin->clear;
	my $r = http_raw($port, "POST http://$o/first HTTP/1.1\r\nHost: $o\r\n${field}\r\n0\r\n\r\n$hidden", timeout => 5);
	is_deeply([ responses($r) ], [$want], "$name: $want and nothing else");
	is(scalar($origin->requests), 0, "$name: nothing forwarded");
}

# ... or read one way and forwarded in the one normal form
my $next_o = "GET /next HTTP/1.1\r\nHost: $o\r\nX-Forwarded-For: 127.0.0.1\r\nVia: 1.1 sm.via\r\n\r\n";
for my $t ([ 'TE: chunked + space', "Transfer-Encoding: chunked \r\n" ],
	   [ 'TE: chunked + tab', "Transfer-Encoding: chunked\t\r\n" ],
	   [ 'TE:<tab>chunked', "Transfer-Encoding:\tchunked\r\n" ],
	   [ 'TE: CHUNKED', "Transfer-Encoding: CHUNKED\r\n" ],
	   [ 'TE: chunked, (empty list element)', "Transfer-Encoding: chunked,\r\n" ],
	   [ 'CL: 5, 5', "Content-Length: 5, 5\r\n" ],
	   [ 'CL: 005', "Content-Length: 005\r\n" ],
	   [ 'CL twice, same value', "Content-Length: 5\r\nContent-Length: 5\r\n" ]) {
	my ($name, $field) = @$t;
	my $te = $field =~ /^Transfer/;
	my $body = $te ? "5\r\nAAAAA\r\n0\r\n\r\n" : "AAAAA";
	$origin->clear;
	my $r = http_raw($port, "POST http://$o/first HTTP/1.1\r\nHost: $o\r\n$field\r\n$body" .
	    "GET http://$o/next HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n", timeout => 5);
	is_deeply([ responses($r) ], [200, 200], "$name: both requests answered");
	is_deeply([ $origin->requests ], [ "POST /first HTTP/1.1\r\nHost: $o\r\n" .
	    ($te ? "Transfer-Encoding: chunked" : "Content-Length: 5") .
	    "\r\nX-Forwarded-For: 127.0.0.1\r\nVia: 1.1 sm.via\r\n\r\n$body", $next_o ],
	    "$name: forwarded with one normal framing field, then the next request");
}

# --- after a correct request, the next one on the same connection is answered
my $r = http_raw($port, "POST http://$o/a HTTP/1.1\r\nHost: $o\r\nContent-Length: 5\r\n\r\nAAAAA" .
    "GET http://$o/b HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n");
is_deeply([ responses($r) ], [200, 200], 'a body of exactly Content-Length, then the next request: two answers');
like($r, qr{origin: /a\n.*origin: /b\n\z}s, 'each answered for what it was');

done_testing();
