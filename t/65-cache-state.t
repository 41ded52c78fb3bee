#!/usr/bin/perl
# The store's state file (src/cache_state.h).  The LMDB index is written
# without a flush per commit (no disk flush in a worker's event loop), which
# loses nothing when a process dies but cannot be trusted after the machine
# itself went down under viaduct.  The master writes "running <boot id>"
# before any process opens the store and "clean <boot id>" after a graceful
# stop; at start, "running" from another boot empties the store (logged),
# anything else keeps it warm.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use POSIX qw(strftime);
use File::Find;
use Viaduct::Test;
use Viaduct::Origin;

my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	my $tag = sprintf('%d%06d', $$, int(rand(1e6)));	# one per origin answer
	my $b = substr("$path origin-request-$tag " x 8000, 0, 100000);
	return "HTTP/1.1 200 OK\r\nDate: " . strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime) .
	    "\r\nCache-Control: max-age=3600\r\nContent-Length: 100000\r\n\r\n$b";
});
my $base = 'http://127.0.0.1:' . $o->port;

my $conf = default_conf();
$conf =~ s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=unlimited};

my $boot = slurp('/proc/sys/kernel/random/boot_id') // '';
chomp $boot;
like($boot, qr/^[0-9a-f-]{36}$/, 'this boot has an id');

my $dir = tmpdir_keep();
my $state = "$dir/cache/viaduct.state";

# the body of /p from the cache: which origin request filled it
sub fetch {
	my ($v, $p) = @_;
	my $r = http_get($v->port, "$base$p") // '';
	return undef unless $r =~ m{^HTTP/1\.1 200 } && $r =~ /\r\n\r\n(.*)\z/s && length($1) == 100000;
	my ($n) = $1 =~ /origin-request-(\d+)/;
	return $n;
}

sub body_files {
	my @f;
	find(sub { push @f, $File::Find::name if -f $_ }, "$dir/cache/bodies") if -d "$dir/cache/bodies";
	return grep { !m{/bodies/tmp/} } @f;
}

# kill -9 of the master and all its children: nothing runs at exit
sub kill_all {
	my ($v) = @_;
	my @c = $v->children;
	kill 'KILL', $v->pid, @c;
	waitpid($v->pid, 0);
	$v->{pid} = undef;
	ok(wait_until(sub { !grep { alive($_) } @c }, 20), 'every process of the instance is gone');
}

my $v = start_viaduct(dir => $dir, conf => $conf);
my $first = fetch($v, '/a');
ok(defined $first, 'a miss fills /a');
is(fetch($v, '/a'), $first, 'the second request is a hit (same origin request)');
is(slurp($state), "viaduct-cache-state 1 running $boot\n",
    'while it runs the state file says running, with this boot');
is($v->stop, 0, 'a graceful stop');
is(slurp($state), "viaduct-cache-state 1 clean $boot\n", 'after it the store is marked clean');
ok(!-e "$state.tmp", 'no temp file is left behind');

$v = start_viaduct(dir => $dir, conf => $conf);
is(fetch($v, '/a'), $first, 'after a clean stop the first request is a hit');
is(slurp($state), "viaduct-cache-state 1 running $boot\n", 'running again');

kill_all($v);
is(slurp($state), "viaduct-cache-state 1 running $boot\n",
    'after kill -9 of every process the state still says running');
$v = start_viaduct(dir => $dir, conf => $conf);
is(fetch($v, '/a'), $first,
    'running from this boot (processes died, the system did not): the store is kept');
unlike(slurp($v->errlog) // '', qr/system went down/, 'and nothing is said about it');

kill_all($v);
my @old = body_files();
cmp_ok(scalar @old, '>=', 1, 'the large body is in a body file');
# as if the machine had gone down: the state was written in another boot
spew($state, "viaduct-cache-state 1 running 00000000-0000-0000-0000-000000000000\n");
$v = start_viaduct(dir => $dir, conf => $conf);
like($v->wait_log(qr/system went down/) // '',
    qr/the system went down while the cache in \Q$dir\E\/cache was in use \(boot 0{8}-0{4}-0{4}-0{4}-0{12}\): its index may not have reached the disk, so the cache starts empty/,
    'running from another boot: the error log says the store is emptied, and why');
my $again = fetch($v, '/a');
ok(defined $again && $again ne $first, 'the first request is a miss: the origin was asked again');
is(fetch($v, '/a'), $again, 'and the new object is stored and hit');
my ($st, $list) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'cache-contents', '--json']);
my @uris = $list =~ /"uri": "([^"]*)"/g;
is_deeply(\@uris, ["$base/a"], 'the index holds only the object stored since');
# the old body files are orphans now: the cache manager's sweep (after its
# grace period, t/unit/cachemgr.c) removes them
is(slurp($state), "viaduct-cache-state 1 running $boot\n", 'the state is running in this boot');

# a state file that is not ours is left as it is read: the store is kept
is($v->stop, 0, 'a graceful stop');
spew($state, "something else\n");
$v = start_viaduct(dir => $dir, conf => $conf);
is(fetch($v, '/a'), $again, 'an unreadable state file keeps the store');
is(slurp($state), "viaduct-cache-state 1 running $boot\n", 'and is rewritten');
is($v->stop, 0, 'a graceful stop');

# a reload onto another store marks that one running before it is used
{
	my $d2 = tmpdir_keep();
	my $c0 = default_conf() =~ s{cache-path=\@DIR\@/cache}{cache-path=$d2/other cache-on-disk=yes}r;
	mkdir "$d2/other";
	spew("$d2/other/viaduct.state", "viaduct-cache-state 1 clean $boot\n");
	my $w = start_viaduct(conf => $c0);		# max-cache-size=none: no store
	$w->write_conf($c0 =~ s{cache-on-disk=yes}{cache-on-disk=yes max-cache-size=unlimited}r);
	$w->signal('HUP');
	ok($w->wait_log(qr/reloaded: generation 1/), 'reloaded onto a store');
	fetch($w, '/r');
	is(slurp("$d2/other/viaduct.state"), "viaduct-cache-state 1 running $boot\n",
	    'the store the reload switched to is marked running');
	$w->signal('HUP');		# workers that read the store exit
	ok($w->wait_log(qr/reloaded: generation 2/), 'reloaded again');
	fetch($w, '/r2');
	is($w->stop, 0, 'a graceful stop');
	is(slurp("$d2/other/viaduct.state"), "viaduct-cache-state 1 clean $boot\n", '... and clean after it');
	unlike(slurp($w->errlog) // '', qr/stale LMDB reader/,
	    'workers that exit give their LMDB reader slots back (none cleared as stale)');
}

done_testing();
