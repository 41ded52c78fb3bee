#!/usr/bin/perl
# "A cache hit in a worker never takes the LMDB write lock" (issue 6), shown:
# t/lmdb_hold opens the cache's LMDB environment and keeps a write
# transaction open (LMDB's single writer lock, for every process of the
# environment) while both workers answer hits for objects stored before:
# an inline body and a body file, GET, HEAD and a 304 to a conditional
# request, byte for byte, with Age, the origin never asked.  A hit that
# waited for the lock would not come at all: a read that hears nothing for
# 20 s fails.  Once the helper lets go, a miss is stored again.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::INET;
use IPC::Open2;
use JSON::PP qw(decode_json);
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

my $hold = (viaduct_bin() =~ s{/src/viaduct$}{}r) . '/t/lmdb_hold';
ok(-x $hold, 't/lmdb_hold is built') or BAIL_OUT("no $hold (make check)");

my $big = join('', map { sprintf("%07d\n", $_) } 0 .. 32767);	# 256 KiB: a body file
my %body = ('/small' => "small body\n", '/big' => $big, '/new' => "new body\n");
my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($m, $path) = $req =~ m{^(\S+) (\S+)};
	my $b = $body{$path} // "other $path\n";
	return "HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nETag: \"e$path\"\r\n" .
	    'Content-Length: ' . length($b) . "\r\n\r\n" . ($m eq 'HEAD' ? '' : $b);
});
my $op = $o->port;
sub url { "http://127.0.0.1:$op$_[0]" }
sub asked { scalar(my @r = $o->requests) }

my $v = start_viaduct(conf => default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=64MiB}r);
my $ctl = viaductctl_bin();
sub monitor {
	my ($st, $out) = run_cmd([$ctl, '-f', $v->{conf}, 'monitor', '--json', '--workers']);
	return $st == 0 ? decode_json($out) : undef;
}
# pid => the field, for every live worker
sub per_worker {
	my ($f) = @_;
	my $m = monitor() or return {};
	return { map { ($_->{pid} => $_->{$f}) } @{ $m->{workers} } };
}
ok($v->wait_log(qr/worker 0 serving.*\n(?s:.*)worker 1 serving|worker 1 serving.*\n(?s:.*)worker 0 serving/),
    'both workers are serving');

# ----- stored before the lock is taken
for my $p ('/small', '/big') {
	like(http_get($v->port, url($p)), qr{\AHTTP/1\.1 200 OK\r\n}, "$p: a miss, stored");
	like(http_get($v->port, url($p)), qr{^Age: \d+\r$}m, "$p: then a hit");
}
my $asked = asked();
is($asked, 2, 'the origin was asked once for each');

# ----- the write lock held by another process
my $hp = open2(my $hout, my $hin, $hold, $v->{conf});
is(scalar(<$hout>) // '', "held\n", 't/lmdb_hold holds a write transaction of the cache');

# connections at once until both workers have some (t/31-accept-spread.t)
my (@socks, $conns);
for (1 .. 4) {
	for (1 .. 16) {
		push @socks, IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port,
		    Proto => 'tcp', Timeout => 5) or die "connect: $!";
	}
	$conns = wait_until(sub {
		my $c = per_worker('client-connections');
		my $sum = 0;
		$sum += $_ for values %$c;
		$sum == @socks ? $c : undef;
	}, 20);
	last if $conns && 2 == grep { $_ > 0 } values %$conns;
}
is(scalar(grep { $_ > 0 } values %{ $conns // {} }), 2, 'both workers hold some of the ' .
    scalar(@socks) . ' client connections');
my $hits = per_worker('hits');

# one response from $s (head, body), or () after 20 s of silence
sub response {
	my ($s, $bodyless) = @_;
	my $sel = IO::Select->new($s);
	my $buf = '';
	while ($buf !~ /\r\n\r\n/) {
		return () unless $sel->can_read(20) && sysread($s, $buf, 65536, length $buf);
	}
	my $hl = index($buf, "\r\n\r\n") + 4;
	my ($len) = $buf =~ /^Content-Length: (\d+)\r$/mi;
	my $need = $hl + ($bodyless ? 0 : $len // 0);
	while (length $buf < $need) {
		return () unless $sel->can_read(20) && sysread($s, $buf, 65536, length $buf);
	}
	return (substr($buf, 0, $hl), substr($buf, $hl));
}

my @cases = (
	[ 'GET /small (inline body)', 'GET', '/small', '', 200, $body{'/small'} ],
	[ 'GET /big (body file)', 'GET', '/big', '', 200, $big ],
	[ 'HEAD /small', 'HEAD', '/small', '', 200, '' ],
	[ 'HEAD /big', 'HEAD', '/big', '', 200, '' ],
	[ 'If-None-Match on /small', 'GET', '/small', "If-None-Match: \"e/small\"\r\n", 304, '' ],
	[ 'If-None-Match on /big', 'GET', '/big', "If-None-Match: \"e/big\"\r\n", 304, '' ],
);
my (%good, %bad);
for my $s (@socks) {
	$s->autoflush(1);
	for my $c (@cases) {
		my ($name, $m, $p, $h, $st, $want) = @$c;
		print $s "$m " . url($p) . " HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n$h\r\n";
		my ($head, $got) = response($s, $m eq 'HEAD' || $st == 304);
		my $len = $st == 200 ? length($body{$p}) : undef;
		if (defined $head && $head =~ m{\AHTTP/1\.1 $st } && $head =~ /^Age: \d+\r$/mi &&
		    $got eq $want && (!defined $len || $head =~ /^Content-Length: $len\r$/mi)) {
			$good{$name}++;
		} else {
			$bad{$name} //= defined $head ? $head : 'no answer in 20 s';
		}
	}
}
for my $c (@cases) {
	is($good{$c->[0]} // 0, scalar @socks, "lock held: $c->[0]: $c->[4] from the cache on every connection, Age, exact bytes")
	    or diag($bad{$c->[0]});
}
is(asked(), $asked, 'lock held: the origin was not asked');
my $now = per_worker('hits');
is(scalar(grep { ($now->{$_} // 0) > ($hits->{$_} // 0) } keys %$now), 2,
    'lock held: both workers served hits') or diag(explain([ $hits, $now ]));
close $_ for @socks;
ok(kill(0, $hp) && !IO::Select->new($hout)->can_read(0), 'the lock was held all along');

# ----- let go: a miss is stored again
close $hin;
is(scalar(<$hout>) // '', "released\n", 't/lmdb_hold aborts its transaction at EOF');
waitpid($hp, 0);
is($?, 0, '... and exits 0');
like(http_get($v->port, url('/new')), qr{\AHTTP/1\.1 200 OK\r\n(?:.*\r\n)*\r\nnew body\n\z}s, 'a miss');
is(asked(), $asked + 1, '... from the origin');
like(http_get($v->port, url('/new')), qr{^Age: \d+\r$}m, 'stored: the next request is a hit');
is(asked(), $asked + 1, '... and the origin was asked once');
done_testing();
