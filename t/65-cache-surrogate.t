#!/usr/bin/perl
# Surrogate-Control (W3C Edge Architecture 1.0), found by cache-tests.fyi
# (surrogate-*): on a reverse port viaduct is the origin's surrogate, and
# the field's max-age is the lifetime in place of Cache-Control's, its
# no-store forbids storing; a directive targeted at another device is
# ignored.  A 304 that carries it refreshes with it.  On a forward proxy
# port the field means nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(strftime);
use Viaduct::Test;
use Viaduct::Origin;

sub date { strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime(time + ($_[0] // 0))) }
sub resp {
	my ($status, $hdr, $body) = @_;
	return "HTTP/1.1 $status\r\nDate: " . date() . "\r\n$hdr" .
	    'Content-Length: ' . length($body) . "\r\n\r\n$body";
}

my %h = (
	'/long'    => "Cache-Control: max-age=0\r\nSurrogate-Control: max-age=3600\r\n",
	'/nostore' => "Cache-Control: max-age=3600\r\nSurrogate-Control: no-store\r\n",
	'/zero'    => "Cache-Control: max-age=3600\r\nExpires: " . date(3600) .
	    "\r\nSurrogate-Control: max-age=0\r\n",
	'/target'  => "Cache-Control: max-age=0\r\nSurrogate-Control: max-age=3600;other-cdn\r\n",
	'/fwd'     => "Cache-Control: max-age=0\r\nSurrogate-Control: max-age=3600\r\n",
);
my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	return resp('200 OK', $h{$path}, "sc $path\n") if $h{$path};
	if ($path eq '/rev') {
		# revalidated every time until a 304 gives it a surrogate lifetime
		return resp('304 Not Modified', "ETag: \"r\"\r\nSurrogate-Control: max-age=3600\r\n", '')
		    =~ s/Content-Length: 0\r\n//r if $req =~ /^If-None-Match: "r"\r$/mi;
		return resp('200 OK', "Cache-Control: max-age=60\r\nETag: \"r\"\r\n" .
		    "Surrogate-Control: max-age=0\r\n", "sc /rev\n");
	}
	return resp('404 Not Found', '', "no\n");
});
my $op = $o->port;
my $rp = free_port();
my $conf = default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=unlimited}r .
    "set listen=127.0.0.1:\@PORT\@,127.0.0.1:$rp reverse-ports=$rp " .
    "reverse-origins=www.example.com=127.0.0.1:$op\n";
my $v = start_viaduct(conf => $conf);
my $port = $v->port;
ok(wait_port($rp), 'reverse listener up');

sub rev {
	http_raw($rp, "GET $_[0] HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n") // '';
}
sub seen { my ($p) = @_; scalar grep { m{^GET \Q$p\E } } $o->requests }

my $r = rev('/long');
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*^Surrogate-Control: max-age=3600\r$}ms, '/long: first answer');
$r = rev('/long');
is(seen('/long'), 1, 'Surrogate-Control: max-age=3600 outweighs Cache-Control: max-age=0: a hit');
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*^Cache-Control: max-age=0\r\n.*^Age: \d+\r\n.*\r\n\r\nsc /long\n\z}ms,
    '/long: the hit carries the origin\'s Cache-Control for the clients, and Age');

rev('/nostore') for 1 .. 2;
is(seen('/nostore'), 2, 'Surrogate-Control: no-store outweighs a fresh Cache-Control: never stored');
rev('/zero') for 1 .. 2;
is(seen('/zero'), 2, 'Surrogate-Control: max-age=0 outweighs max-age=3600 and Expires: stale at once');
rev('/target') for 1 .. 2;
is(seen('/target'), 2, 'a max-age targeted at another device is ignored (Cache-Control: max-age=0 holds)');

rev('/rev');
$r = rev('/rev');
is(seen('/rev'), 2, '/rev: Surrogate-Control: max-age=0 -> revalidated');
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nsc /rev\n\z}s, '/rev: the stored body after the 304');
$r = rev('/rev');
is(seen('/rev'), 2, '/rev: the 304\'s Surrogate-Control: max-age=3600 refreshed it: a hit');
like($r, qr{^Surrogate-Control: max-age=3600\r$}m, '/rev: with the 304\'s field');

# a forward proxy is nobody's surrogate
http_get($port, "http://127.0.0.1:$op/fwd") for 1 .. 2;
is(seen('/fwd'), 2, 'forward proxy port: Surrogate-Control ignored, Cache-Control: max-age=0 holds');

done_testing();
