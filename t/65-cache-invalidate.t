#!/usr/bin/perl
# RFC 9111 §4.4: a successful unsafe request invalidates every stored
# response of its target URI -- with Vary, every variant, whichever request
# headers selected it -- and of a same-origin Location / Content-Location.
# A variant stored before the invalidation stays void when another variant
# is stored afterwards (which rewrites the URL's Vary marker), also by a
# request that never looked the marker up (no-cache).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(strftime);
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

sub date { strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime) }
my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($m, $path) = $req =~ m{^(\S+) (\S+)};
	my ($lang) = $req =~ /^Accept-Language: (\S+)\r$/mi;
	my ($ver) = $req =~ /^X-Ver: (\d+)\r$/mi;
	return "HTTP/1.1 500 Oops\r\nDate: " . date() . "\r\nContent-Length: 0\r\n\r\n" if $m eq 'DELETE';
	if ($m ne 'GET') {
		my $loc = $path eq '/edit' ? "Location: /doc2\r\n" :
		    $path eq '/dir/edit' ? "Content-Location: ./../doc3\r\n" : '';
		return "HTTP/1.1 204 No Content\r\nDate: " . date() . "\r\n$loc\r\n";
	}
	my $body = "$path " . ($lang // 'none') . ' v' . ($ver // 0) . "\n";
	return "HTTP/1.1 200 OK\r\nDate: " . date() . "\r\nCache-Control: max-age=300\r\n" .
	    "Vary: Accept-Language\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
});
my $op = $o->port;
my $conf = default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=unlimited}r;
my $v = start_viaduct(conf => $conf);
my $port = $v->port;

sub seen { my ($p) = @_; scalar grep { m{^GET \Q$p\E } } $o->requests }
sub req {
	my ($m, $path, $lang, $ver, $extra) = @_;
	my $r = http_raw($port, "$m http://127.0.0.1:$op$path HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n" .
	    ($lang ? "Accept-Language: $lang\r\n" : '') . "X-Ver: $ver\r\n" . ($extra // '') .
	    "Content-Length: 0\r\nConnection: close\r\n\r\n") // '';
	return $r =~ /\r\n\r\n(.*)\z/s ? $1 : "(no answer: $r)";
}

# two variants of /doc stored, both hits
req('GET', '/doc', 'en', 1);
req('GET', '/doc', 'fr', 1);
is(req('GET', '/doc', 'fr', 9), "/doc fr v1\n", 'fr: stored, a hit');
is(req('GET', '/doc', 'en', 9), "/doc en v1\n", 'en: stored, a hit');
is(seen('/doc'), 2, 'one origin request per variant');

# a PUT with the en variant's headers invalidates both
sleep 1.1;		# the variants are of an earlier second than the PUT
req('PUT', '/doc', 'en', 2);
sleep 1.1;		# what is stored in the PUT's second is void too: it may be older
is(req('GET', '/doc', 'fr', 2), "/doc fr v2\n", 'after PUT: the fr variant is not served (another request\'s headers)');
is(req('GET', '/doc', 'en', 2), "/doc en v2\n", 'after PUT: the en variant is not served');
is(seen('/doc'), 4, '... both went to the origin');
is(req('GET', '/doc', 'fr', 9), "/doc fr v2\n", 'the fetched fr variant is stored afresh, a hit');
is(req('GET', '/doc', 'en', 9), "/doc en v2\n", 'and en');

# /doc2: a variant stored, the URL invalidated through Location, then
# another variant stored by a request that never looked the marker up: the
# first variant stays void
req('GET', '/doc2', 'de', 1);
is(req('GET', '/doc2', 'de', 9), "/doc2 de v1\n", 'doc2 de: stored');
sleep 1.1;
req('POST', '/edit', undef, 2);
sleep 1.1;
req('GET', '/doc2', 'it', 2, "Cache-Control: no-cache\r\n");
is(req('GET', '/doc2', 'it', 9), "/doc2 it v2\n", 'doc2 it: stored after the invalidation, a hit');
is(req('GET', '/doc2', 'de', 3), "/doc2 de v3\n",
    'doc2 de: void since the POST\'s Location, although the Vary marker was written again');

# RFC 3986 §5.2: a relative Content-Location is resolved, dot segments too
req('GET', '/doc3', 'en', 1);
is(req('GET', '/doc3', 'en', 9), "/doc3 en v1\n", 'doc3: stored');
sleep 1.1;
req('POST', '/dir/edit', undef, 2);
sleep 1.1;
is(req('GET', '/doc3', 'en', 2), "/doc3 en v2\n", 'doc3: invalidated by /dir/edit\'s Content-Location ./../doc3');

# a failed unsafe request invalidates nothing
req('DELETE', '/doc', 'en', 4);
my $n = seen('/doc');
is(req('GET', '/doc', 'fr', 9), "/doc fr v2\n", 'still a hit');
is(seen('/doc'), $n, '... the origin not asked');

done_testing();
