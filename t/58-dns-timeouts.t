#!/usr/bin/perl
# Names through viaduct's own resolver (dns-servers= pointing at a tiny DNS
# server on loopback): every address tried in turn, DNS failure -> 504,
# answers cached for their TTL.
# Each timeout: request header, client keep-alive, connect, origin
# response, body idle.  HTTP/1.0 clients.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;
use Viaduct::DNS;

my $origin = Viaduct::Origin->new(addr => '127.0.0.2', handler => sub {
	my ($req) = @_;
	my ($t) = $req =~ m{^\S+ (\S+)};
	if ($t =~ m{^/silent}) { sleep 30; return undef }
	if ($t =~ m{^/stall}) {
		return sub { print {$_[0]} "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n123"; sleep 30 };
	}
	my $body = "live $t\n";
	return "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
});
my $op = $origin->port;
# 127.0.0.1:$op is closed (the origin is on 127.0.0.2): the dead address
my $dns = Viaduct::DNS->new(records => {
	'two.test' => { A => ['127.0.0.1', '127.0.0.2'] },
	'dead.test' => { A => ['127.0.0.1', '127.0.0.3'] },
	'one.test' => { A => ['127.0.0.2'] },
});
my $v = start_viaduct(conf => Viaduct::Test::default_conf() .
    "set workers=1 via-pseudonym=dns.via dns-servers=127.0.0.1:" . $dns->port .
    " request-header-timeout=1s keepalive-timeout=1s response-timeout=1s idle-timeout=1s connect-timeout=1s\n");
my $port = $v->port;

# --- one dead, one live address
my $r = http_get($port, "http://two.test:$op/x");
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nlive /x\n\z}s, 'two addresses, the first refused: served by the second');
ok($v->wait_log(qr/connect to 127\.0\.0\.1:$op: Connection refused, trying the next address/, 5),
    'the dead address was tried first, then the next');
$r = http_get($port, "http://one.test:$op/y");
like($r, qr{\r\n\r\nlive /y\n\z}, 'a name with one address');
like((($origin->requests)[-1] // ''), qr{\AGET /y HTTP/1\.1\r\nHost: one\.test:$op\r\n}, 'Host keeps the name');
http_get($port, "http://one.test:$op/y2");
http_get($port, "http://one.test:$op/y3");
is(scalar(grep { $_ eq 'one.test A' } $dns->questions), 1, 'answers cached for their TTL: one question for three requests');
$r = http_get($port, "http://dead.test:$op/z");
like($r, qr{\AHTTP/1\.1 502 Bad Gateway\r\n}, 'every address refused: 502');
$r = http_get($port, "http://nonexistent.test:$op/z");
like($r, qr{\AHTTP/1\.1 504 Gateway Timeout\r\n}, 'unknown name (NXDOMAIN): 504');

# --- response timeout: the origin reads the request and says nothing
$r = http_get($port, "http://one.test:$op/silent", timeout => 10);
like($r, qr{\AHTTP/1\.1 504 Gateway Timeout\r\n.*did not answer}s, 'response-timeout: 504');

# --- body idle: the origin stops in the middle of the body
$r = http_get($port, "http://one.test:$op/stall", timeout => 10);
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\n123\z}s, 'idle-timeout: head and the bytes that came, then closed (truncated, not completed)');

# --- a request body that stalls: the client's fault, 408
$r = http_raw($port, "POST http://one.test:$op/body HTTP/1.1\r\nHost: one.test:$op\r\nContent-Length: 10\r\n\r\nabc",
    timeout => 10);
like($r, qr{\AHTTP/1\.1 408 Request Timeout\r\n.*request body timed out}s, 'idle-timeout on a request body: 408');

# --- connect timeout: a listener whose accept queue is full drops SYNs
my $full = IO::Socket::INET->new(Listen => 0, LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp') or die;
my $fp = $full->sockport;
my @fill;
for (1 .. 8) {
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $fp, Proto => 'tcp', Blocking => 0);
	push @fill, $s if $s;
}
sleep 0.2;
$r = http_get($port, "http://127.0.0.1:$fp/", timeout => 10);
like($r, qr{\AHTTP/1\.1 504 Gateway Timeout\r\n.*connecting to the origin timed out}s, 'connect-timeout: 504');
close $_ for @fill;
close $full;

