#!/usr/bin/perl
# The client's conditionals and Range against a stored object, at their
# edges (RFC 9110 §13, §14, issue 6): If-None-Match decides alone when it
# is present, also when it cannot be evaluated or is empty; an
# If-Modified-Since or If-Range on two lines is no valid one; a suffix range
# of an empty object gets the whole (empty) object; a 206 or 304 made by the
# cache carries no stored field that describes the whole body
# (Content-Range, Content-MD5, Content-Digest), so never two Content-Range.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(strftime);
use Viaduct::Test;
use Viaduct::Origin;

my $body = '0123456789abcdefghij';
my $lm = 'Sat, 01 Jan 2022 00:00:00 GMT';
my $md5 = 'ZEvgbfxUBh/R5n9eu6vNWA==';	# of $body

sub date { strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime(time + ($_[0] // 0))) }
sub resp {
	my ($hdr, $b) = @_;
	return "HTTP/1.1 200 OK\r\nDate: " . date() . "\r\nCache-Control: max-age=300\r\n$hdr" .
	    'Content-Length: ' . length($b) . "\r\n\r\n$b";
}

my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	# a 200 that names its range anyway (some servers do for "bytes=0-")
	return resp("ETag: \"cr\"\r\nContent-Range: bytes 0-19/20\r\n", $body) if $path eq '/cr';
	return resp("ETag: \"d1\"\r\nContent-MD5: $md5\r\nContent-Digest: md5=:$md5:\r\n" .
	    "Repr-Digest: md5=:$md5:\r\n", $body) if $path eq '/digest';
	return resp("ETag: \"r1\"\r\nLast-Modified: $lm\r\n", $body) if $path eq '/lm';
	return resp("ETag: \"e0\"\r\n", '') if $path eq '/empty';
	return resp('', 'made') =~ s/^HTTP\/1\.1 200 OK/HTTP\/1.1 201 Created/r if $path eq '/created';
	return resp('', 'odd') =~ s/^HTTP\/1\.1 200 OK/HTTP\/1.1 299 Whatever/r if $path eq '/c299';
	return "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n";
});

my $v = start_viaduct(conf => default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=unlimited}r);
my $port = $v->port;
my $base = 'http://127.0.0.1:' . $o->port;

