#!/usr/bin/perl
# The forwarding path through the real binary: exact bytes on both sides,
# keep-alive, pipelining, re-framing, streaming, and failures.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

my $origin = Viaduct::Origin->new(handler => sub {
	my ($req, $c) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	if ($path =~ m{^/nolen}) {
		return sub { print {$_[0]} "HTTP/1.1 200 OK\r\nX-Kind: nolen\r\n\r\nuntil-close body\n" };
	}
	if ($path =~ m{^/chunked}) {
		return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n world\n\r\n0\r\nX-Trailer: t\r\n\r\n";
	}
	if ($path =~ m{^/smuggle}) {
		return "HTTP/1.1 200 OK\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n" .
		    "4\r\nsafe\r\n0\r\n\r\n";
	}
	if ($path =~ m{^/slow}) {
		return sub {
			my $s = shift;
			print $s "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nFIRST\n\r\n";
			sleep 2;
			print $s "7\r\nSECOND\n\r\n0\r\n\r\n";
		};
	}
	if ($path =~ m{^/garbage}) {
		return "ICY 200 OK\r\n\r\nnot http";
	}
	if ($path =~ m{^/hop}) {
		return "HTTP/1.1 200 OK\r\nConnection: X-Origin-Hop\r\nX-Origin-Hop: 1\r\nKeep-Alive: timeout=5\r\n" .
		    "Proxy-Authenticate: Basic\r\nX-End: kept\r\nContent-Length: 3\r\n\r\nhop";
	}
	my $body = $req =~ /^HEAD /
	    ? '' : "path=$path len=" . (length($req) - index($req, "\r\n\r\n") - 4) . "\n";
	my $cl = $req =~ /^HEAD / ? 5 : length $body;
	return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: $cl\r\n\r\n$body";
});
my $op = $origin->port;
my $o = "127.0.0.1:$op";

my $v = start_viaduct(conf => Viaduct::Test::default_conf() . "set via-pseudonym=test.via\n");
my $port = $v->port;

sub last_req { my @r = $origin->requests; $r[-1] }

sub conn {
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 5)
	    or die "connect: $!";
	$s->autoflush(1);
	return $s;
}

sub readn {
	my ($s, $bufref, $n) = @_;
	while (length($$bufref) < $n) {
		my $r = sysread($s, $$bufref, 65536, length $$bufref);
		return 0 if !$r;
	}
	return 1;
}

# One response from a persistent connection: (head, decoded body), framed as a client would.
sub read_response {
	my ($s, $bufref, $head_req) = @_;
	while ($$bufref !~ /\r\n\r\n/) {
		my $r = sysread($s, $$bufref, 65536, length $$bufref);
		return () if !$r;
	}
	my $i = index($$bufref, "\r\n\r\n") + 4;
	my $head = substr($$bufref, 0, $i, '');
	my $body = '';
	if ($head_req) {
	} elsif ($head =~ /^transfer-encoding: chunked/mi) {
		while (1) {
			while ($$bufref !~ /\r\n/) { sysread($s, $$bufref, 65536, length $$bufref) or return () }
			$$bufref =~ s/^([0-9a-f]+)[^\r]*\r\n//i or return ();
			my $n = hex $1;
			if ($n == 0) {
				while ($$bufref !~ /^(?:[^\r\n]+\r\n)*\r\n/) { sysread($s, $$bufref, 65536, length $$bufref) or return () }
				$$bufref =~ s/^(?:[^\r\n]+\r\n)*\r\n//;
				last;
			}
			readn($s, $bufref, $n + 2) or return ();
			$body .= substr($$bufref, 0, $n + 2, '');
			chop $body; chop $body;
		}
	} elsif ($head =~ /^content-length: (\d+)/mi) {
		readn($s, $bufref, $1) or return ();
		$body = substr($$bufref, 0, $1, '');
	} else {
		1 while sysread($s, $$bufref, 65536, length $$bufref);
		$body = $$bufref;
		$$bufref = '';
	}
	return ($head, $body);
}

sub closed_after {
	my ($s) = @_;
	my $rin = '';
	vec($rin, fileno($s), 1) = 1;
	return 0 unless select(my $r = $rin, undef, undef, 5);
	my $n = sysread($s, my $x, 1);
	return defined $n && $n == 0;
}

