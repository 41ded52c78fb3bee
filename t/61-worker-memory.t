#!/usr/bin/perl
# Resident memory per worker (issue 6 target: "under 16 MiB besides the
# shared map").  After cache traffic (misses, inline hits, body-file hits)
# each worker's and the cache manager's peak resident set (VmHWM) minus the
# pages of the shared cache map (data.mdb's mapping in /proc/PID/smaps) is
# under 16 MiB, and so is its private memory now (smaps_rollup
# Private_Clean + Private_Dirty).  The map's resident pages only grow while
# it stays mapped, so subtracting today's count from the peak removes no
# more than it held at the peak: an upper bound of the peak of everything
# else, the stats segment included (it is shared, but its pages are memory
# each process makes resident: once, walking the slots' pids through a
# read-only map read 128 KiB ahead around each slot, a 19 MB peak per
# worker at start and ~17 MB of the segment resident in every process).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(strftime);
use Viaduct::Test;
use Viaduct::Origin;

my $big = 'b' x (1 << 20);
my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	my $b = $path =~ /big/ ? $big : substr("$path " x 3000, 0, 20000);
	return "HTTP/1.1 200 OK\r\nDate: " . strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime) .
	    "\r\nCache-Control: max-age=3600\r\nContent-Length: " . length($b) . "\r\n\r\n$b";
});
my $base = 'http://127.0.0.1:' . $o->port;

# A sanitizer build carries ASan's shadow memory and free quarantine: its
# bound is three times ours (the segment check below is the same in both).
my $asan = (slurp(viaduct_bin()) // '') =~ /AddressSanitizer/;
my $bound = ($asan ? 48 : 16) * 1024;
note('a sanitizer build: bound 48 MiB') if $asan;

my $conf = default_conf();
$conf =~ s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=unlimited};
my $v = start_viaduct(conf => $conf);

my $bad = 0;
for my $round (1 .. 2) {		# misses, then hits
	for my $i (1 .. 150) {
		my $r = http_get($v->port, "$base/obj/$i") // '';
		$bad++ unless $r =~ m{^HTTP/1\.1 200 } && $r =~ /\r\n\r\n(.*)\z/s && length($1) == 20000;
	}
	for my $i (1 .. 4) {
		my $r = http_get($v->port, "$base/big/$i") // '';
		$bad++ unless $r =~ m{^HTTP/1\.1 200 } && $r =~ /\r\n\r\n(.*)\z/s && length($1) == 1 << 20;
	}
}
is($bad, 0, '308 requests (20 KB inline and 1 MiB body-file objects, misses then hits) answered whole');

sub kib { my ($text, $f) = @_; my ($n) = $text =~ /^\Q$f\E:\s+(\d+) kB/m; $n // -1 }

# resident kB of the mappings whose path matches re
sub map_rss {
	my ($pid, $re) = @_;
	my $sum = 0;
	for my $blk (split /(?=^[0-9a-f]+-[0-9a-f]+ )/m, slurp("/proc/$pid/smaps") // '') {
		my ($path) = $blk =~ /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s+(\S*)/ or next;
		$sum += kib($blk, 'Rss') if $path =~ $re;
	}
	return $sum;
}

my @kids = $v->children;
is(scalar @kids, 3, 'two workers and the cache manager');
for my $pid (@kids) {
	my $comm = slurp("/proc/$pid/comm") // '?';
	chomp $comm;
	my $st = slurp("/proc/$pid/status") // '';
	my $roll = slurp("/proc/$pid/smaps_rollup") // '';
	my ($hwm, $shared) = (kib($st, 'VmHWM'), map_rss($pid, qr{/data\.mdb$}));
	my $seg = map_rss($pid, qr{/run/stats$});
	my $private = kib($roll, 'Private_Clean') + kib($roll, 'Private_Dirty');
	note("$comm $pid: VmHWM $hwm kB, VmRSS " . kib($st, 'VmRSS') .
	    " kB, cache map $shared kB, stats segment $seg kB, private $private kB");
	cmp_ok($hwm, '>', 0, "$comm $pid: VmHWM read");
	cmp_ok($hwm - $shared, '<', $bound, "$comm $pid: peak RSS besides the cache map < 16 MiB");
	cmp_ok($seg, '<', 4096, "$comm $pid: under 4 MiB of the sparse stats segment resident (a page a slot)");
	cmp_ok($private, '<', $bound, "$comm $pid: private memory now < 16 MiB");
}
is($v->stop, 0, 'viaduct stops cleanly');

done_testing();
