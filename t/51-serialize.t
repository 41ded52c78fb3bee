#!/usr/bin/perl
# serialize-connections (RouterOS): with it on, requests from several
# clients for one origin wait, first in first out, for the connection that
# is busy rather than each opening its own; a waiter gives up after 5 s and
# opens one.  The origin records the peer address:port of every request, so
# "one connection" is an assertion on it.  The origin holds its answers
# until the test creates a file, and viaduct's debug log says when a
# request starts waiting, so the order of events does not depend on timing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

my $dir = tmpdir_keep();
my $go = "$dir/go";
my $origin = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	if ($path =~ m{/held/}) {	# until the test says go
		sleep 0.02 until -e $go;
	}
	my $close = $path =~ m{/close/} ? "Connection: close\r\n" : '';
	my $body = "path=$path\n";
	return "HTTP/1.1 200 OK\r\n${close}Content-Length: " . length($body) . "\r\n\r\n$body";
});
my $o = "127.0.0.1:" . $origin->port;

sub peers { map { $_->[0] } $origin->log }
sub paths { map { $_->[1] =~ m{^\S+ (\S+)} ? $1 : '' } $origin->log }
sub npeers { my %h = map { $_ => 1 } peers(); scalar keys %h }

sub conf {
	return Viaduct::Test::default_conf() =~ s/log-level=info/log-level=debug/r .
	    "set workers=1\n/ip proxy\nset $_[0]\n";
}

sub send_req {
	my ($port, $path) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
	    Timeout => 5) or die "connect: $!";
	$s->autoflush(1);
	print $s "GET http://$o$path HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n";
	return $s;
}
sub read_all { my ($s) = @_; local $/; my $r = <$s> // ''; close $s; $r }
sub waiting { my ($v) = @_; my @m = (slurp($v->errlog) // '') =~ /serialize-connections: waiting/g; scalar @m }

# ----- on: five clients, one origin connection, in the order they came
unlink $go;
my $v = start_viaduct(conf => conf('serialize-connections=yes'));
my @s = (send_req($v->port, '/held/1'));
ok(wait_until(sub { scalar($origin->log) == 1 }, 10), 'the first request reached the origin');
for my $i (2 .. 5) {
	push @s, send_req($v->port, "/held/$i");
	ok(wait_until(sub { waiting($v) == $i - 1 }, 10), "request $i waits for the busy connection");
}
is(scalar($origin->log), 1, 'while the first is answered, the origin has seen only it');
spew($go, '');
my @r = map { read_all($_) } @s;
like($r[$_ - 1], qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\npath=/held/$_\n\z}s, "client $_ answered") for 1 .. 5;
is_deeply([ paths() ], [ map { "/held/$_" } 1 .. 5 ], 'the origin got the five requests in the order the clients sent them');
is(npeers(), 1, 'all five over one origin connection');
unlike(slurp($v->errlog) // '', qr/gave up/, 'nobody had to give up');
undef $v;

# ----- off: the same five open connections of their own
$origin->clear;
unlink $go;
$v = start_viaduct(conf => conf('serialize-connections=no'));
@s = map { send_req($v->port, "/held/$_") } 1 .. 5;
ok(wait_until(sub { scalar($origin->log) == 5 }, 10), 'off: all five reached the origin at once');
spew($go, '');
@r = map { read_all($_) } @s;
like($r[$_ - 1], qr{path=/held/$_\n\z}, "off: client $_ answered") for 1 .. 5;
is(npeers(), 5, 'off: five origin connections');
is(waiting($v), 0, 'off: nobody waited');
undef $v;

# ----- a slow response: the waiter gives up after the bound, opens its own
$origin->clear;
unlink $go;
$v = start_viaduct(conf => conf('serialize-connections=yes'));
my $a = send_req($v->port, '/held/slow');
ok(wait_until(sub { scalar($origin->log) == 1 }, 10), 'the slow request reached the origin');
my $b = send_req($v->port, '/quick');
ok(wait_until(sub { waiting($v) == 1 }, 10), 'the next one waits for it');
ok(wait_until(sub { scalar($origin->log) == 2 }, 20), 'then reaches the origin while the slow one is held');
like(slurp($v->errlog) // '', qr/serialize-connections: gave up waiting for 127\.0\.0\.1/, 'after giving up');
my @pe = peers();
isnt($pe[1], $pe[0], 'on a connection of its own');
like(read_all($b), qr{\AHTTP/1\.1 200 OK\r\n.*path=/quick\n\z}s, 'and is answered');
spew($go, '');
like(read_all($a), qr{path=/held/slow\n\z}, 'the slow one is answered too');
undef $v;

# ----- an origin that closes: the waiter does not wait for a connection that is gone
$origin->clear;
unlink $go;
$v = start_viaduct(conf => conf('serialize-connections=yes'));
$a = send_req($v->port, '/held/close/1');
ok(wait_until(sub { scalar($origin->log) == 1 }, 10), 'a request whose answer closes the connection');
$b = send_req($v->port, '/after-close');
ok(wait_until(sub { waiting($v) == 1 }, 10), 'the next one waits for it');
spew($go, '');
like(read_all($a), qr{path=/held/close/1\n\z}, 'the first is answered (Connection: close)');
like(read_all($b), qr{path=/after-close\n\z}, 'the waiter is answered');
@pe = peers();
isnt($pe[1], $pe[0], 'on a new connection, the closed one being gone');
my @gaveup = (slurp($v->errlog) // '') =~ /gave up/g;
is(scalar @gaveup, 0, 'without giving up');
undef $v;

done_testing();
