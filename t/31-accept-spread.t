#!/usr/bin/perl
# Connections spread over the workers.  EPOLLEXCLUSIVE wakes the same waiter
# again and again, so without a correction one worker takes a whole burst
# (and the latency of everything on it).  A burst of 40 connections opened as
# fast as the client can must end up close to evenly on 2 workers, and a
# second burst must go mostly to whichever worker has fewer.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use Test::More;
use Viaduct::Test;

my $v = start_viaduct();	# default_conf(): workers=2
my $port = $v->port;
my $ctl = viaductctl_bin();

sub monitor {
	my ($st, $out) = run_cmd([$ctl, '-f', $v->{conf}, 'monitor', '--json', '--workers']);
	return $st == 0 ? decode_json($out) : undef;
}

sub per_worker {
	my ($m, $f) = @_;
	return [ map { $_->{$f} } sort { $a->{slot} <=> $b->{slot} } @{ $m->{workers} } ];
}

# Open n connections at once; wait until all are accepted; the open
# client connections of each worker.
sub burst {
	my ($n, $socks) = @_;
	my $before = monitor()->{accepted};
	for (1 .. $n) {
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
		    Proto => 'tcp', Timeout => 5) or die "connect: $!";
		push @$socks, $s;
	}
	my $m = wait_until(sub { my $m = monitor(); $m && $m->{accepted} >= $before + $n ? $m : undef }, 20);
	ok($m, "burst of $n: every connection accepted") or return;
	return per_worker($m, 'client-connections');
}

# both workers serving (a worker still starting up takes no connection, and
# its sibling rightly takes them all meanwhile)
ok($v->wait_log(qr/worker 0 serving.*\n(?s:.*)worker 1 serving|worker 1 serving.*\n(?s:.*)worker 0 serving/),
    'both workers are serving');
my $m = monitor();
is(scalar @{ $m->{workers} // [] }, 2, 'two workers') or BAIL_OUT('no monitor');

my @socks;
my $c = burst(40, \@socks);
is($c->[0] + $c->[1], 40, 'burst 1: 40 open client connections in all');
cmp_ok(abs($c->[0] - $c->[1]), '<=', 10, "burst 1: spread evenly ($c->[0] / $c->[1], at most 10 apart)");

$c = burst(20, \@socks);
is($c->[0] + $c->[1], 60, 'burst 2: 60 open client connections in all');
cmp_ok(abs($c->[0] - $c->[1]), '<=', 10, "burst 2: still even ($c->[0] / $c->[1])");

# the connections work: one request on a connection of each end of the list
for my $s ($socks[0], $socks[-1]) {
	$s->autoflush(1);
	print $s "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	local $/;
	my $r = <$s>;
	like($r // '', qr{\AHTTP/1\.1 200 OK\r\n}, 'a spread connection is served');
}
close $_ for @socks;

# nobody stays paused: once the counts are even again both workers listen
# (a worker ahead pauses only until a sibling wakes it, or 1 ms)
ok(wait_until(sub { my $m = monitor(); $m && ($m->{accepting} // 0) == 2 }, 10),
    'accepting: both workers listen again');
my $one = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
    Timeout => 5);
print $one "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" if $one;
like($one ? do { local $/; <$one> } // '' : '', qr{\AHTTP/1\.1 200 OK\r\n}, 'and a new connection is served');
done_testing();
