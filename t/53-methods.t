#!/usr/bin/perl
# Methods: extension tokens forwarded as they are; TRACE and OPTIONS honour
# Max-Forwards (answered by viaduct at 0, decremented otherwise, RFC 9110
# §7.6.2, §9.3.7, §9.3.8); OPTIONS * (RFC 9112 §3.2.4).
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
	my $body = "$m $t\n";
	return "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
});
my $o = "127.0.0.1:" . $origin->port;
my $v = start_viaduct(conf => Viaduct::Test::default_conf() . "set via-pseudonym=m.via\n");
my $port = $v->port;
sub last_req { ($origin->requests)[-1] // '' }

# --- extension methods: forwarded byte for byte
for my $m (qw(PURGE MKCOL X-Custom.Method_1 patch)) {
	$origin->clear;
	my $r = http_raw($port, "$m http://$o/ext HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n");
	like($r, qr{\r\n\r\n\Q$m\E /ext\n\z}, "$m: answered by the origin");
	is(last_req(), "$m /ext HTTP/1.1\r\nHost: $o\r\nX-Forwarded-For: 127.0.0.1\r\nVia: 1.1 m.via\r\n\r\n",
	    "$m: forwarded unchanged");
}

# --- TRACE at Max-Forwards 0: viaduct answers with the request it received
$origin->clear;
my $head = "TRACE http://$o/t?x=1 HTTP/1.1\r\nHost: $o\r\nMax-Forwards: 0\r\nX-A: 1\r\n" .
    "Cookie: secret=1\r\nProxy-Authorization: Basic eDp5\r\nConnection: close\r\n\r\n";
my $r = undate(http_raw($port, $head));
my $echo = "TRACE http://$o/t?x=1 HTTP/1.1\r\nHost: $o\r\nMax-Forwards: 0\r\nX-A: 1\r\nConnection: close\r\n\r\n";
is($r, "HTTP/1.1 200 OK\r\nContent-Type: message/http\r\nCache-Control: no-store\r\nContent-Length: " .
    length($echo) . "\r\nDate: D\r\nConnection: close\r\nVia: 1.1 m.via\r\n\r\n$echo",
    'TRACE Max-Forwards: 0 -> 200 message/http echoing the request (credentials left out)');
is(scalar($origin->requests), 0, 'TRACE Max-Forwards: 0 never reaches the origin');
# RFC 9112 §2.2: empty lines before the request line are no part of it
$r = undate(http_raw($port, "\r\n\r\n$head"));
is($r, "HTTP/1.1 200 OK\r\nContent-Type: message/http\r\nCache-Control: no-store\r\nContent-Length: " .
    length($echo) . "\r\nDate: D\r\nConnection: close\r\nVia: 1.1 m.via\r\n\r\n$echo",
    'TRACE after empty lines: the echo starts at the request line');

# --- TRACE with Max-Forwards 3: decremented in place
$r = http_raw($port, "TRACE http://$o/t HTTP/1.1\r\nHost: $o\r\nMax-Forwards: 3\r\nX-B: 2\r\nConnection: close\r\n\r\n");
like($r, qr{\r\n\r\nTRACE /t\n\z}, 'TRACE Max-Forwards: 3 forwarded');
is(last_req(), "TRACE /t HTTP/1.1\r\nHost: $o\r\nMax-Forwards: 2\r\nX-B: 2\r\nX-Forwarded-For: 127.0.0.1\r\n" .
    "Via: 1.1 m.via\r\n\r\n", 'TRACE: Max-Forwards decremented to 2, in place');

# --- no Max-Forwards: forwarded without one
http_raw($port, "TRACE http://$o/n HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n");
unlike(last_req(), qr/Max-Forwards/i, 'TRACE without Max-Forwards: none added');

# --- GET ignores Max-Forwards
http_raw($port, "GET http://$o/g HTTP/1.1\r\nHost: $o\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n");
like(last_req(), qr{\AGET /g HTTP/1\.1\r\n.*\r\nMax-Forwards: 0\r\n}s, 'GET: Max-Forwards forwarded untouched');

# --- OPTIONS
$r = undate(http_raw($port, "OPTIONS http://$o/x HTTP/1.1\r\nHost: $o\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n"));
is($r, "HTTP/1.1 200 OK\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE, CONNECT\r\n" .
    "Content-Length: 0\r\nDate: D\r\nConnection: close\r\nVia: 1.1 m.via\r\n\r\n", 'OPTIONS Max-Forwards: 0 -> 200 with Allow');
http_raw($port, "OPTIONS http://$o/x HTTP/1.1\r\nHost: $o\r\nMax-Forwards: 5\r\nConnection: close\r\n\r\n");
like(last_req(), qr{\AOPTIONS /x HTTP/1\.1\r\nHost: \Q$o\E\r\nMax-Forwards: 4\r\n}, 'OPTIONS Max-Forwards: 5 -> 4');
http_raw($port, "OPTIONS http://$o HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n");
like(last_req(), qr{\AOPTIONS \* HTTP/1\.1\r\n}, 'OPTIONS with an empty path is forwarded as OPTIONS *');
$r = http_raw($port, "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1:$port\r\nConnection: close\r\n\r\n");
like($r, qr{\AHTTP/1\.1 200 OK\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE, CONNECT\r\n},
    'OPTIONS * to viaduct: 200 with Allow');
$r = http_raw($port, "TRACE http://$o/x HTTP/1.1\r\nHost: $o\r\nMax-Forwards: x1\r\nConnection: close\r\n\r\n");
like($r, qr{\AHTTP/1\.1 400 }, 'invalid Max-Forwards: 400');
like(undate($r), qr{\AHTTP/1\.1 400 Bad Request\r\nDate: D\r\n}, 'RFC 9110 §6.6.1: viaduct\'s own 400 is dated');
# RFC 9110 §9.3.2: viaduct's own answer to HEAD is a head
$r = http_raw($port, "HEAD /not-absolute HTTP/1.1\r\nHost: $o\r\n\r\n");
like($r, qr{\AHTTP/1\.1 400 Bad Request\r\n.*\r\nContent-Length: [1-9]\d*\r\n.*\r\n\r\n\z}s,
    'HEAD answered 400 by viaduct: the head, with the length a GET would get, and no body');

# --- keep-alive survives a local answer; pipelined requests stay in order
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp') or die;
$s->autoflush(1);
print $s "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\nGET http://$o/after HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n";
local $/;
$r = <$s>;
like(undate($r), qr{\AHTTP/1\.1 200 OK\r\nAllow: .*Content-Length: 0\r\nDate: D\r\nVia: 1\.1 m\.via\r\n\r\nHTTP/1\.1 200 OK\r\n.*\r\n\r\nGET /after\n\z}s,
    'local answer, then the pipelined GET on the same connection');

done_testing();
