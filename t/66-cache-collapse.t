#!/usr/bin/perl
# Collapsed forwarding (issue 6): concurrent misses for one URL, in any of
# the 2 workers, make one origin fetch.  The origin holds every answer
# until the test opens a gate, so "concurrent" does not depend on timing:
# the 20 requests are all parked (viaductctl's collapsed-waits says so)
# before the one fetch is answered.  Then: all 20 get the same bytes and
# the origin saw one request; a no-store answer sends every waiter to the
# origin itself, and the next burst for it goes to the origin at once
# (hit for pass); a fetching worker killed with SIGKILL leaves the other
# worker's waiters to fetch for themselves.  The connections are opened
# and counted per worker (accepted) before any request is sent, so the
# test knows the wait crosses workers.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use POSIX qw(strftime);
use IO::Socket::INET;
use JSON::PP;
use Viaduct::Test;
use Viaduct::Origin;

my $N = 20;
my $dir = tmpdir_keep();
my $gate = "$dir/gate";

sub date { strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime(time)) }

my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	sleep 0.02 until -e $gate;
	my $cc = $path =~ /nostore/ ? 'no-store' : 'max-age=300';
	my $body = "$path fetched by origin process $$\n";
	return "HTTP/1.1 200 OK\r\nDate: " . date() . "\r\nCache-Control: $cc\r\n" .
	    'Content-Length: ' . length($body) . "\r\n\r\n$body";
});
my $op = $o->port;

my $v = start_viaduct(dir => $dir, conf => default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=unlimited}r);
my $port = $v->port;
my $ctl = viaductctl_bin();

sub monitor {
	my ($st, $out, $err) = run_cmd([$ctl, '-f', $v->{conf}, 'monitor', '--json', '--workers']);
	return $st == 0 ? decode_json($out) : undef;
}

# per worker slot: counter f
sub per_worker {
	my ($m, $f) = @_;
	return { map { $_->{slot} => $_->{$f} } @{ $m->{workers} } };
}

sub origin_count {
	my ($path) = @_;
	return scalar grep { m{^GET \Q$path\E } } $o->requests;
}