# --- GET: exact request bytes at the origin
my $r = http_raw($port, "GET http://$o/get?q=1&b=%20x HTTP/1.1\r\nHost: wrong.example\r\nUser-Agent: t\r\n" .
    "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 300\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n" .
    "Proxy-Authorization: Basic eDp5\r\nUpgrade: websocket\r\nA: 1\r\nA: 2\r\nConnection: close\r\n\r\n");
is(last_req(), "GET /get?q=1&b=%20x HTTP/1.1\r\nHost: $o\r\nUser-Agent: t\r\nA: 1\r\nA: 2\r\n" .
    "X-Forwarded-For: 127.0.0.1\r\nVia: 1.1 test.via\r\n\r\n",
    'GET: origin-form, HTTP/1.1, Host from the target, hop-by-hop removed, order and duplicates kept, XFF and Via added');
like($r, qr{\AHTTP/1\.1 200 OK\r\n}, 'GET: 200 to the client');
like($r, qr{\r\nVia: 1\.1 test\.via\r\n}, 'GET: Via added to the response');
like($r, qr{\r\nConnection: close\r\n}, 'GET: Connection: close when the client asked');
# RFC 9110 §7.6.1: an X-Forwarded-For the client names in Connection is
# removed like any nominated field; ours is still added
http_raw($port, "GET http://$o/xff HTTP/1.1\r\nHost: $o\r\nX-Forwarded-For: 6.6.6.6\r\n" .
    "Connection: X-Forwarded-For, close\r\n\r\n");
is(last_req(), "GET /xff HTTP/1.1\r\nHost: $o\r\nX-Forwarded-For: 127.0.0.1\r\nVia: 1.1 test.via\r\n\r\n",
    'Connection: X-Forwarded-For drops the client\'s value, ours stays');
like($r, qr{\r\n\r\npath=/get\?q=1&b=%20x len=0\n\z}, 'GET: body streamed back byte for byte');

# --- empty path -> /
http_get($port, "http://$o");
like(last_req(), qr{\AGET / HTTP/1\.1\r\n}, 'empty path is sent as /');

# --- response hop-by-hop fields removed
$r = http_get($port, "http://$o/hop");
like($r, qr{\r\nX-End: kept\r\n}, 'response: end-to-end field kept');
unlike($r, qr{X-Origin-Hop|Keep-Alive|Proxy-Authenticate}i, 'response: hop-by-hop fields removed');

# --- HEAD, then GET on the same connection (no body after HEAD)
my $s = conn();
my $buf = '';
print $s "HEAD http://$o/head HTTP/1.1\r\nHost: $o\r\n\r\n";
my ($h, $b) = read_response($s, \$buf, 1);
like($h, qr{\AHTTP/1\.1 200 .*\r\nContent-Length: 5\r\n}s, 'HEAD: head with the origin Content-Length');
print $s "GET http://$o/after-head HTTP/1.1\r\nHost: $o\r\n\r\n";
($h, $b) = read_response($s, \$buf);
is($b, "path=/after-head len=0\n", 'keep-alive: second request on the same connection after HEAD');
like(last_req(), qr{\AGET /after-head HTTP/1\.1\r\n}, 'keep-alive: origin got the second request');
close $s;

# --- POST with Content-Length
$r = http_raw($port, "POST http://$o/post HTTP/1.1\r\nHost: $o\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world");
is(last_req(), "POST /post HTTP/1.1\r\nHost: $o\r\nContent-Length: 11\r\nX-Forwarded-For: 127.0.0.1\r\n" .
    "Via: 1.1 test.via\r\n\r\nhello world", 'POST Content-Length: exact bytes at the origin');
like($r, qr{len=11\n\z}, 'POST Content-Length: origin answered');

# --- POST chunked, with extensions and trailers kept
$r = http_raw($port, "POST http://$o/chunk HTTP/1.1\r\nHost: $o\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" .
    "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n");
