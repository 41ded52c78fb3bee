#!/usr/bin/perl
# Cumulative statistics and the cache-used gauge (issue 6, DESIGN.md
# "Shared state").  The cache manager keeps a snapshot of the counters in
# the LMDB environment (every few seconds and at stop), so that
# `viaductctl monitor` shows since-install totals (total-*, and "total" in
# --json) beside the since-start figures: they add up across a restart and
# are not counted twice across a reload (which restarts the manager but
# keeps the stats segment).  cache-used is the store's exact size, kept by
# every insert and delete: it follows inserts and a purge without waiting
# for the manager's next pass.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use POSIX qw(strftime);
use Viaduct::Test;
use Viaduct::Origin;

my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	my $b = substr("$path " x 3000, 0, 10240);
	return "HTTP/1.1 200 OK\r\nDate: " . strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime) .
	    "\r\nCache-Control: max-age=3600\r\nContent-Length: 10240\r\n\r\n$b";
});
my $base = 'http://127.0.0.1:' . $o->port;

my $conf = default_conf();
$conf =~ s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=unlimited};

sub get { my ($v, $p) = @_; my $r = http_get($v->port, "$base$p") // ''; $r =~ m{^HTTP/1\.1 200 } && length($r) > 10240 }

# (live figures, since-install figures) from monitor --json
sub monitor {
	my ($v) = @_;
	my ($st, $out) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'monitor', '--json']);
	my ($tot) = $out =~ /"total": \{([^}]*)\}/;
	$out =~ s/, "total": \{[^}]*\}//;
	return ({ $out =~ /"([a-z-]+)": (\d+)/g }, { ($tot // '') =~ /"([a-z-]+)": (\d+)/g });
}

sub manager { my ($v) = @_; grep { (slurp("/proc/$_/comm") // '') =~ /^viaduct-cache$/ } $v->children }

my $dir = tmpdir_keep();
my $v = start_viaduct(dir => $dir, conf => $conf);
ok(get($v, "/t/$_"), "miss /t/$_") for 1 .. 5;
ok(get($v, "/t/$_"), "hit /t/$_") for 1 .. 2;
my ($live, $tot) = monitor($v);
is($live->{requests}, 7, 'since start: 7 requests');
is($tot->{requests}, 7, 'since install: the same 7 on a new cache');
is($tot->{hits}, 2, 'since install: 2 hits');
ok(!exists $tot->{'cache-used'}, 'gauges are not in the totals');

# cache-used: 5 objects of 10 KiB and their records, without waiting for a pass
my $used = 0;
ok(wait_until(sub { $used = (monitor($v))[0]{'cache-used'} // 0; $used >= 5 * 10240 }, 10),
    'cache-used counts the 5 stored objects');
cmp_ok($used, '<', 5 * (10240 + 1024), 'and their records (under 1 KiB each)');
my ($pst) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'purge', "$base/t/5"]);
is($pst, 0, 'viaductctl purge one object');
my $after = $used;
ok(wait_until(sub { $after = (monitor($v))[0]{'cache-used'} // 0; $after < $used }, 10),
    'cache-used goes down after the purge');
cmp_ok($used - $after, '>=', 10240, 'by at least the object\'s body');
cmp_ok($used - $after, '<', 10240 + 1024, 'and not more than the object');

my ($st, $text) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'monitor']);
like($text, qr/^\s+total-requests: 7$/m, 'monitor (text) shows total-requests');
like($text, qr/^\s+total-hits: 2$/m, 'and total-hits');

# a reload restarts the cache manager but keeps the segment: no double count
my ($cm) = manager($v);
$v->signal('HUP');
ok(wait_until(sub { my ($n) = manager($v); $n && $n != $cm }, 20), 'a reload starts a new cache manager');
my ($ncm) = manager($v);
ok($v->wait_log(qr/cache manager pid $ncm: cache manager started/), 'which has started');
ok(get($v, '/t/1'), 'a hit after the reload');
($live, $tot) = monitor($v);
is($live->{requests}, 8, 'since start: 8');
is($tot->{requests}, 8, 'since install: 8 (the new manager did not count the segment twice)');

# restart: the new segment starts at 0, the totals go on
is($v->stop, 0, 'viaduct stops (the manager writes the totals last)');
undef $v;
$v = start_viaduct(dir => $dir, conf => $conf);
($live, $tot) = monitor($v);
is($live->{requests} // 0, 0, 'after a restart: 0 requests since start');
is($tot->{requests}, 8, 'and 8 since install');
ok(get($v, "/t/$_"), "after the restart: /t/$_") for 1 .. 3;
($live, $tot) = monitor($v);
is($live->{requests}, 3, 'since start: 3');
is($live->{hits}, 3, 'all hits (the cache is warm)');
is($tot->{requests}, 11, 'since install: 8 + 3');
is($tot->{hits}, 6, 'hits since install: 3 + 3');
ok($live->{'cache-used'} > 0 || wait_until(sub { ((monitor($v))[0]{'cache-used'} // 0) > 0 }, 10),
    'cache-used is known right after a restart (no pass needed)');
is($v->stop, 0, 'viaduct stops');
undef $v;
$v = start_viaduct(dir => $dir, conf => $conf);
($live, $tot) = monitor($v);
is($tot->{requests}, 11, 'a second restart keeps 11');
is($v->stop, 0, 'viaduct stops');

done_testing();
