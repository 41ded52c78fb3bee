#!/usr/bin/perl
# The origin side: keep-alive pool (reuse, per-origin bound, idle timeout),
# retry on a fresh connection only where safe, a request that cannot be
# retried only on a recently idle connection, max-server-connections
# queueing, src-address.  The origin records the peer of every request, so
# "same connection" is an assertion on its address:port.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_CORK);
use Test::More;
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

my $nreq = 0;	# per origin connection (each one is its own forked process)
my $origin = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	$nreq++;
	my ($path) = $req =~ m{^\S+ (\S+)};
	return undef if $path =~ m{^/flaky} && $nreq >= 2;	# close, no answer
	sleep 1 if $path =~ m{^/slow};
	if ($path =~ m{^/old}) {
		return "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold";
	}
	if ($path =~ m{^/close-soon}) {	# keep-alive response, then the origin closes
		return sub { print {$_[0]} "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\ncs"; sleep 0.3 };
	}
	if ($path =~ m{^/fill(\d+)}) {	# exactly N bytes of response, then another one
		my $n = $1;
		my $h = "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: ";
		my $bl = $n - length($h) - 4;
		$bl -= length($bl);
		my $all = $h . $bl . "\r\n\r\n" . ('A' x $bl) .
		    "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nCache-Control: max-age=3600\r\n\r\nPOISON\n";
		# one write, one segment; the connection stays open a while
		return sub { syswrite($_[0], $all); sleep 1 };
	
	}
	if ($path =~ m{^/fin}) {	# no Connection: close, but the FIN right after
		return sub { my ($c) = @_; print $c "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nfin";
		    shutdown($c, 1); sleep 0.2 };
	}
	if ($path =~ m{^/emptychunked}) {	# a chunked body of no data
		return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
	}
	if ($path =~ m{^/bye}) {
		return "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye";
	}
	my $body = "path=$path\n";
	return "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
});
my $o = "127.0.0.1:" . $origin->port;

sub peers { map { $_->[0] } $origin->log }
sub npeers { my %h = map { $_ => 1 } peers(); scalar keys %h }

sub conf { Viaduct::Test::default_conf() . "set workers=1 via-pseudonym=pool.via $_[0]\n" . ($_[1] // '') }

# Start n requests at once on separate client connections; their responses in order.
sub parallel {
	my ($port, @paths) = @_;
	my @s = map {
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
		    Timeout => 5) or die "connect: $!";
		$s->autoflush(1);
		print $s "GET http://$o$_ HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n";
		$s;
	} @paths;
	return map { my $s = $_; local $/; my $r = <$s> // ''; close $s; $r } @s;
}

# --- reuse: requests from different clients share one origin connection
my $v = start_viaduct(conf => conf(''));
my $p = $v->port;
my $r1 = http_get($p, "http://$o/a");
my $r2 = http_get($p, "http://$o/b");
like($r1, qr{\r\n\r\npath=/a\n\z}, 'first request answered');
like($r2, qr{\r\n\r\npath=/b\n\z}, 'second request answered');
my @pe = peers();
is(scalar @pe, 2, 'origin saw two requests');
is($pe[0], $pe[1], 'the second request reused the pooled origin connection');
unlike(join('', $origin->requests), qr/^Connection:/mi, 'no Connection: close sent to the origin');

# --- RFC 9112 §6.3: bytes after a complete response are never another
# request's response.  Here the response fills viaduct's origin buffer
# exactly (max-header-size 16 KiB + 16 KiB), so the surplus is still in the
# socket when the response ends: the connection must not be pooled.
{
	my $vf = start_viaduct(conf => conf('max-header-size=16KiB'));
	$origin->clear;
	my $rf = http_get($vf->port, "http://$o/fill32768");
	like($rf, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nA+\z}s, 'a response that fills the buffer exactly');
	my $rv = http_get($vf->port, "http://$o/victim");
	like($rv, qr{\r\n\r\npath=/victim\n\z}, '... the next request gets its own answer, not the surplus');
	my @pf = peers();
	ok(@pf == 2 && $pf[0] ne $pf[1], '... on another origin connection');
	undef $vf;
}

# --- a POST pipelined behind a response the origin follows with a FIN (no
# Connection: close): it cannot be sent twice, so it must not go on that
# connection, whose end the loop may not have seen yet (RFC 9110 §9.2.2)
{
	my $vf = start_viaduct(conf => conf(''));
	my $ok = 0;
	for my $i (1 .. 20) {
		my $rf = http_raw($vf->port, "GET http://$o/fin$i HTTP/1.1\r\nHost: $o\r\n\r\n" .
		    "POST http://$o/post$i HTTP/1.1\r\nHost: $o\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello") // '';
		$ok++ if $rf =~ m{\r\n\r\nfinHTTP/1\.1 200 OK\r\n.*\r\n\r\npath=/post$i\n\z}s;
	}
	is($ok, 20, 'a POST pipelined behind a response and the origin\'s FIN: answered every time (20)');
	undef $vf;
}

# --- Connection: close from the origin: not reused
$origin->clear;
http_get($p, "http://$o/bye");
http_get($p, "http://$o/after-bye");
@pe = peers();
isnt($pe[0], $pe[1], 'an origin that said Connection: close is not reused');

# --- an HTTP/1.0 origin: not reused (its connection is not persistent by default)
$origin->clear;
my $r = http_get($p, "http://$o/old");
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nold\z}s, '1.0 origin: answered as HTTP/1.1');
http_get($p, "http://$o/after-old");
@pe = peers();
isnt($pe[0], $pe[1], '1.0 origin: connection not reused');

