#!/usr/bin/perl
# viaductctl's views: monitor (RouterOS fields, --workers, --json,
# --interval), inserts and lookups, and one clear line when not running.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use Viaduct::Test;
use Viaduct::Origin;

my $json = JSON::PP->new;
my $origin = Viaduct::Origin->new;
my $op = $origin->port;
my $ctl = viaductctl_bin();

my $v = start_viaduct();
my $cf = $v->{conf};
my $n = 5;
my $bytes = 0;
for my $i (1 .. $n) {
	my $r = http_get($v->port, "http://127.0.0.1:$op/m$i") // '';
	like($r, qr{^HTTP/1\.1 200 }, "request $i served");
	$bytes += length $r;
}

{
	my ($st, $out, $err) = run_cmd([$ctl, '-f', $cf, 'monitor', '--json', '--workers']);
	is($st, 0, 'monitor --json --workers: exit 0') or diag($err);
	my $m = eval { $json->decode($out) } // {};
	is($m->{status}, 'running', 'status running');
	is($m->{requests}, $n, "requests = $n");
	is($m->{hits}, 0, 'hits = 0 (no cache yet)');
	is($m->{'hit-ratio'}, 0, 'hit-ratio 0');
	is($m->{'sent-to-clients'}, $bytes, 'sent-to-clients = the bytes the clients received');
	is($m->{'client-connections'}, 0, 'no client connection open');
	cmp_ok($m->{'total-ram-used'}, '>', 0, 'total-ram-used from the processes');
	is($m->{'master-pid'}, $v->pid, 'master-pid');
	my @w = @{ $m->{workers} // [] };
	is(scalar @w, 2, 'two worker entries');
	is(join(',', sort { $a <=> $b } map { $_->{pid} } @w), join(',', $v->children),
	    'their pids are the master\'s children');
	my $sum = 0;
	$sum += $_->{requests} for @w;
	is($sum, $n, 'per-worker requests add up');
}
{
	my ($st, $out) = run_cmd([$ctl, '-f', $cf, 'monitor', '--workers']);
	is($st, 0, 'monitor: exit 0');
	for my $f (qw(status uptime client-connections server-connections requests hits
	    cache-used total-ram-used received-from-servers sent-to-clients
	    hits-sent-to-clients hit-ratio)) {
		like($out, qr/^\s*\Q$f\E: \S/m, "monitor shows $f");
	}
	like($out, qr/^\s*requests: $n$/m, 'requests in the table');
	like($out, qr/^\s*sent-to-clients: \d+KiB$/m, 'bytes in KiB (RouterOS units)');
	like($out, qr/^\s*uptime: (\d+[wdhm])*\d+s$/m, 'uptime in RouterOS time');
	is(scalar(() = $out =~ /^\s+\d+\s+\d+\s+\d+\s+\S+\s+\d+\s+\d+\s+\d+\s+\d+KiB$/mg), 2,
	    '--workers: one line per worker');
}
for my $what (qw(inserts lookups)) {
	my ($st, $out) = run_cmd([$ctl, '-f', $cf, $what, '--json']);
	is($st, 0, "$what --json: exit 0");
	my $m = eval { $json->decode($out) } // {};
	my @want = $what eq 'inserts' ?
	    qw(successes denied too-large no-memory errors) :
	    qw(successes expired no-expiration-info non-cacheable not-found denied);
	is(join(',', sort keys %$m), join(',', sort @want), "$what: RouterOS's counter names");
	is(scalar(grep { $m->{$_} != 0 } keys %$m), 0, "$what: all 0 before the cache exists");
	($st, $out) = run_cmd([$ctl, '-f', $cf, $what]);
	like($out, qr/^\s*successes: 0$/m, "$what: table");
}
{
	# --interval refreshes until interrupted
	my $pid = open(my $fh, '-|', $ctl, '-f', $cf, 'monitor', '--interval', '1') or die;
	my ($frames, $text) = (0, '');
	while (defined(my $l = <$fh>)) {
		$text .= $l;
		$frames++ if $l =~ /status: running/;
		last if $frames >= 2;
	}
	kill 'INT', $pid;
	close $fh;
	is($frames, 2, '--interval: a second frame');
	like($text, qr/\e\[H\e\[2J/, '--interval: refreshed in place');
}
is($v->stop, 0, 'stops');
{
	my ($st, $out, $err) = run_cmd([$ctl, '-f', $cf, 'monitor']);
	is($st >> 8, 1, 'not running: exit 1');
	like($err, qr/\Aviaductctl: viaduct is not running \(pid file .* is not locked\)\n\z/,
	    'not running: one clear line');
	is($out, '', 'and nothing on stdout');
	($st, $out, $err) = run_cmd([$ctl, '-f', $cf, 'monitor', '--interval', 'x']);
	is($st >> 8, 1, 'bad --interval: exit 1');
}
done_testing();
