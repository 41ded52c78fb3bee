#!/usr/bin/perl
# The statistics segment is a sparse file of some 97 MiB: every slot has
# room for 3 x 16384 rule counters, and there are slots for 64 workers of
# four generations.  Only the pages that are written or read are ever
# backed (a read of a hole in a shared file mapping puts a zero page in the
# page cache), so readers must sum only the rules that exist and the slots
# the master handed out.  After viaductctl's views, run a few times, and a
# /metrics scrape, the file's pages in the page cache (util-linux fincore)
# stay far below its size, viaductctl monitor's peak RSS stays small, and
# the rule hits it reports are still right.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP qw(decode_json);
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

sub which { for my $d (split(/:/, $ENV{PATH} // ''), '/usr/bin', '/bin') { return "$d/$_[0]" if -x "$d/$_[0]" } undef }
my $fincore = which('fincore');
ok($fincore, 'fincore (util-linux) installed') or BAIL_OUT('no fincore');

my $o = Viaduct::Origin->new(handler => sub {
	my $b = "object\n";
	return "HTTP/1.1 200 OK\r\nContent-Length: " . length($b) . "\r\n\r\n$b";
});
my $op = $o->port;
my $ap = free_port();
my $v = start_viaduct(conf => default_conf() . "set admin-port=$ap\n" .
    "/ip proxy access\nadd path=/never action=deny\nadd action=allow\n" .
    "/ip proxy direct\nadd path=/never action=allow\n");
ok(wait_port($ap), 'admin port accepts');
my $ctl = viaductctl_bin();
my $stats = $v->dir . '/run/stats';

my $n = 6;
like(http_get($v->port, "http://127.0.0.1:$op/x$_") // '', qr{\AHTTP/1\.1 200 OK\r\n}, "request $_ served")
    for 1 .. $n;

for my $i (1 .. 3) {
	for my $cmd (['monitor'], ['monitor', '--json'], ['monitor', '--json', '--workers'],
	    ['inserts'], ['lookups'], ['connections'], ['rules'], ['metrics']) {
		my ($st, $out, $err) = run_cmd([$ctl, '-f', $v->{conf}, @$cmd]);
		is($st, 0, "viaductctl @$cmd (round $i)") or diag($err);
	}
}
my ($st, $out) = run_cmd([$ctl, '-f', $v->{conf}, 'rules', '--json']);
my $r = $st == 0 ? decode_json($out) : {};
is($r->{access}[1]{hits}, $n, "rules --json: the allow rule decided $n requests");
is($r->{access}[0]{hits}, 0, 'rules --json: the deny rule none');
my $m = http_raw($ap, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout => 5) // '';
like($m, qr/^viaduct_rule_hits_total\{list="access",index="1",line="\d+"\} $n$/m,
    "/metrics: the allow rule's $n hits");
like($m, qr/^viaduct_rule_hits_total\{list="direct",index="0",line="\d+"\} 0$/m,
    '/metrics: the direct rule, none');

# the page cache's view of the file: resident bytes and size
my ($fst, $fout, $ferr) = run_cmd([$fincore, '--bytes', '--noheadings', '--raw', '--output', 'RES,SIZE', $stats]);
my ($res, $size) = $fout =~ /^(\d+)\s+(\d+)\s*$/;
ok(defined $res, 'fincore reads the segment') or diag("$fout$ferr");
cmp_ok($size // 0, '>', 64 << 20, 'the segment is large (sparse): ' . ($size // 0) . ' bytes');
# the header, the counters of every slot (workers look at all of them:
# some 256 pages) and the first page of each rule list in use; all of it
# before sums stopped at the rules that exist: 97 MiB
cmp_ok($res // 1 << 40, '<=', 2 << 20, "after viaductctl and /metrics only ${\($res // '?')} bytes of it are in the page cache (at most 2 MiB)");

# viaductctl monitor's own peak RSS, read while it runs
my $pid = open(my $mon, '-|', $ctl, '-f', $v->{conf}, 'monitor', '--json', '--interval', '1') or die "monitor: $!";
my $line = <$mon>;
like($line // '', qr/^\{"status": "running"/, 'monitor --json --interval 1 printed a sample');
my ($hwm) = (slurp("/proc/$pid/status") // '') =~ /^VmHWM:\s+(\d+) kB/m;
kill 'TERM', $pid;
close $mon;
ok(defined $hwm, 'its VmHWM read');
note("viaductctl monitor --json: VmHWM ${\($hwm // '?')} kB");
cmp_ok($hwm // 1 << 30, '<=', 16 << 10, 'viaductctl monitor peaks under 16 MiB (the segment is not read through)');
done_testing();
