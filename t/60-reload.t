#!/usr/bin/perl
# HUP: a good config takes effect with a new worker generation, a bad one is
# reported with FILE:LINE:COL and changes nothing, and 20 reloads under a
# steady stream of requests lose none of them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

my $origin = Viaduct::Origin->new;
my $oport = $origin->port;
my $v = start_viaduct();
my $port = $v->port;

sub through {
	my ($p, $path) = @_;
	my $r = http_get($p, "http://127.0.0.1:$oport$path") // '';
	return $r =~ m{\AHTTP/1\.1 200 .*\r\n\r\nhello from origin: \Q$path\E\n\z}s;
}
sub workers { my @c = $v->children; return @c }
sub disjoint { my ($a, $b) = @_; my %a = map { $_ => 1 } @$a; return !grep { $a{$_} } @$b }

ok(wait_until(sub { workers() == 2 }), 'two workers');
ok(through($port, '/a'), 'serves before any reload');

# --- a good change: a second port ------------------------------------------------
my @gen0 = workers();
my $port2 = free_port();
$v->write_conf(Viaduct::Test::default_conf() . "/viaduct\nset listen=127.0.0.1:$port2\n");
$v->signal('HUP');
ok($v->wait_log(qr/reloaded: generation 1, 2 workers, 2 listeners/), 'reload logged');
ok(wait_until(sub { my @n = workers(); @n == 2 && disjoint(\@gen0, \@n) }),
    'a new generation of two workers replaced the old one');
ok(wait_port($port2), 'the new port accepts');
ok(through($port2, '/b'), 'and serves through the proxy');
ok(through($port, '/c'), 'the kept port still serves');
my $st = slurp($v->dir . '/run/stats');
ok(defined $st && length $st > 0, 'the stats segment exists');

# --- a bad change: reported, nothing changes ------------------------------------
my @gen1 = workers();
$v->write_conf(Viaduct::Test::default_conf() .
    "/viaduct\nset listen=127.0.0.1:$port2\nset frobnicate=yes\n");
my $cf = $v->{conf};
$v->signal('HUP');
my $log = $v->wait_log(qr/has errors; keeping the running configuration/);
ok($log, 'a bad config is refused and says so');
like($log // '', qr/\Q$cf\E:8:\d+: /, 'the error log names FILE:LINE:COL of the bad line');
sleep 0.3;
is_deeply([workers()], [@gen1], 'the same workers keep serving');
ok(through($port, '/d') && through($port2, '/e'), 'both ports still serve');

# --- a user that does not exist: refused (a restart would fail) ---------------------
$v->write_conf(Viaduct::Test::default_conf() .
    "/viaduct\nset listen=127.0.0.1:$port2 user=nosuchuser-vd\n");
$v->signal('HUP');
ok($v->wait_log(qr/reload: user nosuchuser-vd does not exist; keeping the running configuration/),
    'a reload naming an unknown user is refused and says so');
is_deeply([workers()], [@gen1], 'the same workers keep serving');

# --- a removed port is closed -----------------------------------------------------------
$v->write_conf(Viaduct::Test::default_conf());
$v->signal('HUP');
ok($v->wait_log(qr/reloaded: generation 2, 2 workers, 1 listeners/), 'reload removing a port');
ok(wait_until(sub { !IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port2,
    Proto => 'tcp') }), 'the removed port is closed once the old generation is gone');
ok(through($port, '/f'), 'the kept port still serves');

# --- 20 reloads under load ----------------------------------------------------------
my $res = $v->dir . '/load.result';
my $kid = fork // die;
if ($kid == 0) {
	# told to stop by a file, not a signal: a signal would cut the request
	# in flight short and count as a failure of the proxy
	my ($ok, $bad) = (0, 0);
	my $end = time + 60;	# safety net only
	while (!-e "$res.stop" && time < $end) {
		if (through($port, "/load$ok")) { $ok++ } else { $bad++ }
	}
	spew($res, "$ok $bad\n");
	POSIX::_exit(0);
}
sleep 0.2;
# signals of one kind coalesce: wait for each reload before the next HUP
my $done = 0;
for my $i (1 .. 20) {
	$v->signal('HUP');
	my $g = 2 + $i;
	$done++ if $v->wait_log(qr/reloaded: generation $g,/, 10);
	sleep 0.1;
}
is($done, 20, 'all 20 reloads happened');
sleep 0.3;
spew("$res.stop", '');
waitpid($kid, 0);
my ($good, $bad) = split ' ', slurp($res) // '0 -1';
cmp_ok($good, '>', 20, "requests kept flowing during the reloads ($good)");
is($bad, 0, 'no request failed during 20 reloads');
ok(wait_until(sub { workers() == 2 }, 30), 'only the last generation is left');

is($v->stop, 0, 'stops with 0');
done_testing();