is(last_req(), "POST /chunk HTTP/1.1\r\nHost: $o\r\nTransfer-Encoding: chunked\r\nX-Forwarded-For: 127.0.0.1\r\n" .
    "Via: 1.1 test.via\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n", 'POST chunked: body relayed, extensions and trailers kept');
like($r, qr{\AHTTP/1\.1 200 }, 'POST chunked: 200');

# --- RFC 9110 §8.6: a Content-Length of 0 the client sent goes on (an origin
# may insist on the length of a POST); none is invented for a GET
http_raw($port, "POST http://$o/empty HTTP/1.1\r\nHost: $o\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
is(last_req(), "POST /empty HTTP/1.1\r\nHost: $o\r\nContent-Length: 0\r\nX-Forwarded-For: 127.0.0.1\r\n" .
    "Via: 1.1 test.via\r\n\r\n", 'POST with Content-Length: 0 forwarded with it');
http_raw($port, "GET http://$o/nolen HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n");
unlike(last_req(), qr{Content-Length}i, 'GET without a length: none added');

# --- RFC 9112 §6.1: no chunked request body to an origin whose last
# response said HTTP/1.0 (one worker, so that it is the one that saw it)
my $o10 = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	my $ver = $path =~ /v11/ ? '1.1' : '1.0';
	my $body = "$ver $path\n";
	return "HTTP/$ver 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
});
my $h10 = '127.0.0.1:' . $o10->port;
my $w1 = start_viaduct(conf => Viaduct::Test::default_conf() . "set workers=1 via-pseudonym=test.via\n");
my $chunked_post = sub { "POST http://$h10/$_[0] HTTP/1.1\r\nHost: $h10\r\nTransfer-Encoding: chunked\r\n" .
    "Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n" };
$r = http_raw($w1->port, $chunked_post->('unknown'));
like(($o10->requests)[-1], qr{\APOST /unknown HTTP/1\.1\r\n.*\r\nTransfer-Encoding: chunked\r\n.*\r\n\r\n5\r\nhello\r\n0\r\n\r\n\z}s,
    'origin of unknown version: the chunked body is forwarded chunked');
