#!/usr/bin/perl
# A full store (issue 6: "MDB_MAP_FULL and ENOSPC evict and retry, or skip
# the insert, and never fail the client's request").
#
# 1. ENOSPC: cache-path is a 2 MiB tmpfs that this test mounts (we are root),
#    with cache-on-disk=yes and max-cache-size=unlimited, so the cache manager
#    never evicts to size: the store fills the file system with body files
#    (256 KiB, sendfile) and inline objects (30 KiB, in data.mdb) until
#    writes fail with ENOSPC, and the inserting worker evicts the least
#    recently stored objects and retries.
# 2. MDB_MAP_FULL: max-cache-size=1MiB gives an 18 MiB map; the cache
#    manager is stopped (SIGSTOP) so that nothing but the workers' own
#    eviction makes room, and 24 MiB of inline objects go through.
# In both: every client gets its whole, correct response, the last objects
# are stored (a second request is a hit the origin never sees), the
# cache-full / cache-evicted counters moved, and viaduct keeps serving.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use POSIX qw(strftime);
use Viaduct::Test;
use Viaduct::Origin;

sub date { strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime(time)) }

# a body that says which object it is, so that a mix-up cannot pass
sub body { my ($path, $len) = @_; my $s = "$path " x (1 + int($len / (length($path) + 1))); substr($s, 0, $len) }

my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	my ($len) = $path =~ m{/(\d+)k/} or return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	my $b = body($path, $len * 1024);
	return "HTTP/1.1 200 OK\r\nDate: " . date() . "\r\nCache-Control: max-age=3600\r\n" .
	    'Content-Length: ' . length($b) . "\r\n\r\n$b";
});

sub conf {
	my ($cache) = @_;
	my $c = default_conf();
	$c =~ s{cache-path=\@DIR\@/cache}{$cache};
	return $c;
}

sub origin_count { my ($path) = @_; scalar grep { m{^GET \S*\Q$path\E } } $o->requests }

# GET through viaduct; (status, body, whole response)
sub get {
	my ($v, $path) = @_;
	my $r = http_get($v->port, 'http://127.0.0.1:' . $o->port . $path) // '';
	my ($head, $b) = split /\r\n\r\n/, $r, 2;
	my ($st) = ($head // '') =~ m{^HTTP/1\.1 (\d+)};
	return ($st // 0, $b // '', $head // '');
}

sub monitor {
	my ($v) = @_;
	my ($st, $out) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'monitor', '--json']);
	$out =~ s/, "total": \{[^}]*\}//;	# since install: not these
	my %m = $out =~ /"([a-z-]+)": (\d+)/g;
	return \%m;
}

# fetch every path, check each answer byte for byte; returns the number wrong
sub fill {
	my ($v, @paths) = @_;
	my $bad = 0;
	for my $p (@paths) {
		my ($len) = $p =~ m{/(\d+)k/};
		my ($st, $b) = get($v, $p);
		next if $st == 200 && $b eq body($p, $len * 1024);
		diag("$p: status $st, " . length($b) . ' bytes') if $bad++ < 3;
	}
	return $bad;
}

