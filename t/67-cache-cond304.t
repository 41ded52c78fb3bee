#!/usr/bin/perl
# A stale stored object and a client that sends its own validators: the
# request goes upstream with the client's, and the origin's 304 for them
# also freshens the stored object when it identifies it (RFC 9111 §4.3.4:
# a 304 to a conditional request "either one it generated or one forwarded
# from the client").  A 304 that names another representation, or that
# carries no validator while the stored one has one, updates nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(strftime);
use Viaduct::Test;
use Viaduct::Origin;

sub date { strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime(time + ($_[0] // 0))) }

# each path: its stored validator fields and the 304's; the first answer is
# already stale (Date 100 s ago, max-age=50), the 304 gives max-age=300
my %v = (
	'/same'   => [ "ETag: \"a1\"\r\n", "ETag: \"a1\"\r\n" ],
	'/other'  => [ "ETag: \"b1\"\r\n", "ETag: \"b2\"\r\n" ],
	'/bare'   => [ "ETag: \"c1\"\r\n", '' ],
	'/none'   => [ '', '' ],
	'/weak'   => [ "ETag: W/\"w1\"\r\n", "ETag: W/\"w1\"\r\n" ],
	'/private'=> [ "ETag: \"p1\"\r\n", "ETag: \"p1\"\r\nCache-Control: private\r\n" ],
);
my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	my $f = $v{$path} or return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	# the client's conditionals (marked) get 304; the cache's own get a new 200
	if ($req =~ /^X-Client: 1\r$/m && $req =~ /^If-(None-Match|Modified-Since):/mi) {
		my $cc = $f->[1] =~ /Cache-Control/ ? '' : "Cache-Control: max-age=300\r\n";
		return "HTTP/1.1 304 Not Modified\r\nDate: " . date() . "\r\n$cc$f->[1]\r\n";
	}
	return "HTTP/1.1 200 OK\r\nDate: " . date() . "\r\nCache-Control: max-age=300\r\n" .
	    "X-Gen: second\r\nContent-Length: 4\r\n\r\nnew!" if $req =~ /^If-/mi;
	return "HTTP/1.1 200 OK\r\nDate: " . date(-100) . "\r\nCache-Control: max-age=50\r\n" .
	    "X-Gen: first\r\n$f->[0]Content-Length: 4\r\n\r\nbody";
});

my $v = start_viaduct(conf => default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=unlimited}r);
my $base = 'http://127.0.0.1:' . $o->port;

sub seen { my ($p) = @_; scalar grep { m{^GET \Q$p\E HTTP} } $o->requests }
sub get {
	my ($path, $extra) = @_;
	my $r = http_raw($v->port, "GET $base$path HTTP/1.1\r\nHost: 127.0.0.1\r\n" .
	    ($extra ? "X-Client: 1\r\n$extra" : '') . "Connection: close\r\n\r\n", timeout => 5) // '';
	my ($h, $b) = split /\r\n\r\n/, $r, 2;
	return ($h // '', $b // '');
}

get($_) for sort keys %v;
is(seen($_), 1, "$_: fetched and stored (stale already)") for sort keys %v;

# the client's If-None-Match goes upstream; the 304 is the client's and ours
my ($h, $body) = get('/same', "If-None-Match: \"a1\"\r\n");
like($h, qr{^HTTP/1\.1 304 }, '/same: the client gets the origin\'s 304');
like(($o->requests)[-1], qr/^If-None-Match: "a1"\r$/m, '/same: with the client\'s validator');
($h, $body) = get('/same');
like($h, qr{^HTTP/1\.1 200 }, '/same: a plain GET after it is 200');
is($body, 'body', '/same: the stored body');
is(seen('/same'), 2, '/same: answered from the cache, freshened by the client\'s 304');
like($h, qr/^Cache-Control: max-age=300\r?$/m, '/same: with the 304\'s Cache-Control');
like($h, qr/^X-Gen: first\r?$/m, '/same: and the stored fields');

# a weak tag that matches weakly identifies it too
($h) = get('/weak', "If-None-Match: W/\"w1\"\r\n");
like($h, qr{^HTTP/1\.1 304 }, '/weak: 304');
get('/weak');
is(seen('/weak'), 2, '/weak: freshened by a matching weak ETag');

# a 304 for another representation than the stored one updates nothing
($h) = get('/other', "If-None-Match: \"b2\"\r\n");
like($h, qr{^HTTP/1\.1 304 }, '/other: the client gets its 304');
($h, $body) = get('/other');
is(seen('/other'), 3, '/other: the stored "b1" is still stale: asked again');
is($body, 'new!', '/other: and replaced');

# no validator in the 304 while the stored one has an ETag: the client's
# If-Modified-Since may stand for any representation
($h) = get('/bare', 'If-Modified-Since: ' . date(-50) . "\r\n");
like($h, qr{^HTTP/1\.1 304 }, '/bare: the client gets its 304');
($h, $body) = get('/bare');
is($body, 'new!', '/bare: replaced');
is(seen('/bare'), 3, '/bare: a 304 without validators does not freshen a stored ETag');

# neither has one: the one stored response is identified (§4.3.4)
($h) = get('/none', 'If-Modified-Since: ' . date(-50) . "\r\n");
like($h, qr{^HTTP/1\.1 304 }, '/none: 304');
get('/none');
is(seen('/none'), 2, '/none: neither has a validator: freshened');

# the 304 says private now: the stored object goes (§3 still applies)
($h) = get('/private', "If-None-Match: \"p1\"\r\n");
like($h, qr{^HTTP/1\.1 304 }, '/private: 304');
get('/private');
is(seen('/private'), 3, '/private: no longer stored: fetched again');

$v->stop;
# each worker writes its own lines, and two in one millisecond keep no order
my @log = grep { m{ GET \Q$base\E/same } } split /\n/, slurp($v->dir . '/access.log') // '';
is(scalar(grep { / TCP_REFRESH_UNMODIFIED\/304 / } @log), 1, 'access log: the freshening 304 is a refresh');
is(scalar(grep { / TCP_(MEM_)?HIT\/200 / } @log), 1, 'access log: the plain GET after it a hit');
done_testing();