# --- request header timeout: one byte at a time, never finished
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp') or die;
$s->autoflush(1);
print $s "GET http://one.test:$op/ HTTP/1.1\r\n";
sleep 0.5;
print $s "Host: one";
local $/;
$r = <$s>;
like($r // '', qr{\AHTTP/1\.1 408 Request Timeout\r\n}, 'request-header-timeout: a head trickling in gets 408');
close $s;

# --- a slow client does not block others meanwhile
$s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp') or die;
print $s "GET http://one.test:$op/ HTTP/1.1\r\n";
$r = http_get($port, "http://one.test:$op/other");
like($r, qr{\r\n\r\nlive /other\n\z}, 'another client is served while one trickles');
close $s;

# --- keep-alive timeout: idle after a response, closed without a word
$s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp') or die;
$s->autoflush(1);
print $s "GET http://one.test:$op/ka HTTP/1.1\r\nHost: one.test:$op\r\n\r\n";
my $buf = '';
sysread($s, $buf, 65536, length $buf) while $buf !~ /live \/ka\n/;
my $rin = '';
vec($rin, fileno($s), 1) = 1;
my $ready = select(my $rout = $rin, undef, undef, 10);	# safety net
my $n = $ready ? sysread($s, my $x, 100) : -1;
is($n, 0, 'keepalive-timeout: idle client connection closed, nothing sent');
close $s;

# --- HTTP/1.0 clients: HTTP/1.1 upstream; a proxy keeps no persistent
# connection with them, keep-alive asked or not (RFC 9112 §9.3, C.2.2)
for my $ka ("Connection: keep-alive\r\n", '') {
	$s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp') or die;
	$s->autoflush(1);
	print $s "GET http://one.test:$op/k1 HTTP/1.0\r\n$ka\r\nGET http://one.test:$op/k2 HTTP/1.0\r\n\r\n";
	$buf = '';
	1 while sysread($s, $buf, 65536, length $buf);
	like($buf, qr{\AHTTP/1\.1 200 OK\r\n.*\r\nConnection: close\r\n.*\r\n\r\nlive /k1\n\z}s,
	    '1.0 client' . ($ka ? ' asking keep-alive' : '') . ': answered, then closed; the second request not read');
	like((($origin->requests)[-1] // ''), qr{\AGET /k1 HTTP/1\.1\r\nHost: one\.test:$op\r\n},
	    '1.0 request forwarded as HTTP/1.1 with Host');
	close $s;
}

# --- a DNS server that never answers: the resolver gives up after its
# tries (viaduct's c-ares timeout, not c-ares' default of over a minute),
# 504 saying so; the datagrams wait unread in our socket
{
	my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'udp')
	    or die "udp: $!";
	my $w = start_viaduct(conf => Viaduct::Test::default_conf() .
	    "set workers=1 dns-servers=127.0.0.1:" . $silent->sockport . " response-timeout=1m\n");
	$r = http_get($w->port, "http://quiet.test:$op/q", timeout => 20);
	like($r, qr{\AHTTP/1\.1 504 Gateway Timeout\r\n.*Timeout while contacting DNS servers}s,
	    'a silent DNS server: 504 once the resolver gives up');
	my ($rin, $q) = ('', 0);
	vec($rin, fileno($silent), 1) = 1;
	while (select(my $rout = $rin, undef, undef, 0) > 0) {
		$silent->recv(my $d, 512);
		$q++;
	}
	ok($q >= 2, "the silent server was asked again before giving up ($q questions)");
	$w->stop;
}

# --- a burst of requests for a name not yet known: one lookup, every
# request served when its answer comes (the server takes its time)
{
	my $slow = Viaduct::DNS->new(delay => 0.3, records => { 'burst.test' => { A => ['127.0.0.2'] } });
	my $w = start_viaduct(conf => Viaduct::Test::default_conf() .
	    "set workers=1 dns-servers=127.0.0.1:" . $slow->port . "\n");
	my @s = map {
		my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $w->port,
		    Proto => 'tcp') or die "connect: $!";
		print $c "GET http://burst.test:$op/b$_ HTTP/1.1\r\nHost: burst.test:$op\r\n" .
		    "Connection: close\r\n\r\n";
		$c;
	} 1 .. 5;
	my $i = 0;
	for my $c (@s) {
		$i++;
		my $got = read_until_close($c, 10);
		like($got, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nlive /b$i\n\z}s, "burst: request $i served");
	}
	is(scalar(grep { $_ eq 'burst.test A' } $slow->questions), 1,
	    'five requests at once for one name: one question');
	$w->stop;
}

done_testing();
