#!/usr/bin/perl
# Fields that come more than once, and what a HEAD says of a stored GET:
# RFC 9111 §4.2.1 (of two Expires lines the first counts), RFC 9110 §5.3
# with §13.1.2 (an If-None-Match on two lines is one list), RFC 9111 §4.3.5
# (a 200 to the cache's HEAD that shows another ETag, Last-Modified or
# length makes the stored GET stale).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(strftime);
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

sub date { strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime(time + ($_[0] // 0))) }
my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($m, $path) = $req =~ m{^(\S+) (\S+)};
	my $d = date();
	if ($path =~ m{^/exp}) {	# /exp-past-first or /exp-future-first
		my @e = (date(-60), date(3600));
		@e = reverse @e if $path eq '/exp-future-first';
		return "HTTP/1.1 200 OK\r\nDate: $d\r\nExpires: $e[0]\r\nExpires: $e[1]\r\n" .
		    "Content-Length: 3\r\n\r\nexp";
	}
	if ($path eq '/inm') {
		return "HTTP/1.1 200 OK\r\nDate: $d\r\nCache-Control: max-age=300\r\nETag: \"a\"\r\n" .
		    "Content-Length: 10\r\n\r\n0123456789";
	}
	if ($path =~ m{^/head(\d)}) {
		# the GET: ETag "a", 4 bytes; a HEAD: 1 another ETag, 2 another
		# length, 3 the same as stored
		my $k = $1;
		my ($et, $len) = $k == 1 ? ('"b"', 4) : $k == 2 ? ('"a"', 8) : ('"a"', 4);
		return "HTTP/1.1 200 OK\r\nDate: $d\r\nCache-Control: max-age=300\r\nETag: $et\r\n" .
		    "Content-Length: $len\r\n\r\n" if $m eq 'HEAD';
		return "HTTP/1.1 200 OK\r\nDate: $d\r\nCache-Control: max-age=300\r\nETag: \"a\"\r\n" .
		    "Content-Length: 4\r\n\r\naaaa";
	}
	if ($path eq '/hopdate') {	# a Date the origin names hop-by-hop
		return "HTTP/1.1 200 OK\r\nDate: " . date(-30) . "\r\nConnection: Date\r\n" .
		    "Cache-Control: max-age=300\r\nContent-Length: 2\r\n\r\nhd";
	}
	return "HTTP/1.1 404 Not Found\r\nDate: $d\r\nContent-Length: 0\r\n\r\n";
});
my $op = $o->port;
my $conf = default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=unlimited}r;
my $v = start_viaduct(conf => $conf);
my $port = $v->port;

sub seen { my ($m, $p) = @_; scalar grep { m{^\Q$m\E \Q$p\E } } $o->requests }
sub req {
	my ($m, $path, $hdr) = @_;
	return http_raw($port, "$m http://127.0.0.1:$op$path HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n" .
	    ($hdr // '') . "Connection: close\r\n\r\n") // '';
}

# --- RFC 9111 §4.2.1: two Expires lines, the first counts
req('GET', '/exp-past-first');
req('GET', '/exp-past-first');
is(seen('GET', '/exp-past-first'), 2, 'Expires in the past, then in the future: stale, fetched again');
req('GET', '/exp-future-first');
my $r = req('GET', '/exp-future-first');
is(seen('GET', '/exp-future-first'), 1, 'Expires in the future, then in the past: fresh, a hit');
like($r, qr{\r\n\r\nexp\z}, '... with its body');

# --- RFC 9110 §6.6.1: a Date named by Connection is not the response's:
# stored, it gets the time it was received, and hits carry it
req('GET', '/hopdate');
$r = req('GET', '/hopdate');
is(seen('GET', '/hopdate'), 1, 'Date named by Connection: stored');
like($r, qr{\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n}, '... its hits have a Date');
like($r, qr{\r\nAge: [0-5]\r\n}, '... and an Age counted from when it came, not from the hop-by-hop Date');

# --- RFC 9110 §5.3, §13.1.2: If-None-Match on two lines is one list
req('GET', '/inm');
$r = req('GET', '/inm', "If-None-Match: \"x\"\r\nIf-None-Match: \"a\"\r\n");
like($r, qr{\AHTTP/1\.1 304 Not Modified\r\n}, 'If-None-Match "x" then "a" on two lines: 304 from the cache');
$r = req('GET', '/inm', "If-None-Match: \"x\"\r\nIf-None-Match: \"a\"\r\nRange: bytes=0-1\r\n");
like($r, qr{\AHTTP/1\.1 304 Not Modified\r\n}, '... also with a Range (If-None-Match first)');
$r = req('GET', '/inm', "If-None-Match: \"x\"\r\nIf-None-Match: \"y\"\r\n");
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\n0123456789\z}s, 'neither line matches: the stored 200');
is(seen('GET', '/inm'), 1, '... all from the cache');

# --- RFC 9111 §4.3.5: a HEAD the cache sends (the client asked no-cache)
for my $t ([ 1, 'another ETag', 2 ], [ 2, 'another length', 2 ], [ 3, 'the stored ETag and length', 1 ]) {
	my ($k, $name, $gets) = @$t;
	req('GET', "/head$k");
	$r = req('HEAD', "/head$k", "Cache-Control: no-cache\r\n");
	like($r, qr{\AHTTP/1\.1 200 OK\r\n}, "HEAD $k: the origin's 200 relayed");
	is(seen('HEAD', "/head$k"), 1, "HEAD $k: it went to the origin");
	req('GET', "/head$k");
	is(seen('GET', "/head$k"), $gets, "a HEAD 200 with $name: the next GET " .
	    ($gets == 2 ? 'fetches again (the stored one was stale)' : 'is still a hit'));
}

done_testing();
