#!/usr/bin/perl
# A store whose data fills its LMDB map (max-cache-size lowered below what
# is stored, or inserts that outran eviction): LMDB maps the file as it is,
# with no free page, and a delete needs pages too.  The map is given room
# over the data, so the cache manager evicts down to the new bound and new
# objects are stored again (it stayed stuck: nothing evicted, every insert
# "no memory", purge failed, across restarts).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

my $ctl = viaductctl_bin();
(my $fill = $ctl) =~ s{src/viaductctl$}{t/ctl_cache_fill};
my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	return "HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nContent-Length: 6\r\n\r\nfresh\n";
});
my $base = 'http://127.0.0.1:' . $o->port;

# 30 MiB of inline objects, straight into the store (map 64 MiB there)
my $dir = tmpdir_keep();
my $now = time;
my @args = map { ("http://fill.test/o$_", 100000, $now, 0, $now + 3600) } 1 .. 300;
my ($st, $out, $err) = run_cmd([$fill, "$dir/cache", @args], timeout => 120);
is($st, 0, 'the store holds 300 objects of 100 kB') or diag($err);

# max-cache-size=4MiB: a 24 MiB map, less than the data
my $v = start_viaduct(dir => $dir, conf => default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=4MiB}r);
sub monitor {
	my ($s, $o) = run_cmd([$ctl, '-f', $v->{conf}, 'monitor', '--json']);
	return eval { decode_json($o) } // {};
}
ok(wait_until(sub { my $m = monitor(); ($m->{'cache-used'} // 1e9) <= 4 << 20 }, 30),
    'the cache manager evicts down to max-cache-size');
cmp_ok(monitor()->{'cache-evicted'} // 0, '>', 200, 'most of the objects were evicted');
# (the first insert may meet the map being grown by another process:
# one of the next ones is stored)
http_get($v->port, "$base/new") for 1 .. 3;
cmp_ok(scalar(grep { m{^GET /new } } $o->requests), '<=', 2, 'new objects are stored again (a hit)');
($st, $out, $err) = run_cmd([$ctl, '-f', $v->{conf}, 'purge', '--match', 'fill\.test']);
is($st >> 8, 0, 'purge --match works') or diag($err);
is($v->stop, 0, 'stops cleanly');
done_testing();