# Open n connections and wait until the workers have accepted them all;
# returns the sockets and how many each worker slot took.
sub open_clients {
	my ($n) = @_;
	my $m0 = monitor();
	my $a0 = per_worker($m0, 'accepted');
	my ($m, @s);
	# one at a time, each accepted before the next: a burst can go to one
	# worker whole (EPOLLEXCLUSIVE), one by one they follow the workers'
	# re-arming, which is what spreads a busy server's connections
	for my $i (1 .. $n) {
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
		    Proto => 'tcp', Timeout => 5) or die "connect: $!";
		$s->autoflush(1);
		push @s, $s;
		$m = wait_until(sub { my $m = monitor(); $m && $m->{accepted} >= $m0->{accepted} + $i ? $m : undef }, 20);
	}
	my $a = per_worker($m, 'accepted');
	return (\@s, { map { $_ => $a->{$_} - ($a0->{$_} // 0) } keys %$a });
}

# Send one GET on each socket, then read every answer to EOF.
sub send_all {
	my ($socks, $path) = @_;
	print $_ "GET http://127.0.0.1:$op$path HTTP/1.1\r\nHost: 127.0.0.1:$op\r\nConnection: close\r\n\r\n"
	    for @$socks;
}

sub read_all {
	my ($socks) = @_;
	my @buf = ('') x @$socks;
	my %open = map { $_ => 1 } 0 .. $#$socks;
	my $end = time + 60;
	while (%open && time < $end) {
		my $rin = '';
		vec($rin, fileno($socks->[$_]), 1) = 1 for keys %open;
		next unless select(my $rout = $rin, undef, undef, 1) > 0;
		for my $i (keys %open) {
			next unless vec($rout, fileno($socks->[$i]), 1);
			my $n = sysread($socks->[$i], $buf[$i], 65536, length $buf[$i]);
			delete $open{$i} if !$n;
		}
	}
	close $_ for @$socks;
	return @buf;
}

sub body { my ($r) = @_; return $r =~ /\r\n\r\n(.*)\z/s ? $1 : undef }

# Wait until `want` requests are parked (collapsed-waits grew by want).
sub wait_parked {
	my ($m0, $want) = @_;
	return wait_until(sub { my $m = monitor(); $m && $m->{'collapsed-waits'} >= $m0->{'collapsed-waits'} + $want ? $m : undef }, 20);
}

ok(defined monitor(), 'viaductctl monitor --json --workers');

# --- 20 clients over 2 workers, one cacheable URL: one origin request ----------
{
	unlink $gate;
	my $m0 = monitor();
	my ($socks, $acc) = open_clients($N);
	my @took = grep { $_ > 0 } values %$acc;
	is(scalar @took, 2, "both workers accepted some of the $N connections (" .
	    join('/', map { $acc->{$_} } sort keys %$acc) . ')');
	send_all($socks, '/one');
	ok(wait_until(sub { origin_count('/one') >= 1 }, 20), 'the fetch reached the origin');
	my $m1 = wait_parked($m0, $N - 1);
	ok($m1, 'the other ' . ($N - 1) . ' requests wait for it');
	my $w0 = per_worker($m0, 'collapsed-waits');
	my $w1 = per_worker($m1, 'collapsed-waits');
	# all but the fetch waited, in whichever worker took them
	my @short = grep { $w1->{$_} - ($w0->{$_} // 0) < $acc->{$_} - 1 } keys %$acc;
	is_deeply(\@short, [], 'each worker parked its requests (but the one fetch)');
	open(my $g, '>', $gate) or die;
	close $g;
	my @r = read_all($socks);
	is(scalar(grep { m{^HTTP/1\.1 200 } } @r), $N, "all $N answered 200");
	my %bodies = map { (body($_) // '') => 1 } @r;
	is(scalar keys %bodies, 1, 'all with the same body');
	like((keys %bodies)[0], qr{^/one fetched by origin process \d+$}, '... the origin\'s');
	is(origin_count('/one'), 1, 'the origin saw exactly one request');
	my $m2 = monitor();
	is($m2->{'collapsed-hits'} - $m0->{'collapsed-hits'}, $N - 1,
	    'every waiter was answered from the cache (collapsed-hits)');
	is($m2->{hits} - $m0->{hits}, $N - 1, 'hits count them');
	is(($m2->{'lookups-not-found'} // 0) - ($m0->{'lookups-not-found'} // 0), $N,
	    "$N lookups found nothing (the waiters too, when they asked)");
	is(($m2->{'lookups-successes'} // 0) - ($m0->{'lookups-successes'} // 0), 0,
	    '... and none counts a second lookup when it is answered');
	is($m2->{'inserts-successes'} - $m0->{'inserts-successes'}, 1, 'one insert');
	my $b = (keys %bodies)[0];
	like(http_get($port, "http://127.0.0.1:$op/one"), qr{^HTTP/1\.1 200 .*\r\n\r\n\Q$b\E\z}s,
	    'a later request is a plain hit');
	is(origin_count('/one'), 1, '... still one origin request');
}

# --- not storable: every waiter goes to the origin itself --------------------
{
	unlink $gate;
	my $m0 = monitor();
	my ($socks) = open_clients($N);
	send_all($socks, '/nostore');
	ok(wait_until(sub { origin_count('/nostore') >= 1 }, 20), 'the no-store fetch reached the origin');
	ok(wait_parked($m0, $N - 1), 'the others wait for it');
	open(my $g, '>', $gate) or die;
	close $g;
	my @r = read_all($socks);
	is(scalar(grep { m{^HTTP/1\.1 200 .*\r\n\r\n/nostore fetched by origin process \d+\n\z}s } @r), $N,
	    "all $N answered 200 with an origin body");
	my $c = origin_count('/nostore');
	cmp_ok($c, '>=', 2, "the waiters fetched for themselves ($c origin requests)");
	cmp_ok($c, '<=', $N, '... at most one each');
	my $m1 = monitor();
	is($m1->{'collapsed-hits'} - $m0->{'collapsed-hits'}, 0, 'none was a collapsed hit');

	# hit for pass (cache_pass.h): the workers remember that /nostore was
	# not stored, so the next burst all goes to the origin at once -- with
	# the origin holding its answers, none of them waits for another
	unlink $gate;
	($socks) = open_clients($N);
	send_all($socks, '/nostore');
	ok(wait_until(sub { origin_count('/nostore') >= $c + $N }, 20),
	    "next burst: all $N reach the origin together (nobody waits behind a no-store fetch)");
	open($g, '>', $gate) or die;
	close $g;
	@r = read_all($socks);
	is(scalar(grep { m{^HTTP/1\.1 200 .*\r\n\r\n/nostore fetched by origin process \d+\n\z}s } @r), $N,
	    "next burst: all $N answered 200");
	my $m2 = monitor();
	is($m2->{'collapsed-waits'} - $m1->{'collapsed-waits'}, 0, 'next burst: no collapsed wait');
}

# --- the fetching worker is killed: the other worker's waiters fetch ----------
{
	unlink $gate;
	my $m0 = monitor();
	my ($socks, $acc) = open_clients($N);
	send_all($socks, '/killed');
	ok(wait_until(sub { origin_count('/killed') >= 1 }, 20), 'the fetch reached the origin');
	my $m1 = wait_parked($m0, $N - 1);
	ok($m1, 'the others wait');
	# the fetcher's worker parked one request fewer than it was sent
	my (%req, %wait);
	for my $w (@{ $m1->{workers} }) {
		my ($b) = grep { $_->{slot} == $w->{slot} } @{ $m0->{workers} };
		$req{$w->{pid}} = $w->{requests} - ($b ? $b->{requests} : 0);
		$wait{$w->{pid}} = $w->{'collapsed-waits'} - ($b ? $b->{'collapsed-waits'} : 0);
	}
	my ($fetcher) = grep { $req{$_} == $wait{$_} + 1 } keys %req;
	my ($other) = grep { $req{$_} > 0 && $req{$_} == $wait{$_} } keys %req;
	ok($fetcher && $other, "a fetching worker and a waiting one (requests/waits: " .
	    join(' ', map { "$_=$req{$_}/$wait{$_}" } sort keys %req) . ')');
	SKIP: {
		skip 'the requests did not spread over both workers', 4 unless $fetcher && $other;
		kill 'KILL', $fetcher;
		ok(wait_until(sub { my $m = monitor(); $m && !grep { $_->{pid} == $fetcher } @{ $m->{workers} } }, 20),
		    'the master reaped the killed worker');
		open(my $g, '>', $gate) or die;
		close $g;
		my @r = read_all($socks);
		my $good = grep { m{^HTTP/1\.1 200 .*\r\n\r\n/killed fetched by origin process \d+\n\z}s } @r;
		is($good, $req{$other}, "every waiter of the surviving worker got 200 ($good)");
		is(scalar(grep { $_ ne '' && !m{^HTTP/1\.1 200 } } @r), 0, 'no other answer than 200 (the killed worker\'s just closed)');
		cmp_ok(origin_count('/killed'), '>=', 2, 'the waiters went to the origin');
	}
	like(http_get($port, "http://127.0.0.1:$op/killed"), qr{^HTTP/1\.1 200 }, 'served after the respawn');
}

is($v->stop, 0, 'viaduct stops with 0');
done_testing();