sub seen { my ($p) = @_; scalar grep { m{^GET \Q$p\E HTTP} } $o->requests }
sub get {
	my ($path, $extra) = @_;
	my $r = http_raw($port, "GET $base$path HTTP/1.1\r\nHost: 127.0.0.1\r\n" . ($extra // '') .
	    "Connection: close\r\n\r\n", timeout => 5) // '';
	my ($h, $b) = split /\r\n\r\n/, $r, 2;
	return ($h // '', $b // '');
}
sub count { my ($h, $n) = @_; scalar(() = $h =~ /^\Q$n\E:/mgi) }
sub field { my ($h, $n) = @_; $h =~ /^\Q$n\E: ([^\r\n]*)\r?$/mi ? $1 : undef }

get($_) for qw(/cr /digest /lm /empty);
is(seen($_), 1, "$_ stored") for qw(/cr /digest /lm /empty);

# --- a 206 from a 200 that carried Content-Range: one Content-Range, ours ------------------
my ($h, $b) = get('/cr', "Range: bytes=10-\r\n");
like($h, qr{^HTTP/1\.1 206 }, 'stored Content-Range: a range is still 206');
is(count($h, 'Content-Range'), 1, '206: exactly one Content-Range (RFC 9110 §5.3)');
is(field($h, 'Content-Range'), 'bytes 10-19/20', '206: the Content-Range of the part sent');
is($b, 'abcdefghij', '206: the bytes');
($h, $b) = get('/cr', "If-None-Match: \"cr\"\r\n");
like($h, qr{^HTTP/1\.1 304 }, 'stored Content-Range: If-None-Match gets 304');
is(count($h, 'Content-Range'), 0, '304: no Content-Range (§14.4: no meaning there)');
($h, $b) = get('/cr');
is(field($h, 'Content-Range'), 'bytes 0-19/20', '200 hit: the stored fields as received');
is(seen('/cr'), 1, 'all from the cache');

# --- digests of the whole body stay off a 206 (RFC 9530 §2) ----------------------------------
($h, $b) = get('/digest', "Range: bytes=2-4\r\n");
like($h, qr{^HTTP/1\.1 206 }, 'digest: 206');
is($b, '234', 'digest: the part');
is(count($h, 'Content-MD5'), 0, '206: no Content-MD5 of the whole body');
is(count($h, 'Content-Digest'), 0, '206: no Content-Digest of the whole body');
is(field($h, 'Repr-Digest'), "md5=:$md5:", '206: Repr-Digest (of the representation) kept');
($h, $b) = get('/digest');
is(field($h, 'Content-MD5'), $md5, '200 hit: Content-MD5 kept');
is(field($h, 'Content-Digest'), "md5=:$md5:", '200 hit: Content-Digest kept');

# --- If-Modified-Since on two lines: more than one member, ignored (§13.1.3) -----------------
($h) = get('/lm', "If-Modified-Since: $lm\r\n");
like($h, qr{^HTTP/1\.1 304 }, 'If-Modified-Since = Last-Modified: 304');
($h, $b) = get('/lm', "If-Modified-Since: $lm\r\nIf-Modified-Since: Fri, 31 Dec 2021 23:59:59 GMT\r\n");
like($h, qr{^HTTP/1\.1 200 }, 'If-Modified-Since on two lines: ignored, 200');
is($b, $body, 'and the body');

# --- If-None-Match present decides alone, even when it cannot be evaluated -------------------
my $long = join(', ', map { "\"tag-$_-" . ('x' x 40) . '"' } 1 .. 12);	# > 600 bytes
cmp_ok(length($long), '>', 600, 'a long If-None-Match line');
($h, $b) = get('/lm', "If-None-Match: $long\r\nIf-None-Match: $long\r\nIf-Modified-Since: $lm\r\n");
like($h, qr{^HTTP/1\.1 200 }, 'two long If-None-Match lines, none matching: 200, IMS ignored');
is($b, $body, 'and the body');
($h) = get('/lm', "If-None-Match: $long\r\nIf-None-Match: \"r1\"\r\n");
like($h, qr{^HTTP/1\.1 (200|304) }, 'a list too long to evaluate: an answer');
($h) = get('/lm', "If-None-Match: \"zz\"\r\nIf-None-Match: \"r1\"\r\n");
like($h, qr{^HTTP/1\.1 304 }, 'a match on the second line: 304');
($h, $b) = get('/lm', "If-None-Match:\r\nIf-Modified-Since: $lm\r\n");
like($h, qr{^HTTP/1\.1 200 }, 'an empty If-None-Match matches nothing: 200, IMS ignored');

# --- If-Range on two lines: no valid validator, the whole object (§13.1.5) --------------------
($h, $b) = get('/lm', "Range: bytes=0-3\r\nIf-Range: \"r1\"\r\n");
like($h, qr{^HTTP/1\.1 206 }, 'If-Range matching: 206');
($h, $b) = get('/lm', "Range: bytes=0-3\r\nIf-Range: \"r1\"\r\nIf-Range: \"zz\"\r\n");
like($h, qr{^HTTP/1\.1 200 }, 'If-Range on two lines: 200');
is($b, $body, 'and the whole object');

# --- an empty object: a suffix range is satisfiable but no 206 can say it (§14.1.2) -------------
($h, $b) = get('/empty', "Range: bytes=-5\r\n");
like($h, qr{^HTTP/1\.1 200 }, 'empty object, bytes=-5: 200');
is(field($h, 'Content-Length'), '0', 'empty object, bytes=-5: Content-Length: 0');
is($b, '', 'empty object, bytes=-5: no body');
($h) = get('/empty', "Range: bytes=0-\r\n");
like($h, qr{^HTTP/1\.1 416 }, 'empty object, bytes=0-: 416');
is(field($h, 'Content-Range'), 'bytes */0', '416: Content-Range bytes */0');

# --- only-if-cached holds for requests the cache leaves alone too (§5.2.1.7)
($h) = get('/oic', "Cache-Control: only-if-cached\r\nIf-Match: \"x\"\r\n");
like($h, qr{\AHTTP/1\.1 504 }, 'only-if-cached with If-Match (not for the cache): 504');
is(seen('/oic'), 0, '... and the origin was not asked');

# --- Pragma: no-cache is a directive of a list, any case (RFC 7234 §5.4) --------
get('/lm', "Pragma: No-Cache\r\n");
is(seen('/lm'), 2, 'Pragma: No-Cache revalidates (to the origin)');
get('/lm', "Pragma: x-no-cache-ext\r\n");
is(seen('/lm'), 2, 'Pragma: x-no-cache-ext is not no-cache: a hit');

# --- a hit's status line: RFC 9110's phrase, or the class of an unknown code
get($_) for qw(/created /c299);
($h) = get('/created');
like($h, qr{\AHTTP/1\.1 201 Created\r\n.*\r\nAge: }s, 'a stored 201 is "201 Created" on a hit');
($h) = get('/c299');
like($h, qr{\AHTTP/1\.1 299 Success\r\n.*\r\nAge: }s, 'a stored 299 is "299 Success", not "Error"');

is(seen($_), 1, "$_: every answer from the cache") for qw(/cr /digest /empty /created /c299);
is($v->stop, 0, 'viaduct stops cleanly');
done_testing();
