#!/usr/bin/perl
# The origin side: keep-alive pool (reuse, per-origin bound, idle timeout),
# retry on a fresh connection only where safe, max-server-connections
# queueing, src-address.  The origin records the peer of every request, so
# "same connection" is an assertion on its address:port.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
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

# --- src-address binds outgoing connections
$origin->clear;
$v = start_viaduct(conf => conf('', "/ip proxy\nset src-address=127.0.0.2\n"));
$r = http_get($v->port, "http://$o/src");
like($r, qr{path=/src\n\z}, 'src-address: answered');
like((peers())[0], qr{^127\.0\.0\.2:\d+\z}, 'src-address: the origin saw 127.0.0.2');
undef $v;

done_testing();
