#!/usr/bin/perl
# The rule lists see the request's target URI as RFC 9112 §3.3 rebuilds it,
# on every kind of port: an origin-form request's host and port are its
# Host field's (transparent ports without a redirect, reverse ports), so
# dst-host and dst-port rules hold there as on the proxy port; and an empty
# path before a query is "/" (RFC 9110 §4.2.3: http://h?q asks for /?q,
# which is what the origin gets), so a path rule cannot be passed by
# leaving the slash out.  The cache list likewise.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP ();
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

my $origin = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($t) = $req =~ m{^\S+ (\S+)};
	my $body = "got $t\n";
	return "HTTP/1.1 200 OK\r\nCache-Control: max-age=300\r\nContent-Length: " .
	    length($body) . "\r\n\r\n$body";
});
my $op = $origin->port;
my ($rp, $tp) = (free_port(), free_port());
my $v = start_viaduct(conf => Viaduct::Test::default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=unlimited}r .
    "set listen=127.0.0.1:$rp,127.0.0.1:$tp reverse-ports=$rp transparent-ports=$tp \\\n" .
    "    reverse-origins=www.example.com=127.0.0.1:$op,localhost=127.0.0.1:$op\n" .
    "/ip proxy access\n" .
    "add dst-host=localhost path=/deny/* action=deny\n" .
    "add dst-host=www.example.com path=/deny/* action=deny\n" .
    "add dst-port=81 action=deny\n" .
    "add path=/?secret action=deny\n" .
    "/ip proxy cache\n" .
    "add dst-host=localhost path=/nocache/* action=deny\n" .
    "add dst-address=10.0.0.0/8 path=/lit/* action=deny\n" .
    "add dst-address=127.0.0.1 path=/lit/no/* action=deny\n");
my $fp = $v->port;
ok(wait_port($rp) && wait_port($tp), 'reverse and transparent listeners up');

sub req {
	my ($port, $line, $host) = @_;
	return http_raw($port, "$line HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n") // '';
}
sub status { $_[0] =~ m{^HTTP/1\.1 (\d{3}) } ? $1 : 'none' }
my $n0 = scalar $origin->requests;
sub reached { my $n = scalar $origin->requests; my $d = $n - $n0; $n0 = $n; $d }

# --- dst-host from Host: the same deny on the three kinds of port --------------------------
is(status(req($fp, "GET http://localhost:$op/deny/a", "localhost:$op")), 403,
    'proxy port: dst-host=localhost denies');
is(status(req($tp, 'GET /deny/a', "localhost:$op")), 403,
    'transparent port, Host: localhost: denied as well');
is(status(req($rp, 'GET /deny/a', 'www.example.com')), 403,
    'reverse port, Host: www.example.com: denied as well');
is(status(req($rp, 'GET /deny/a', 'WWW.Example.COM:80')), 403,
    'reverse port, the same host in other case and with :80: denied');
is(reached(), 0, 'none of them reached the origin');
is(status(req($tp, 'GET /open/a', "localhost:$op")), 200, 'transparent port: another path passes');
is(status(req($rp, 'GET /open/a', 'www.example.com')), 200, 'reverse port: another path passes');
is(reached(), 2, 'and reached the origin');

# --- dst-port from Host's port ----------------------------------------------------------
is(status(req($tp, 'GET /p', 'localhost:81')), 403, 'transparent port, Host port 81: dst-port=81 denies');
is(reached(), 0, 'not forwarded');

# --- an empty path before a query is "/" ---------------------------------------------------
is(status(req($fp, "GET http://127.0.0.1:$op/?secret", "127.0.0.1:$op")), 403,
    'path=/?secret denies http://h/?secret');
is(status(req($fp, "GET http://127.0.0.1:$op?secret", "127.0.0.1:$op")), 403,
    'and http://h?secret, which asks for the same /?secret');
is(reached(), 0, 'neither reached the origin');
is(status(req($fp, "GET http://127.0.0.1:$op?public", "127.0.0.1:$op")), 200,
    'http://h?public passes');
like(($origin->requests)[-1], qr{\AGET /\?public HTTP/1\.1\r\n}, 'and the origin got /?public');
reached();

# --- the cache list on a transparent port ------------------------------------------------
req($tp, 'GET /nocache/x', "localhost:$op") for 1 .. 2;
is(reached(), 2, 'transparent port: a cache deny on Host keeps it from being stored');
req($tp, 'GET /cached/x', "localhost:$op") for 1 .. 2;
is(reached(), 1, 'transparent port: another path is stored');

# --- the cache list's dst-address on a literal host: its own address ----------------------
req($fp, "GET http://127.0.0.1:$op/lit/yes", "127.0.0.1:$op") for 1 .. 2;
is(reached(), 1, 'dst-address rules that do not match a literal 127.0.0.1: stored');
req($fp, "GET http://127.0.0.1:$op/lit/no/x", "127.0.0.1:$op") for 1 .. 2;
is(reached(), 2, 'dst-address=127.0.0.1 deny in the cache list: not stored');
my ($st, $out) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'rules', '--json']);
my $cache = eval { JSON::PP::decode_json($out)->{cache} } // [];
is($cache->[2]{hits}, 2, 'the dst-address=127.0.0.1 cache rule counted its two decisions');
is($cache->[1]{hits}, 0, 'the 10.0.0.0/8 one none');

is($v->stop, 0, 'viaduct stops cleanly');
done_testing();