# --- 1. ENOSPC on a 2 MiB tmpfs ---------------------------------------------------------
{
	my $dir = tmpdir_keep();
	my $mnt = "$dir/cache";
	mkdir $mnt or die "$mnt: $!";
	my ($mst, undef, $merr) = run_cmd(['mount', '-t', 'tmpfs', '-o', 'size=2m,mode=0755', 'tmpfs', $mnt]);
	is($mst, 0, 'a 2 MiB tmpfs is mounted as cache-path') or BAIL_OUT("mount: $merr");
	# unmounted at the end, also when the test dies
	my $umount = bless sub { run_cmd(['umount', '-l', $mnt]) }, 'Viaduct::Guard';

	my $v = start_viaduct(dir => $dir,
	    conf => conf("cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=unlimited"));
	my @paths = map { ("/f1/256k/$_", "/f1/30k/$_") } 1 .. 12;	# 3.4 MiB into 2
	# access times have a resolution of one second: the first pair is made
	# strictly the oldest, so that eviction (least recently accessed) takes it
	my $bad = fill($v, @paths[0, 1]);
	select(undef, undef, undef, 1.1);
	$bad += fill($v, @paths[2 .. $#paths]);
	is($bad, 0, '24 responses (3.4 MiB) through a 2 MiB store: each whole and correct');
	my ($df) = grep { /\Q$mnt\E/ } split /\n/, (run_cmd(['df', '-k', $mnt]))[1];
	note("after the fill: $df");
	my $m = monitor($v);
	cmp_ok($m->{'cache-full'} // 0, '>', 0, 'cache-full counts the inserts that found the disk full');
	cmp_ok($m->{'cache-evicted'} // 0, '>', 0, 'cache-evicted counts what was removed to make room');
	is(($m->{'inserts-successes'} // 0) + ($m->{'inserts-no-memory'} // 0) +
	    ($m->{'inserts-errors'} // 0), 24, 'every insert is counted once: stored, no-memory or error');
	cmp_ok($m->{'inserts-successes'} // 0, '>=', 20, 'and nearly all were stored, evicting older ones');
	note(join ' ', map { "$_=" . ($m->{$_} // '-') } qw(inserts-successes inserts-no-memory
	    inserts-errors cache-full cache-evicted cache-used));

	# the newest objects are in the store: served without the origin
	for my $p ('/f1/256k/12', '/f1/30k/12') {
		my $before = origin_count($p);
		my ($len) = $p =~ m{/(\d+)k/};
		my ($st, $b, $h) = get($v, $p);
		ok($st == 200 && $b eq body($p, $len * 1024) && $h =~ /^Age: /m &&
		    origin_count($p) == $before, "$p was stored after evictions: a hit");
	}
	my $n1 = origin_count('/f1/256k/1');
	my ($st1, $b1) = get($v, '/f1/256k/1');
	ok($st1 == 200 && $b1 eq body('/f1/256k/1', 256 * 1024) && origin_count('/f1/256k/1') == $n1 + 1,
	    'the oldest object was evicted: fetched from the origin again, whole');
	is(fill($v, map { "/f2/100k/$_" } 1 .. 10), 0, 'viaduct keeps serving and storing');
	is($v->stop, 0, 'viaduct stops cleanly');
	my $log = slurp($v->errlog) // '';
	unlike($log, qr/\[(crit|alert|emerg)\]/, 'no critical line in the error log');
}

# --- 2. MDB_MAP_FULL with the cache manager stopped ----------------------------------------
{
	my $dir = tmpdir_keep();
	my $v = start_viaduct(dir => $dir,
	    conf => conf("cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=1MiB"));
	my $log = $v->wait_log(qr/map (\d+) MiB/) // '';
	my ($map) = $log =~ /map (\d+) MiB/;
	is($map, 18, 'max-cache-size=1MiB: an 18 MiB map');
	my ($cm) = grep { (slurp("/proc/$_/comm") // '') =~ /^viaduct-cache$/ } $v->children;
	# stopped where it does not hold LMDB's write lock (its writes are short
	# but a stop inside one would block every insert): mdb_copy takes that
	# lock for a moment, so its finishing says the lock is free
	my $stopped = 0;
	for my $try (1 .. 20) {
		last unless $cm && kill('STOP', $cm);
		mkdir "$dir/copy";
		unlink "$dir/copy/data.mdb";
		my ($cst) = run_cmd(['mdb_copy', "$dir/cache", "$dir/copy"], timeout => 5);
		if (defined $cst && $cst == 0) { $stopped = 1; last }
		kill 'CONT', $cm;
		sleep 0.3;
	}
	ok($stopped, 'the cache manager is stopped (not in a write): only the workers make room');
	my @paths = map { "/m/60k/$_" } 1 .. 400;	# 24 MiB of inline objects into 18
	is(fill($v, @paths), 0, '400 inline responses (24 MiB) through an 18 MiB map: each correct');
	my $m = monitor($v);
	cmp_ok($m->{'cache-full'} // 0, '>', 0, 'cache-full: the map was full');
	cmp_ok($m->{'cache-evicted'} // 0, '>', 0, 'cache-evicted: objects were evicted to make room');
	is($m->{'inserts-successes'} // 0, 400, 'every object was stored (evict and retry)');
	is($m->{'inserts-no-memory'} // 0, 0, 'none skipped');
	my $before = origin_count('/m/60k/400');
	my ($st, $b, $h) = get($v, '/m/60k/400');
	ok($st == 200 && $h =~ /^Age: /m && origin_count('/m/60k/400') == $before,
	    'the last object is stored: a hit');
	kill 'CONT', $cm if $cm;
	ok(wait_until(sub { my $u = monitor($v)->{'cache-used'} // 0; $u > 0 && $u <= 1 << 20 }, 30),
	    'the cache manager, running again, brings the store within max-cache-size');
	is($v->stop, 0, 'viaduct stops cleanly');
}

done_testing();

package Viaduct::Guard;
sub DESTROY { $_[0]->() }