# --- retry: the pooled connection dies under a GET -> sent again on a new one
$origin->clear;
http_get($p, "http://$o/warm");		# a fresh connection, its 1st request
$r = http_get($p, "http://$o/flaky");	# the pooled one: closed without answer
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\npath=/flaky\n\z}s, 'GET on a dead pooled connection: retried, 200');
my @log = $origin->log;
is(scalar @log, 3, 'origin: warm, flaky (dropped), flaky (retried)');
is($log[1][0], $log[0][0], 'the first attempt went on the pooled connection');
isnt($log[2][0], $log[1][0], 'the retry went on a new connection');
is($log[2][1], $log[1][1], 'the retried request is byte for byte the same');

# --- an idle pooled connection the origin closes is dropped from the pool at once
$origin->clear;
http_get($p, "http://$o/close-soon");
sleep 1;
$r = http_get($p, "http://$o/after-close");
like($r, qr{\r\n\r\npath=/after-close\n\z}, 'after the origin closed an idle connection: served');
@log = $origin->log;
is(scalar @log, 2, 'no retry was needed: the origin saw each request once');
isnt($log[1][0], $log[0][0], 'the closed connection was not reused');

# --- POST is not idempotent: never retried
$origin->clear;
$r = http_raw($p, "POST http://$o/flaky-post HTTP/1.1\r\nHost: $o\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
like($r, qr{\AHTTP/1\.1 502 }, 'POST on a dead pooled connection: 502, not retried');
is(scalar(grep { $_->[1] =~ /^POST / } $origin->log), 1, 'origin saw the POST exactly once');
undef $v;

# --- max-server-connections=1 queues rather than fails
$origin->clear;
$v = start_viaduct(conf => conf('', "/ip proxy\nset max-server-connections=1\n"));
my @rs = parallel($v->port, '/slow/1', '/slow/2', '/slow/3');
for my $i (1 .. 3) {
	like($rs[$i - 1], qr{\AHTTP/1\.1 200 OK\r\n.*path=/slow/$i\n\z}s, "queued request $i answered");
}
is(scalar(peers()), 3, 'origin saw the three requests');
is(npeers(), 1, 'all three on one origin connection, one after the other');

# --- a client that closes while its request is queued (or waits for the
# answer) is gone: its request ends there, and a queued one never reaches
# the origin (nginx's "client prematurely closed connection")
$origin->clear;
{
	my $first = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port) or die;
	$first->autoflush(1);
	print $first "POST http://$o/slow/first HTTP/1.1\r\nHost: $o\r\nContent-Length: 1\r\n\r\nx";
	sleep 0.2;		# it has the only origin connection
	for my $k (1 .. 2) {
		my $q = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port) or die;
		$q->autoflush(1);
		print $q "POST http://$o/slow/gone$k HTTP/1.1\r\nHost: $o\r\nContent-Length: 1\r\n\r\ny";
		sleep 0.1;
		close $q;	# queued behind /slow/first, then gone
	}
	my $r0 = '';
	sysread($first, $r0, 65536, length $r0) until $r0 =~ m{path=/slow/first\n};
	like($r0, qr{\AHTTP/1\.1 200 OK\r\n}, 'the request that held the connection is answered');
	close $first;
	like(http_get($v->port, "http://$o/after") // '', qr{path=/after\n\z}, 'the next one is served');
	is_deeply([ map { $_->[1] =~ m{^(?:POST|GET) (\S+)} ? $1 : '?' } $origin->log ],
	    [ '/slow/first', '/after' ], 'the requests of the clients that left never reached the origin');
	like(slurp($v->errlog) // '', qr{client closed before the answer: http://\Q$o\E/slow/gone1},
	    'the error log says why');
}
undef $v;