like($r, qr{\r\n\r\n1\.0 /unknown\n\z}, 'origin of unknown version: its answer relayed');
$r = http_raw($w1->port, $chunked_post->('after-v10'));
like($r, qr{\AHTTP/1\.1 411 Length Required\r\n}, 'origin that answered in 1.0: chunked body refused with 411');
like($r, qr{HTTP/1\.0}, '411: the page says why');
is(scalar(my @n = $o10->requests), 1, 'origin that answered in 1.0: the chunked request never reached it');
$r = http_raw($w1->port, "POST http://$h10/cl HTTP/1.1\r\nHost: $h10\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
like($r, qr{\r\n\r\n1\.0 /cl\n\z}, 'origin that answered in 1.0: a Content-Length body still goes');
# RFC 9110 §7.6.3: Via's received-protocol is the version of the message received
like($r, qr{\AHTTP/1\.1 200 OK\r\n(?:[^\r\n]+\r\n)*Via: 1\.0 test\.via\r\n\r\n}, 'a 1.0 response: Via 1.0 to the client');
$r = http_raw($w1->port, "GET http://$h10/v11 HTTP/1.1\r\nHost: $h10\r\nConnection: close\r\n\r\n");
like($r, qr{\AHTTP/1\.1 200 OK\r\n(?:[^\r\n]+\r\n)*Via: 1\.1 test\.via\r\n\r\n}, 'a 1.1 response: Via 1.1 to the client');
like(($o10->requests)[-1], qr{\r\nVia: 1\.1 test\.via\r\n\r\n\z}, 'a 1.1 request: Via 1.1 to the origin');
http_raw($w1->port, "GET http://$h10/v11 HTTP/1.0\r\n\r\n");
like(($o10->requests)[-1], qr{\AGET /v11 HTTP/1\.1\r\n.*\r\nVia: 1\.0 test\.via\r\n\r\n\z}s,
    'a 1.0 request: forwarded in 1.1 with Via 1.0');
$r = http_raw($w1->port, $chunked_post->('again'));
like($r, qr{\r\n\r\n1\.0 /again\n\z}, 'the same origin answered in 1.1 since: chunked goes again');
like(($o10->requests)[-1], qr{\APOST /again HTTP/1\.1\r\n.*\r\n\r\n5\r\nhello\r\n0\r\n\r\n\z}s,
    'after 1.1: the origin got the chunked body');
undef $w1;

# --- CL and TE together: TE governs, CL not forwarded, client connection closed
$s = conn();
$buf = '';
print $s "POST http://$o/clte HTTP/1.1\r\nHost: $o\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" .
    "3\r\nabc\r\n0\r\n\r\n";
($h, $b) = read_response($s, \$buf);
unlike(last_req(), qr/Content-Length/i, 'TE+CL: Content-Length not forwarded');
like(last_req(), qr{\r\n\r\n3\r\nabc\r\n0\r\n\r\n\z}, 'TE+CL: the chunked body governs');
like($h, qr{\r\nConnection: close\r\n}, 'TE+CL: response says close');
ok(closed_after($s), 'TE+CL: client connection closed after the response');
close $s;

# --- pipelining: three requests in one write, answered in order
$s = conn();
$buf = '';
print $s join('', map { "GET http://$o/p$_ HTTP/1.1\r\nHost: $o\r\n\r\n" } 1 .. 3);
my @bodies;
for (1 .. 3) { my ($hh, $bb) = read_response($s, \$buf); push @bodies, $bb // 'none' }
is_deeply(\@bodies, [ map { "path=/p$_ len=0\n" } 1 .. 3 ], 'pipelining: three responses in order');
close $s;

# --- response without length: chunked to 1.1, close-delimited to 1.0
$s = conn();
$buf = '';
print $s "GET http://$o/nolen HTTP/1.1\r\nHost: $o\r\n\r\n";
($h, $b) = read_response($s, \$buf);
like($h, qr{\r\nTransfer-Encoding: chunked\r\n}, 'no length, 1.1 client: re-framed chunked');
is($b, "until-close body\n", 'no length, 1.1 client: body intact');
print $s "GET http://$o/after-nolen HTTP/1.1\r\nHost: $o\r\n\r\n";
($h, $b) = read_response($s, \$buf);
is($b, "path=/after-nolen len=0\n", 'no length, 1.1 client: connection kept alive');
close $s;

$r = http_raw($port, "GET http://$o/nolen HTTP/1.0\r\n\r\n");
unlike($r, qr{Transfer-Encoding}i, 'no length, 1.0 client: not chunked');
like($r, qr{\r\nConnection: close\r\n.*\r\n\r\nuntil-close body\n\z}s, 'no length, 1.0 client: close-delimited');

$r = http_raw($port, "GET http://$o/chunked HTTP/1.0\r\n\r\n");
like($r, qr{\r\n\r\nhello world\n\z}, 'chunked response to a 1.0 client: de-chunked, close-delimited');
unlike($r, qr{Transfer-Encoding}i, 'chunked response to a 1.0 client: no Transfer-Encoding');

$r = http_get($port, "http://$o/chunked");
like($r, qr{\r\nTransfer-Encoding: chunked\r\n.*\r\n\r\n5\r\nhello\r\n7\r\n world\n\r\n0\r\nX-Trailer: t\r\n\r\n\z}s,
    'chunked response to a 1.1 client: relayed with its trailer');

# --- origin sends CL and TE: TE governs, CL dropped (response splitting)
$r = http_get($port, "http://$o/smuggle");
unlike($r, qr{Content-Length}i, 'origin TE+CL: Content-Length not passed on');
like($r, qr{\r\n\r\n4\r\nsafe\r\n0\r\n\r\n\z}, 'origin TE+CL: chunked body governs');

# --- streaming: the first chunk reaches the client before the origin finishes
$s = conn();
print $s "GET http://$o/slow HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n";
$buf = '';
my $second_before_first = 1;
while (sysread($s, $buf, 65536, length $buf)) {
	if ($buf =~ /FIRST/) { $second_before_first = ($buf =~ /SECOND/) ? 1 : 0; last }
}
is($second_before_first, 0, 'streaming: FIRST arrives while SECOND is still at the origin');
1 while sysread($s, $buf, 65536, length $buf);
like($buf, qr{FIRST\n.*SECOND\n.*0\r\n\r\n\z}s, 'streaming: the rest follows');
close $s;

# --- failures
my $dead = free_port();
$r = http_get($port, "http://127.0.0.1:$dead/x");
like($r, qr{\AHTTP/1\.1 502 }, 'origin refused -> 502');
like($r, qr{127\.0\.0\.1:$dead/x}, '502 page names the URL');
$r = http_get($port, "http://$o/garbage");
like($r, qr{\AHTTP/1\.1 502 }, 'garbage from the origin -> 502');
$r = http_get($port, "http://$o/x", headers => "Via: 1.0 test.via\r\n");
like($r, qr{\AHTTP/1\.1 508 }, 'our pseudonym in Via -> 508');
# a comment may hold commas and our name (RFC 9110 §5.6.5, §7.6.3): no loop
$r = http_get($port, "http://$o/x", headers => "Via: 1.1 a.example (see, 1.1 test.via)\r\n");
like($r, qr{\AHTTP/1\.1 200 }, 'our pseudonym inside a Via comment is no loop');
$r = http_get($port, "http://$o/x", headers => "Via: 1.1 a.example (x, (y)), 1.1 test.via:8080\r\n");
like($r, qr{\AHTTP/1\.1 200 }, 'another port of our name is no loop');
$r = http_get($port, "http://$o/x", headers => "Via: 1.1 a.example (x, (y)), 1.1 test.via (v)\r\n");
like($r, qr{\AHTTP/1\.1 508 }, 'our pseudonym after a nested comment -> 508');

# --- names through c-ares: /etc/hosts localhost
$r = http_get($port, "http://localhost:$op/named");
like($r, qr{\AHTTP/1\.1 200 .*path=/named}s, 'localhost resolved through /etc/hosts');

# --- curl, for realism
my $out = `curl -sS -x http://127.0.0.1:$port http://127.0.0.1:$op/curl 2>&1`;
is($?, 0, 'curl exits 0');
is($out, "path=/curl len=0\n", 'curl gets the body through the proxy');
$out = `curl -sS -x http://127.0.0.1:$port --data-binary 'abc=def' http://127.0.0.1:$op/curlpost 2>&1`;
is($out, "path=/curlpost len=7\n", 'curl POST through the proxy');
$out = `curl -sS -I -x http://127.0.0.1:$port http://127.0.0.1:$op/curlhead 2>&1`;
like($out, qr{\AHTTP/1\.1 200 OK\r\n.*Via: 1\.1 test\.via}s, 'curl HEAD through the proxy');

# --- anonymous=yes: no X-Forwarded-For, From, Referer; 408 on a stalled head
my $va = start_viaduct(conf => Viaduct::Test::default_conf() .
    "set via-pseudonym=anon.via request-header-timeout=1s\n/ip proxy\nset anonymous=yes\n");
http_get($va->port, "http://$o/anon", headers => "From: me\@example\r\nReferer: http://r/\r\nX-Forwarded-For: 9.9.9.9\r\n");
is(last_req(), "GET /anon HTTP/1.1\r\nHost: $o\r\nX-Forwarded-For: 9.9.9.9\r\nVia: 1.1 anon.via\r\n\r\n",
    'anonymous: From and Referer dropped, no client address added');
$r = http_raw($va->port, "GET http://$o/stall HTTP/1.1\r\nHost: $o\r\n", timeout => 10);
like($r, qr{\AHTTP/1\.1 408 }, 'a head that never completes -> 408');
undef $va;

# --- max-client-connections exceeded -> 503
my $v1 = start_viaduct(conf => Viaduct::Test::default_conf() .
    "set workers=1\n/ip proxy\nset max-client-connections=1\n");
my $hold = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v1->port, Proto => 'tcp') or die;
print $hold "GET http://$o/hold HTTP/1.1\r\nHost: $o\r\n\r\n";
$buf = '';
($h, $b) = read_response($hold, \$buf);
is($b, "path=/hold len=0\n", 'the one allowed connection is served');
$r = http_get($v1->port, "http://$o/over");
like($r, qr{\AHTTP/1\.1 503 }, 'one connection too many -> 503');
close $hold;

done_testing();
