#!/usr/bin/perl
# A damaged index (one byte of a B-tree page, as a disk or a copy error
# makes): LMDB asserts in the cache manager's scan, for ever, and nothing
# is evicted or expired.  After three such deaths in a row the index is
# taken for damaged: removed, the cache starts empty, and a new worker
# generation opens the new one; the node goes on serving and caching.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

my $ctl = viaductctl_bin();
(my $fill = $ctl) =~ s{src/viaductctl$}{t/ctl_cache_fill};
my $o = Viaduct::Origin->new(handler => sub {
	return "HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nContent-Length: 6\r\n\r\nfresh\n";
});
my $base = 'http://127.0.0.1:' . $o->port;
my $dir = tmpdir_keep();
my $now = time;
my @args = map { ("http://damaged.test/" . ('d' x 200) . "/$_", 10, $now, 0, $now + 3600) } 1 .. 3000;
my ($st, $out, $err) = run_cmd([$fill, "$dir/cache", @args], timeout => 120);
is($st, 0, '3,000 objects stored') or diag($err);

# the flags of the last branch page: a value no page has
my $f = "$dir/cache/data.mdb";
open(my $fh, '+<:raw', $f) or die "$f: $!";
my $size = -s $f;
my @branch;
for (my $p = 2; ($p + 1) * 4096 <= $size; $p++) {
	seek($fh, $p * 4096 + 10, 0);
	read($fh, my $fl, 2);
	push @branch, $p if unpack('v', $fl) == 1;
}
ok(@branch >= 2, 'the index has branch pages (' . scalar(@branch) . ')');
seek($fh, $branch[-1] * 4096 + 10, 0);
print $fh "\xf4";
close $fh;

my $v = start_viaduct(dir => $dir, conf => default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=100MiB}r);
ok($v->wait_log(qr/cache manager .* 3 times in a row: the cache index in \Q$dir\E\/cache is taken for damaged and removed/, 30),
    'three deaths in a row: the index is removed, and the error log says why');
ok(wait_until(sub { (slurp($v->errlog) // '') =~ /removed.*\n(?s:.*)cache manager started/ }, 30),
    'a cache manager runs again');
http_get($v->port, "$base/after") for 1 .. 2;
is(scalar(grep { m{^GET /after } } $o->requests), 1, 'the node caches again (the second was a hit)');
is($v->stop, 0, 'stops cleanly');
done_testing();
