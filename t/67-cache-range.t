#!/usr/bin/perl
# Range requests and the cache (RFC 9110 §14, issue 6): a stored complete
# object answers one satisfiable range with 206 (inline bodies from the map,
# body files with sendfile at an offset), several ranges with the whole
# object, an unsatisfiable one with 416 "bytes */LEN"; If-Range lets the
# range through only on a strong ETag or Last-Modified match; HEAD ignores
# Range; on a miss Range is forwarded as it is and a 206 is never stored as
# the object; a 304 revalidation answers the range too.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use POSIX qw(strftime);
use Viaduct::Test;
use Viaduct::Origin;

my $big = join('', map { sprintf("%07d\n", $_) } 0 .. 131071);	# 1 MiB: a body file
my $small = '0123456789abcdefghij';				# inline in the map
my $lm = 'Sat, 01 Jan 2022 00:00:00 GMT';

sub date { strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime(time + ($_[0] // 0))) }
sub resp {
	my ($status, $hdr, $body) = @_;
	return "HTTP/1.1 $status\r\nDate: " . date() . "\r\n$hdr" .
	    'Content-Length: ' . length($body) . "\r\n\r\n$body";
}

my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	return resp('200 OK', "Content-Type: text/plain\r\nCache-Control: max-age=300\r\n" .
	    "ETag: \"r1\"\r\nLast-Modified: $lm\r\n", $small) if $path eq '/small';
	return resp('200 OK', "Cache-Control: max-age=300\r\nETag: W/\"w1\"\r\n", $small)
	    if $path eq '/weak';
	return resp('200 OK', "Cache-Control: max-age=300\r\nETag: \"b1\"\r\n", $big)
	    if $path eq '/big';
	if ($path eq '/miss') {
		# an origin that honours Range: its 206 must not become the object
		if ($req =~ /^Range: bytes=(\d+)-(\d+)\r$/mi) {
			my ($a, $b) = ($1, $2);
			return resp('206 Partial Content', "Cache-Control: max-age=300\r\n" .
			    "Content-Range: bytes $a-$b/20\r\n", substr($small, $a, $b - $a + 1));
		}
		return resp('200 OK', "Cache-Control: max-age=300\r\n", $small);
	}
	if ($path eq '/stale') {
		return resp('304 Not Modified', "Cache-Control: max-age=2\r\nETag: \"s1\"\r\n", '')
		    =~ s/Content-Length: 0\r\n//r if $req =~ /^If-None-Match: "s1"\r$/mi;
		return resp('200 OK', "Cache-Control: max-age=2\r\nETag: \"s1\"\r\n", 'abcdefgh');
	}
	return resp('404 Not Found', '', "no\n");
});

my $dir = tmpdir_keep();
my $conf = default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=unlimited}r;
my $v = start_viaduct(dir => $dir, conf => $conf);
my $port = $v->port;
my $base = 'http://127.0.0.1:' . $o->port;

