#!/usr/bin/perl
# A 304 that freshens a stored response is merged into it (RFC 9111
# §4.3.4), and the result is stored again only if it may be stored at all
# (§3): when the 304 says private or no-store, or Vary: *, or drops the
# public that let a response to Authorization be kept, or when the request
# that revalidated said no-store, the client that asked gets the response
# and the stored object goes -- the next client goes to the origin and
# never gets another user's Set-Cookie from the cache.  A plain 304 keeps
# the object, freshened.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use POSIX qw(strftime);
use Viaduct::Test;
use Viaduct::Origin;

my %upd = (
	'/plain'      => "Cache-Control: max-age=60\r\n",
	'/private'    => "Cache-Control: private, max-age=60\r\nSet-Cookie: sid=ALICE-SECRET\r\n",
	'/nostore'    => "Cache-Control: no-store, max-age=60\r\n",
	'/varystar'   => "Cache-Control: max-age=60\r\nVary: *\r\n",
	'/reqnostore' => "Cache-Control: max-age=60\r\n",
	'/auth'       => "Cache-Control: max-age=60\r\nX-Upd: for-alice\r\n",
);
sub date { strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime) }
my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($p) = $req =~ m{^\S+ (\S+)};
	return "HTTP/1.1 304 Not Modified\r\nDate: " . date() . "\r\nETag: \"v1\"\r\n$upd{$p}\r\n"
	    if $req =~ /^If-None-Match: "v1"\r$/mi;
	my $cc = $p eq '/auth' ? 'public, max-age=1' : 'max-age=1';
	my $b = "body of $p\n";
	return "HTTP/1.1 200 OK\r\nDate: " . date() . "\r\nCache-Control: $cc\r\nETag: \"v1\"\r\n" .
	    "Content-Length: " . length($b) . "\r\n\r\n$b";
});
my $base = 'http://127.0.0.1:' . $o->port;
my $v = start_viaduct(conf => Viaduct::Test::default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=unlimited}r);

sub get { http_get($v->port, "$base$_[0]", headers => $_[1] // '') // '' }
sub n { my ($p) = @_; scalar grep { m{^GET \Q$p\E } } $o->requests }

get($_) for sort keys %upd;
is(n($_), 1, "$_ stored") for sort keys %upd;
sleep 2.2;		# all stale
my %how = ('/reqnostore' => "Cache-Control: no-store\r\n", '/auth' => "Authorization: Basic YWxpY2U6eA==\r\n");
for my $p (sort keys %upd) {
	my $r = get($p, $how{$p});
	like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nbody of \Q$p\E\n\z}s, "$p: revalidated, the client gets it");
	is(n($p), 2, "$p: one conditional request");
}
like(get('/plain'), qr{\r\nAge: \d+\r\n}, '/plain: the plain 304 freshened the object: a hit');
is(n('/plain'), 2, '/plain: no more origin requests');
for my $p (grep { $_ ne '/plain' } sort keys %upd) {
	my $r = get($p);
	is(n($p), 3, "$p: the next client goes to the origin (not stored again)");
	unlike($r, qr{ALICE-SECRET|for-alice}, "$p: nothing of the revalidating client's answer");
}
is($v->stop, 0, 'viaduct stops cleanly');
done_testing();
