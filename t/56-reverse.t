#!/usr/bin/perl
# Listener modes on loopback: reverse (Host -> configured origin, 404 for an
# unknown host) and transparent without a firewall redirect (Host decides);
# absolute-form is a proxy request on proxy and transparent ports and mapped
# like Host on reverse ports (where CONNECT is 501); origin-form on a plain
# proxy port is 400.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

my $origin = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($m, $t) = $req =~ m{^(\S+) (\S+)};
	my ($h) = $req =~ /^Host: ([^\r]*)/mi;
	my $body = "$m $t host=" . ($h // '-') . "\n";
	return "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
});
my $op = $origin->port;
my ($rp, $tp) = (free_port(), free_port());
my $v = start_viaduct(conf => Viaduct::Test::default_conf() .
    "set via-pseudonym=rev.via listen=127.0.0.1:$rp,127.0.0.1:$tp reverse-ports=$rp transparent-ports=$tp \\\n" .
    "    reverse-origins=www.example.com=127.0.0.1:$op,alias.example=localhost:$op\n");
my $port = $v->port;
ok(wait_port($rp) && wait_port($tp), 'extra listeners up');
sub last_req { ($origin->requests)[-1] // '' }

# --- reverse
my $r = http_raw($rp, "GET /page?a=1 HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n");
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nGET /page\?a=1 host=www\.example\.com\n\z}s, 'reverse: Host mapped to its origin');
is(last_req(), "GET /page?a=1 HTTP/1.1\r\nHost: www.example.com\r\nX-Forwarded-For: 127.0.0.1\r\nVia: 1.1 rev.via\r\n\r\n",
    'reverse: origin-form target and Host forwarded unchanged');
$r = http_raw($rp, "GET / HTTP/1.1\r\nHost: WWW.Example.COM:80\r\nConnection: close\r\n\r\n");
like($r, qr{\AHTTP/1\.1 200 OK\r\n}, 'reverse: host compared case-insensitively, port ignored');
$r = http_raw($rp, "GET /a HTTP/1.1\r\nHost: alias.example\r\nConnection: close\r\n\r\n");
like($r, qr{\r\n\r\nGET /a host=alias\.example\n\z}, 'reverse: an origin given by name (resolved)');
$origin->clear;
$r = http_raw($rp, "GET /x HTTP/1.1\r\nHost: unknown.example\r\nConnection: close\r\n\r\n");
like($r, qr{\AHTTP/1\.1 404 Not Found\r\n.*Content-Type: text/html.*unknown host}s, 'reverse: unknown host -> 404 page');
is(scalar($origin->requests), 0, 'reverse: unknown host never forwarded');
$r = http_raw($rp, "OPTIONS * HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n");
like(last_req(), qr{\AOPTIONS \* HTTP/1\.1\r\n}, 'reverse: OPTIONS * goes to the origin');
# a surrogate is never a forward proxy: absolute-form is mapped like Host
my $before = scalar($origin->requests);
$r = http_raw($rp, "GET http://127.0.0.1:$op/abs HTTP/1.1\r\nHost: 127.0.0.1:$op\r\nConnection: close\r\n\r\n");
like($r, qr{\AHTTP/1\.1 404 Not Found\r\n.*unknown host}s, 'reverse listener: absolute-form to an unmapped host -> 404');
is(scalar($origin->requests), $before, 'reverse listener: ... and never forwarded (not an open proxy)');
$r = http_raw($rp, "GET http://www.example.com/abs HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n");
like($r, qr{\r\n\r\nGET /abs host=www\.example\.com\n\z}, 'reverse listener: absolute-form mapped by its authority, which becomes Host');
$r = http_raw($rp, "CONNECT 127.0.0.1:$op HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n\r\n");
like($r, qr{\AHTTP/1\.1 501 Not Implemented\r\n.*reverse-proxy port}s, 'reverse listener: CONNECT -> 501');
is(scalar($origin->requests), $before + 1, 'reverse listener: CONNECT opened nothing');

# --- keep-alive on a reverse listener: two hosts, one connection
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $rp, Proto => 'tcp') or die;
$s->autoflush(1);
print $s "GET /1 HTTP/1.1\r\nHost: www.example.com\r\n\r\nGET /2 HTTP/1.1\r\nHost: nope.example\r\n\r\n";
local $/;
$r = <$s>;
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*GET /1 host=www\.example\.com\nHTTP/1\.1 404 }s, 'pipelined: 200, then 404');

# --- RFC 9112 §9.3: to its clients a surrogate is the origin, so a 1.0
# client's keep-alive is honoured here (a proxy port closes after one)
$r = http_raw($rp, "GET /k1 HTTP/1.0\r\nHost: www.example.com\r\nConnection: keep-alive\r\n\r\n" .
    "GET /k2 HTTP/1.0\r\nHost: www.example.com\r\n\r\n");
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\nConnection: keep-alive\r\n.*\r\n\r\nGET /k1 host=www\.example\.com\n}s,
    'reverse port, 1.0 client with keep-alive: kept');
like($r, qr{\nGET /k1 host=www\.example\.com\nHTTP/1\.1 200 OK\r\n.*\r\nConnection: close\r\n.*\r\n\r\nGET /k2 host=www\.example\.com\n\z}s,
    '... the second request answered, then closed');
# RFC 9112 §9.3: "close" wins over "keep-alive", on one line or two
for my $c ("Connection: keep-alive, close\r\n", "Connection: keep-alive\r\nConnection: close\r\n") {
	$r = http_raw($rp, "GET /c1 HTTP/1.0\r\nHost: www.example.com\r\n$c\r\n" .
	    "GET /c2 HTTP/1.0\r\nHost: www.example.com\r\n\r\n");
	like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\nConnection: close\r\n.*\r\n\r\nGET /c1 [^\n]*\n\z}s,
	    'reverse port, 1.0 client with keep-alive and close: closed after one, the next not served');
}

# --- transparent, no redirect: Host decides
$r = http_raw($tp, "GET /t HTTP/1.1\r\nHost: 127.0.0.1:$op\r\nConnection: close\r\n\r\n");
like($r, qr{\r\n\r\nGET /t host=127\.0\.0\.1:$op\n\z}, 'transparent without redirect: Host is the origin');
$r = http_raw($tp, "GET /t HTTP/1.0\r\n\r\n");
like($r, qr{\AHTTP/1\.1 400 }, 'transparent without redirect and without Host: 400');
$r = http_raw($tp, "GET /loop HTTP/1.1\r\nHost: 127.0.0.1:$tp\r\nConnection: close\r\n\r\n");
like($r, qr{\AHTTP/1\.1 508 }, 'transparent: a Host that is viaduct itself ends as a loop (508)');

# --- origin-form on the explicit proxy port
$r = http_raw($port, "GET /x HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n");
like($r, qr{\AHTTP/1\.1 400 }, 'explicit proxy port: origin-form -> 400');

done_testing();
