#!/usr/bin/perl
# The cache manager process (issues 2 and 6): a child of the master with its
# own name and no capabilities, respawned after kill -9, stopped after the
# workers; it clears the LMDB reader slots of killed processes (told by the
# master when a worker dies, and periodically), removes dead writers' temp
# files, keeps the store within max-cache-size (oldest first), and is only
# there when max-cache-size is not none.  Reader slots are read with
# lmdb-utils' mdb_stat -r; t/cachemgr_tool holds slots and fills the store.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use Viaduct::Test;

my $tool = (viaduct_bin() =~ s{/src/viaduct$}{}r) . '/t/cachemgr_tool';
ok(-x $tool, 't/cachemgr_tool is built') or BAIL_OUT("no $tool (make check)");
my ($mst) = run_cmd(['mdb_stat', '-V']);
is($mst, 0, 'mdb_stat (lmdb-utils) is installed') or BAIL_OUT('mdb_stat missing');

sub conf {
	my ($cache) = @_;
	my $c = default_conf();
	$c =~ s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache $cache};
	$c =~ s{log-level=info}{log-level=debug};
	return $c;
}

sub comm { my $c = slurp("/proc/$_[0]/comm") // ''; chomp $c; $c }
sub managers { my ($v) = @_; grep { comm($_) eq 'viaduct-cache' } $v->children }
sub workers { my ($v) = @_; grep { comm($_) ne 'viaduct-cache' } $v->children }

# pids in the store's reader table
sub readers {
	my ($dir) = @_;
	# (its exit status is not meaningful with -r: mdb_reader_list's sum of fputs)
	my (undef, $out) = run_cmd(['mdb_stat', '-r', $dir]);
	return () unless $out =~ /^Reader Table Status$/m;
	return $out =~ /^\s+(\d+)\s+[0-9a-f]+\s+\S+\s*$/mg;
}

# a process holding a read txn on the store; returns its pid once it holds it
sub hold {
	my ($dir) = @_;
	my $pid = open(my $fh, '-|', $tool, 'hold', $dir) // die "fork: $!";
	my $line = <$fh> // '';
	return ($pid, $fh, $line =~ /^ready (\d+)$/ ? $1 : 0);
}

sub count_re { my ($text, $re) = @_; my $n = () = $text =~ /$re/g; $n }

# --- cache-on-disk=yes: the process, its reader checks, respawn, stop ----------
{
	my $dir = tmpdir_keep();
	my $cache = "$dir/cache";
	# a temp body file of a writer that died before we started
	mkdir $_ for $cache, "$cache/bodies", "$cache/bodies/tmp";
	my $dead = fork // die;
	POSIX::_exit(0) if $dead == 0;
	waitpid($dead, 0);
	my $tmpf = "$cache/bodies/tmp/$dead.00000000000000ab";
	spew($tmpf, 'partial body');

	my $v = start_viaduct(dir => $dir,
	    conf => conf('cache-on-disk=yes max-cache-size=10MiB'));
	my $mpid = $v->pid;
	ok(wait_until(sub { (() = $v->children) == 3 }), 'two workers and the cache manager');
	my @cm = managers($v);
	is(scalar @cm, 1, 'exactly one child is named viaduct-cache');
	my $cm = $cm[0] // 0;
	my $log = $v->wait_log(qr/cache manager pid $cm: cache manager started/) // '';
	like($log, qr/master pid $mpid: cache manager started, pid $cm\b/,
	    'the master logs the cache manager it forked');
	like($log, qr/cache manager pid $cm: cache store \Q$cache\E: at most 10485760 bytes/,
	    'its own lines carry its role; it opened the store at cache-path');
	my $ps = proc_status($cm) // {};
	is($ps->{CapEff}, '0000000000000000', 'the cache manager has no capabilities');
	is($ps->{NoNewPrivs}, 1, 'and no_new_privs');
	ok(-s "$cache/data.mdb" && -e "$cache/lock.mdb", 'the LMDB environment is in cache-path');
	ok(wait_until(sub { (grep { $_ == $cm } readers($cache)) }), 'the cache manager holds a reader slot');
	ok(wait_until(sub { !-e $tmpf }), "a dead writer's temp file is removed");

	# a process killed while it holds a read txn; then a worker is killed too
	my ($hpid, $hfh, $ready) = hold($cache);
	is($ready, $hpid, 'the helper holds a read txn');
	ok((grep { $_ == $hpid } readers($cache)), 'its reader slot is listed by mdb_stat -r');
	kill 'KILL', $hpid;
	close $hfh;
	my ($w) = workers($v);
	kill 'KILL', $w;
	ok(wait_until(sub { !grep { $_ == $hpid } readers($cache) }, 20),
	    "the killed process's reader slot is cleared");
	$log = $v->wait_log(qr/cache manager pid $cm: reader check for dead child $w\b/) // '';
	like($log, qr/master pid $mpid: worker \d+ pid $w killed by signal 9/, 'the worker died');
	like($log, qr/cache manager pid $cm: reader check for dead child $w\b/,
	    'the master told the cache manager about the dead worker');
	like($log, qr/cache manager pid $cm: cleared 1 stale LMDB reader slot/, 'the clearing is logged');
	ok(wait_until(sub { (() = workers($v)) == 2 }), 'the worker was respawned');

	# no worker dies this time: the periodic check clears it
	my $cleared = count_re(slurp($v->errlog) // '', qr/cleared \d+ stale LMDB reader slot/);
	($hpid, $hfh, $ready) = hold($cache);
	ok($ready && (grep { $_ == $hpid } readers($cache)), 'a second helper holds a slot');
	kill 'KILL', $hpid;
	close $hfh;
	ok(wait_until(sub { !grep { $_ == $hpid } readers($cache) }, 30),
	    'its slot is cleared by the periodic check');
	cmp_ok(count_re(slurp($v->errlog) // '', qr/cleared \d+ stale LMDB reader slot/), '>', $cleared,
	    'and that is logged');

	# kill -9 of the cache manager itself
	my @wk = workers($v);
	kill 'KILL', $cm;
	my $cm2;
	ok(wait_until(sub { ($cm2) = managers($v); $cm2 && $cm2 != $cm }, 10),
	    'a new cache manager replaced the killed one');
	is_deeply([workers($v)], \@wk, 'the workers were left alone');
	like($v->wait_log(qr/cache manager pid $cm killed by signal 9 \(KILL\); respawning in 0 ms/) // '',
	    qr/cache manager pid $cm killed by signal 9/, 'its death is logged');
	ok(wait_until(sub { my @r = readers($cache); (grep { $_ == $cm2 } @r) && !grep { $_ == $cm } @r }),
	    "the new manager cleared the old one's reader slot at start");
	is(proc_status($cm2)->{CapEff}, '0000000000000000', 'the new one has no capabilities either');

	# graceful stop: the workers first, then the cache manager
	is($v->stop, 0, 'TERM: exit 0');
	$log = slurp($v->errlog) // '';
	my $last_worker = 0;
	while ($log =~ /worker \d+ pid \d+ generation \d+ exited with status 0/g) { $last_worker = pos $log }
	my $cm_stop = $log =~ /cache manager pid $cm2: TERM: stopping/g ? pos $log : -1;
	ok($last_worker > 0 && $cm_stop > $last_worker, 'the cache manager stopped after the last worker');
	like($log, qr/master pid $mpid: cache manager pid $cm2 exited with status 0/, 'and exited 0');
	ok(!alive($cm2), 'it is gone');
}

# --- cache-on-disk=no: the store under run-dir; eviction to max-cache-size ------
{
	my $dir = tmpdir_keep();
	my $store = "$dir/run/cache";
	mkdir $_ for "$dir/run", $store;
	# 200 objects of 4000 bytes, object 0 the least recently stored: ~830 KB
	my ($st) = run_cmd([$tool, 'fill', $store, 200, 4000]);
	is($st, 0, 'the store is filled beyond max-cache-size');
	my $v = start_viaduct(dir => $dir, conf => conf('max-cache-size=200KiB'));
	ok(wait_until(sub { (() = managers($v)) == 1 }), 'cache-on-disk=no: a cache manager too');
	ok(!-e "$dir/cache/data.mdb", 'cache-on-disk=no: nothing in cache-path');
	my $used;
	ok(wait_until(sub {
		my ($s, $out) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'monitor']);
		($used) = $out =~ /^\s*cache-used: (\d+)KiB$/m;
		defined $used && $used > 0 && $used <= 200;
	}, 20), 'cache-used is within max-cache-size (' . ($used // 'none') . ' KiB)');
	my (undef, $stat) = run_cmd(['mdb_stat', '-s', 'objects', $store]);
	my ($n) = $stat =~ /Entries: (\d+)/;
	ok(defined $n && $n > 0 && $n < 200, 'objects were evicted (' . ($n // '?') . ' left)');
	cmp_ok($n * 4000, '<=', 200 * 1024, 'what is left fits in max-cache-size');
	($st) = run_cmd([$tool, 'has', $store, 'http://fill.test/0']);
	is($st >> 8, 1, 'the least recently used object is gone');
	($st) = run_cmd([$tool, 'has', $store, 'http://fill.test/199']);
	is($st >> 8, 0, 'the most recently used object stays');
	like(slurp($v->errlog) // '', qr/cache manager pid \d+: cache: \d+ objects walked, \d+ bytes stored now; removed \d+ least recently used/,
	    'the eviction is logged');
	is($v->stop, 0, 'stops with 0');
}

# --- max-cache-size=none: no cache manager; a reload starts and stops it --------
{
	my $v = start_viaduct(conf => conf('max-cache-size=none'));
	ok(wait_until(sub { (() = $v->children) == 2 }), 'max-cache-size=none: two workers');
	sleep 0.3;
	is(scalar(managers($v)), 0, 'and no cache manager');
	unlike(slurp($v->errlog) // '', qr/cache manager/, 'nothing about one in the log');

	$v->write_conf(conf('max-cache-size=1MiB'));
	$v->signal('HUP');
	my $cm;
	ok(wait_until(sub { ($cm) = managers($v); $cm }), 'a reload with a cache size starts one');
	$v->write_conf(conf('max-cache-size=none'));
	$v->signal('HUP');
	ok(wait_until(sub { !alive($cm) && !managers($v) }), 'a reload back to none stops it');
	like($v->wait_log(qr/cache manager pid $cm exited with status 0/) // '',
	    qr/cache manager pid $cm exited with status 0/, 'it exited cleanly');
	sleep 0.3;
	is(scalar(managers($v)), 0, 'and it is not respawned');
	is($v->stop, 0, 'stops with 0');
}

# --- the master dies (kill -9): the cache manager sees EOF and exits ------------
{
	my $v = start_viaduct(conf => conf('max-cache-size=1MiB'));
	my $cm;
	ok(wait_until(sub { ($cm) = managers($v); $cm }), 'a cache manager');
	my @w = workers($v);
	kill 'KILL', $v->pid;
	ok(wait_until(sub { !alive($cm) }), 'it exits when the master is gone');
	ok(wait_until(sub { !grep { alive($_) } @w }), 'so do the workers');
	like(slurp($v->errlog) // '', qr/cache manager pid $cm: master went away, exiting/,
	    'and says why');
	$v->stop;	# reaps the killed master (its status is ours to ignore)
}

done_testing();