# --- per-origin bound on idle connections
$origin->clear;
$v = start_viaduct(conf => conf('max-idle-per-server=1'));
parallel($v->port, '/slow/a', '/slow/b');	# two connections; one stays idle
@rs = parallel($v->port, '/slow/c', '/slow/d');	# one reused, one new
like($rs[1], qr{path=/slow/d\n\z}, 'bounded pool: requests answered');
is(npeers(), 3, 'max-idle-per-server=1: only one of two connections was kept');
undef $v;

# --- idle timeout
$origin->clear;
$v = start_viaduct(conf => conf('server-idle-timeout=300ms'));
http_get($v->port, "http://$o/i1");
sleep 1;
http_get($v->port, "http://$o/i2");
@pe = peers();
isnt($pe[0], $pe[1], 'server-idle-timeout: the idle connection was closed');
undef $v;

# --- an origin that closes idle connections itself (nginx's keepalive_timeout),
# and one whose close comes with the last bytes of a response
my $idle_ms = 6000;
my $ko = Viaduct::Origin->new(raw => sub {
	my ($s, $record) = @_;
	my $buf = '';
	while (1) {
		my $rin = '';
		vec($rin, fileno($s), 1) = 1;
		return if $buf eq '' && !select(my $rout = $rin, undef, undef, $idle_ms / 1000);
		my $req = Viaduct::Origin::read_request($s, \$buf) // return;
		$record->($req);
		my ($path) = $req =~ m{^\S+ (\S+)};
		my $body = "path=$path\n";
		my $close = $path =~ m{-close} ? "Connection: close\r\n" : '';
		my $resp = "HTTP/1.1 200 OK\r\n${close}Content-Length: " . length($body) . "\r\n\r\n$body";
		if ($path =~ m{^/corked}) {
			# the response and the FIN in one segment: the hang-up is
			# known before the response has been read
			setsockopt($s, IPPROTO_TCP, TCP_CORK, 1) or die "TCP_CORK: $!";
			print $s $resp;
			return;
		}
		print $s $resp;
		return if $close;
	}
});
my $ka = "127.0.0.1:" . $ko->port;
sub kpeers { map { $_->[0] } $ko->log }
sub post { http_raw($_[0], "$_[2] http://$_[3]$_[1] HTTP/1.1\r\nHost: $_[3]\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc") }

