#!/usr/bin/perl
# A worker killed with SIGKILL is replaced and the service goes on; a worker
# that crashes at start-up in a loop is respawned with a growing delay, so
# the master does not spin.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(sysconf);
use Test::More;
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

my $origin = Viaduct::Origin->new;
my $oport = $origin->port;

sub through {
	my ($p, $path) = @_;
	my $r = http_get($p, "http://127.0.0.1:$oport$path") // '';
	return $r =~ m{\AHTTP/1\.1 200 .*\r\n\r\nhello from origin: \Q$path\E\n\z}s;
}

# --- kill -9 of a worker -------------------------------------------------------
{
	my $v = start_viaduct();
	my $port = $v->port;
	ok(wait_until(sub { (() = $v->children) == 2 }), 'two workers');
	my @before = $v->children;
	ok(through($port, '/before'), 'serves');

	# a client keeps sending requests while one worker is killed
	my $res = $v->dir . '/load.result';
	my $kid = fork // die;
	if ($kid == 0) {
		my ($ok, $bad) = (0, 0);
		my $end = time + 60;
		while (!-e "$res.stop" && time < $end) {
			if (through($port, "/l$ok")) { $ok++ } else { $bad++ }
		}
		spew($res, "$ok $bad\n");
		POSIX::_exit(0);
	}
	sleep 0.3;
	my $victim = $before[0];
	kill 'KILL', $victim;
	my @after;
	ok(wait_until(sub { @after = $v->children;
	    @after == 2 && !grep { $_ == $victim } @after }, 5),
	    'a new worker replaced the killed one');
	ok((grep { $_ == $before[1] } @after), 'the other worker was left alone');
	ok(through($port, '/after'), 'a request succeeds after the respawn');
	sleep 0.3;
	spew("$res.stop", '');
	waitpid($kid, 0);
	my ($good, $bad) = split ' ', slurp($res) // '0 -1';
	cmp_ok($good, '>', 5, "requests kept flowing ($good)");
	# the one request the killed worker may have been serving can fail;
	# none of those served by the other worker or the new one may
	cmp_ok($bad, '<=', 1, "at most the killed worker's in-flight request failed ($bad)");
	like(slurp($v->errlog) // '', qr/worker \d+ pid $victim killed by signal 9 \(KILL\); respawning in 0 ms/,
	    'the death is logged with its signal');

	# the stats segment keeps the dead worker's counters (folded into retired)
	my ($st, $out) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'monitor', '--json']);
	is($st, 0, 'viaductctl monitor --json: exit 0');
	my ($acc) = $out =~ /"accepted": (\d+)/;
	cmp_ok($acc // 0, '>=', $good, 'accepted counts every request, the dead worker\'s too');
	is($v->stop, 0, 'stops with 0');
}

# --- a crash loop at start-up ---------------------------------------------------
{
	my $v = start_viaduct(env => { VIADUCT_TEST_CHILD_ABORT => 1 });
	my $hz = sysconf(POSIX::_SC_CLK_TCK()) || 100;
	sub cpu { my ($pid) = @_; my @f = split ' ', (slurp("/proc/$pid/stat") // '') =~ s/^.*\) //sr;
		return ($f[11] // 0) + ($f[12] // 0) }
	my $c0 = cpu($v->pid);
	sleep 3;
	my $c1 = cpu($v->pid);
	my $log = slurp($v->errlog) // '';
	my $n = () = $log =~ /killed by signal 6 \(ABRT\); respawning/g;
	cmp_ok($n, '>=', 4, "crashing workers are respawned ($n respawns)");
	# 2 workers, delays 0, 100, 200, 400, 800, 1600 ms: at most 7 each in 3 s
	cmp_ok($n, '<=', 16, 'but with a growing delay, not in a fork loop');
	like($log, qr/respawning in 800 ms/, 'the delay grows');
	cmp_ok(($c1 - $c0) / $hz, '<', 0.5, 'the master used little CPU meanwhile ('
	    . (($c1 - $c0) / $hz) . ' s)');
	ok(kill(0, $v->pid), 'the master is still running');
	is($v->stop, 0, 'and stops with 0 on TERM');
}

done_testing();
