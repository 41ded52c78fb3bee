#!/usr/bin/perl
# viaductctl cache-contents reads the index in chunks, each in a snapshot
# of its own, and writes between them: output that waits (a pipe to a pager
# nobody scrolls) holds no snapshot, whose pages no insert could reuse
# meanwhile (the map filled and nothing was stored until the pager quit).
# The listing is still whole and in key order across chunks.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX ();
use Test::More;
use Viaduct::Test;

my $ctl = viaductctl_bin();
(my $fill = $ctl) =~ s{src/viaductctl$}{t/ctl_cache_fill};
my $dir = tmpdir_keep();
my $now = time;
my @args = map { ("http://chunk.test/" . ('p' x 100) . "/$_", 10, $now, 0, $now + 3600) } 1 .. 3000;
my ($st, $out, $err) = run_cmd([$fill, "$dir/cache", @args], timeout => 120);
is($st, 0, '3,000 objects stored') or diag($err);
my $v = start_viaduct(dir => $dir, conf => default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=100MiB}r);

($st, $out, $err) = run_cmd([$ctl, '-f', $v->{conf}, 'cache-contents', '--json']);
my $list = eval { decode_json($out) } // [];
is(scalar @$list, 3000, 'the listing has every object, across chunks');
my %seen = map { $_->{uri} => 1 } @$list;
is(scalar keys %seen, 3000, '... each once');

# a reader that does not read: the listing blocks on its pipe, and the
# index shows no snapshot held by it meanwhile
pipe(my $r, my $w) or die "pipe: $!";
my $pid = fork // die "fork: $!";
if ($pid == 0) {
	close $r;
	open(STDOUT, '>&', $w) or POSIX::_exit(127);
	exec $ctl, '-f', $v->{conf}, 'cache-contents' or POSIX::_exit(127);
}
close $w;
ok(wait_until(sub { (slurp("/proc/$pid/wchan") // '') =~ /pipe_w|wait_woken|pipe/ }, 10),
    'cache-contents blocks writing to a pipe nobody reads');
($st, $out) = run_cmd(['mdb_stat', '-rr', "$dir/cache"]);
my @held = grep { /^\s*$pid\s+\S+\s+\d+/ } split /\n/, $out;
is(scalar @held, 0, '... holding no read snapshot meanwhile') or diag($out);
1 while sysread($r, my $b, 65536);
waitpid($pid, 0);
is($?, 0, 'then it finishes');
is($v->stop, 0, 'stops cleanly');
done_testing();