sub seen { my ($p) = @_; scalar grep { m{^(?:GET|HEAD) \Q$p\E HTTP} } $o->requests }
sub split_resp { my ($h, $b) = split /\r\n\r\n/, $_[0] // '', 2; ($h // '', $b // '') }
sub get {
	my ($path, $hdr) = @_;
	split_resp(http_get($port, "$base$path", headers => $hdr // '', timeout => 10));
}
sub field { my ($h, $n) = @_; $h =~ /^\Q$n\E: ([^\r\n]*)\r?$/mi ? $1 : undef }

# --- store the objects -------------------------------------------------------------
get('/small');
get('/big');
get('/weak');
is(seen('/small') + seen('/big') + seen('/weak'), 3, 'three objects fetched once each');

# --- one satisfiable range: 206 from the cache --------------------------------------
my @one = (
	[ 'bytes=2-5', '2-5', '2345' ],
	[ 'bytes=-3', '17-19', 'hij' ],
	[ 'bytes=15-', '15-19', 'fghij' ],
	[ 'bytes=0-0', '0-0', '0' ],
	[ 'bytes=10-999', '10-19', 'abcdefghij' ],
	[ 'BYTES = 4-4', undef, undef ],	# no OWS before "=": invalid, ignored
);
for my $t (@one) {
	my ($rg, $cr, $body) = @$t;
	my ($h, $b) = get('/small', "Range: $rg\r\n");
	if (!defined $cr) {
		like($h, qr{^HTTP/1\.1 200 }, "$rg: not a valid Range, 200");
		is($b, $small, "$rg: the whole object");
		next;
	}
	like($h, qr{^HTTP/1\.1 206 Partial Content\r}, "$rg: 206");
	is(field($h, 'Content-Range'), "bytes $cr/20", "$rg: Content-Range bytes $cr/20");
	is(field($h, 'Content-Length'), length $body, "$rg: Content-Length " . length $body);
	is($b, $body, "$rg: the bytes of the range");
	like(field($h, 'Age') // '', qr/^\d+$/, "$rg: Age (from the cache)");
	is(field($h, 'ETag'), '"r1"', "$rg: the stored fields");
}
is(seen('/small'), 1, 'every range came from the cache');

# --- several ranges: the whole object, 200 ---------------------------------------------
my ($hm, $bm) = get('/small', "Range: bytes=0-1,5-6\r\n");
like($hm, qr{^HTTP/1\.1 200 }, 'two ranges: 200');
is($bm, $small, 'two ranges: the whole object');
is(field($hm, 'Content-Length'), 20, 'two ranges: Content-Length of the object');
ok(!defined field($hm, 'Content-Range'), 'two ranges: no Content-Range');

# --- unsatisfiable: 416 --------------------------------------------------------------
for my $rg ('bytes=20-', 'bytes=100-200', 'bytes=-0', 'bytes=30-40,50-') {
	my ($h, $b) = get('/small', "Range: $rg\r\n");
	like($h, qr{^HTTP/1\.1 416 }, "$rg: 416");
	is(field($h, 'Content-Range'), 'bytes */20', "$rg: Content-Range bytes */20");
	is(field($h, 'Content-Length'), 0, "$rg: Content-Length 0");
	like(field($h, 'Date') // '', qr/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/, "$rg: Date");
	ok(!defined field($h, 'ETag'), "$rg: none of the object's fields");
	is($b, '', "$rg: no body");
}
is(seen('/small'), 1, 'the 416s came from the cache');

# --- If-Range ------------------------------------------------------------------------
my @ir = (
	[ '"r1"', 206, 'the same strong ETag' ],
	[ '"r2"', 200, 'another ETag' ],
	[ 'W/"r1"', 200, 'a weak ETag' ],
	[ $lm, 206, 'the same Last-Modified (Date is later: strong)' ],
	[ 'Sun, 02 Jan 2022 00:00:00 GMT', 200, 'another date' ],
);
for my $t (@ir) {
	my ($val, $st, $name) = @$t;
	my ($h, $b) = get('/small', "Range: bytes=2-3\r\nIf-Range: $val\r\n");
	like($h, qr{^HTTP/1\.1 $st }, "If-Range $name: $st");
	is($b, $st == 206 ? '23' : $small, "If-Range $name: " . ($st == 206 ? 'the range' : 'all'));
}
my ($hw, $bw) = get('/weak', "Range: bytes=2-3\r\nIf-Range: W/\"w1\"\r\n");
like($hw, qr{^HTTP/1\.1 200 }, 'If-Range with the stored weak ETag: 200 (strong comparison)');
is($bw, $small, 'If-Range weak: the whole object');
my ($hw2, $bw2) = get('/weak', "Range: bytes=2-3\r\n");
like($hw2, qr{^HTTP/1\.1 206 }, 'Range without If-Range on a weak-ETag object: 206');
is($bw2, '23', 'and the range');
my ($hi, $bi) = get('/small', "If-Range: \"r1\"\r\n");
like($hi, qr{^HTTP/1\.1 200 }, 'If-Range without Range: ignored, 200');
is($bi, $small, 'If-Range without Range: the whole object');
is(seen('/small') + seen('/weak'), 2, 'If-Range answered from the cache');

# --- HEAD with Range: Range is for GET only (RFC 9110 §14.2) -------------------------------
my $rh = http_raw($port, "HEAD $base/small HTTP/1.1\r\nHost: x\r\nRange: bytes=2-5\r\n" .
    "Connection: close\r\n\r\n");
like($rh, qr{^HTTP/1\.1 200 }, 'HEAD with Range: 200');
like($rh, qr{^Content-Length: 20\r$}m, 'HEAD with Range: the object\'s Content-Length');
unlike($rh, qr{^Content-Range:}m, 'HEAD with Range: no Content-Range');
like($rh, qr{\r\n\r\n\z}, 'HEAD with Range: no body');
is(seen('/small'), 1, 'HEAD with Range: from the cache');

# --- keep-alive: the 206's framing leaves the connection usable ---------------------------
my $ka = http_raw($port, "GET $base/small HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2\r\n\r\n" .
    "GET $base/small HTTP/1.1\r\nHost: x\r\nRange: bytes=99-\r\n\r\n" .
    "GET $base/small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
like($ka, qr{\AHTTP/1\.1 206 [^\n]*\n(?:[^\r\n]+\r\n)*\r\n12HTTP/1\.1 416 [^\n]*\n(?:[^\r\n]+\r\n)*\r\nHTTP/1\.1 200 [^\n]*\n(?:[^\r\n]+\r\n)*\r\n\Q$small\E\z}s,
    'keep-alive: 206, 416 and 200 in order, each framed exactly');

# --- a body file: sendfile at an offset -------------------------------------------------
for my $t ([ 1000000, 1000009 ], [ 524288, 1048575 ], [ 0, 0 ], [ 8, 15 ]) {
	my ($a, $b) = @$t;
	my ($h, $body) = get('/big', "Range: bytes=$a-$b\r\n");
	like($h, qr{^HTTP/1\.1 206 }, "body file bytes=$a-$b: 206");
	is(field($h, 'Content-Range'), "bytes $a-$b/1048576", "body file bytes=$a-$b: Content-Range");
	is(field($h, 'Content-Length'), $b - $a + 1, "body file bytes=$a-$b: Content-Length");
	ok($body eq substr($big, $a, $b - $a + 1), "body file bytes=$a-$b: byte-exact");
}
my ($hs, $bs) = get('/big', "Range: bytes=-7\r\n");
is($bs, "131071\n", 'body file suffix range: the last bytes');
my ($h4, $b4) = get('/big', "Range: bytes=1048576-\r\n");
like($h4, qr{^HTTP/1\.1 416 }, 'body file: a range past the end is 416');
is(field($h4, 'Content-Range'), 'bytes */1048576', 'body file 416: Content-Range');
is(seen('/big'), 1, 'body file ranges came from the cache');

# --- a miss: Range forwarded as it is; the origin's 206 is not stored -----------------------
my ($h5, $b5) = get('/miss', "Range: bytes=0-3\r\n");
like($h5, qr{^HTTP/1\.1 206 }, 'miss with Range: the origin\'s 206 relayed');
is($b5, '0123', 'miss with Range: its bytes');
like((grep { m{^GET /miss } } $o->requests)[-1] // '', qr{^Range: bytes=0-3\r$}m,
    'miss: the Range field reached the origin');
my ($h6, $b6) = get('/miss');
is(seen('/miss'), 2, 'the 206 was not stored: a plain GET goes to the origin');
is($b6, $small, 'the plain GET gets the whole object');
unlike($h6, qr{^Age:}m, 'and it is not a hit');
my ($h7, $b7) = get('/miss', "Range: bytes=4-5\r\n");
is(seen('/miss'), 2, 'the 200 was stored: the next range comes from the cache');
is($b7, '45', 'and is the right slice of the whole object');
like($h7, qr{^HTTP/1\.1 206 }, 'a 206 made by the cache');

# --- a stale object, Range, 304 from the origin: the range of the refreshed object ----------
get('/stale');
sleep 3.2;
my ($h8, $b8) = get('/stale', "Range: bytes=2-4\r\n");
is(seen('/stale'), 2, 'stale: revalidated');
like((grep { m{^GET /stale } } $o->requests)[-1] // '', qr{^If-None-Match: "s1"\r$}m,
    'stale: a conditional request');
like($h8, qr{^HTTP/1\.1 206 }, '304 then Range: 206');
is(field($h8, 'Content-Range'), 'bytes 2-4/8', '304 then Range: Content-Range');
is($b8, 'cde', '304 then Range: the bytes');

# --- access log ----------------------------------------------------------------------------
ok(wait_until(sub { (slurp("$dir/access.log") // '') =~ m{ TCP_HIT/206 \d+ GET \Q$base\E/big } }),
    'access log: a range from the cache is TCP_HIT/206');

is($v->stop, 0, 'viaduct stops cleanly');
done_testing();