$v = start_viaduct(conf => conf(''));
$p = $v->port;
$r = http_get($p, "http://$ka/corked");
like($r, qr{\r\n\r\npath=/corked\n\z}, 'a response that came with the origin\'s close: served');
$r = post($p, '/after-corked', 'POST', $ka);
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\npath=/after-corked\n\z}s,
    'the next POST: 200 (the closed connection was not pooled, so it did not fail under the POST)');
@pe = kpeers();
is(scalar @pe, 2, '... the origin got it');
isnt($pe[1], $pe[0], '... on a new connection');

# RFC 9112 §9.3.1: a request that could not be sent again takes only a
# connection idle for less than 2 s; an idempotent one takes any.  The
# origin by name is another pool key: a second idle connection.
$ko->clear;
my $kn = "localhost:" . $ko->port;
http_get($p, "http://$ka/warm");
http_get($p, "http://$kn/warm-by-name");
sleep 2.5;
$r = post($p, '/late-post-close', 'POST', $ka);
like($r, qr{\r\n\r\npath=/late-post-close\n\z}, 'POST after the pooled connection idled 2.5 s: answered');
$r = post($p, '/late-put', 'PUT', $kn);
like($r, qr{\r\n\r\npath=/late-put\n\z}, 'PUT with a body after 2.5 s: answered');
$r = http_get($p, "http://$ka/late-get");
like($r, qr{\r\n\r\npath=/late-get\n\z}, 'GET after 2.5 s: answered');
$r = post($p, '/soon-post', 'POST', $ka);
like($r, qr{\r\n\r\npath=/soon-post\n\z}, 'POST right after the GET: answered');
@pe = kpeers();
is(scalar @pe, 6, 'the origin saw each request once');
ok($pe[2] ne $pe[0] && $pe[2] ne $pe[1], 'the late POST went out on a new connection, not the one idle for 2.5 s');
ok($pe[3] ne $pe[1] && $pe[3] ne $pe[2], 'so did the late PUT with a body (it cannot be sent again either)');
is($pe[4], $pe[0], 'the late GET reused the connection idle for 2.5 s');
is($pe[5], $pe[0], 'a POST reuses a connection idle for less than 2 s');
undef $v;

# serialize-connections=yes: such a request does not wait for the old
# connection it will not take, it opens its own at once
$ko->clear;
$v = start_viaduct(conf => conf('log-level=debug', "/ip proxy\nset serialize-connections=yes\n"));
http_get($v->port, "http://$ka/warm");
sleep 2.5;
$r = post($v->port, '/late-serial', 'POST', $ka);
like($r, qr{\r\n\r\npath=/late-serial\n\z}, 'serialize-connections: the late POST answered');
@pe = kpeers();
isnt($pe[1], $pe[0], '... on a new connection');
my $elog = slurp("$v->{dir}/error.log") // '';
like($elog, qr{pooled connection to 127\.0\.0\.1 idle for \d+ ms: a new one for POST}, '... the log says why');
unlike($elog, qr{serialize-connections: waiting}, '... without waiting for the connection it declined');
undef $v;

# --- src-address binds outgoing connections
$origin->clear;
$v = start_viaduct(conf => conf('', "/ip proxy\nset src-address=127.0.0.2\n"));
$r = http_get($v->port, "http://$o/src");
like($r, qr{path=/src\n\z}, 'src-address: answered');
like((peers())[0], qr{^127\.0\.0\.2:\d+\z}, 'src-address: the origin saw 127.0.0.2');
undef $v;

# --- an empty chunked body de-chunked for 1.0 clients leaves the origin
# connection poolable (its framing bytes were once taken twice)
$origin->clear;
$v = start_viaduct(conf => conf(''));
for my $k (1 .. 3) {
	$r = http_raw($v->port, "GET http://$o/emptychunked/$k HTTP/1.0\r\n\r\n");
	like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\n\z}s, "empty chunked body to a 1.0 client ($k)");
}
is(npeers(), 1, 'the three on one origin connection');
undef $v;

done_testing();
