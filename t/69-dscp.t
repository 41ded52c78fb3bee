#!/usr/bin/perl
# cache-hit-dscp (RouterOS): the DSCP value on the client socket while a
# cache hit is sent.  Checked as the network sees it: this test makes a
# network namespace, enters it (so viaduct, the origin and the client all
# run on its loopback), and counts viaduct's outgoing data segments per DSCP
# value with nftables counters on the output hook.  Pure ACKs and FINs are
# left out by length: the kernel sends those with whatever mark the socket
# has at that moment, and they carry no response.  Every response that is
# not a hit (a miss, a pass-through, viaduct's own reply, an error page)
# goes out with the socket's own class: 0, or what the accepted socket had
# (net.ipv4.tcp_reflect_tos gives it the class of the client's SYN).
# Needs root, iproute2, nftables and strace (a missing tool is a failure).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Handle;
use Socket qw(AF_INET AF_INET6 SOCK_STREAM inet_aton inet_pton pack_sockaddr_in pack_sockaddr_in6);
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

is($>, 0, 'running as root (network namespaces need it)') or BAIL_OUT('not root');
sub which { for my $d (split(/:/, $ENV{PATH} // ''), '/usr/sbin', '/sbin') { return "$d/$_[0]" if -x "$d/$_[0]" } undef }
my ($ip, $nft, $strace, $sysctl) = (which('ip'), which('nft'), which('strace'), which('sysctl'));
ok($ip, 'iproute2 installed') or BAIL_OUT('no ip');
ok($nft, 'nftables installed') or BAIL_OUT('no nft');

my $ns = "vd$$-dscp";
my ($origin, $v);
sub sh { system(@_) == 0 }
sub cleanup {
	undef $v;
	$origin->stop if $origin;
	$origin = undef;
	system($ip, 'netns', 'del', $ns) if $ip && -e "/run/netns/$ns";
}
END { local $?; cleanup() }
$SIG{INT} = $SIG{TERM} = sub { cleanup(); exit 1 };

ok(sh($ip, 'netns', 'add', $ns) && sh($ip, '-n', $ns, 'link', 'set', 'lo', 'up'),
    'namespace with its loopback up');
Viaduct::Origin::setns_net($ns);	# this process and all it starts, from here on

my $vport = free_port();
# data segments from viaduct's listening port, counted per family and DSCP
# (a pure ACK with options is under 80 bytes; every response here is over)
my @dscp = (0, 4, 10);
my $rules = join('', map { my $d = $_;
    "\t\ttcp sport $vport ip length > 80 ip dscp $d counter name v4_$d\n" .
    "\t\ttcp sport $vport ip6 length > 80 ip6 dscp $d counter name v6_$d\n" } @dscp);
my $counters = join('', map { "\tcounter v4_$_ { }\n\tcounter v6_$_ { }\n" } @dscp);
my $dir = tmpdir_keep();
spew("$dir/dscp.nft", "table inet vd_dscp {\n$counters\tchain out {\n" .
    "\t\ttype filter hook output priority filter;\n$rules\t}\n}\n");
ok(sh($nft, '-f', "$dir/dscp.nft"), 'nftables counters on the output hook');

# { v4_4 => packets, ... } now
sub counts {
	my $out = `$nft list counters table inet vd_dscp 2>&1`;
	my %c = $out =~ /counter (v[46]_\d+) \{\s*packets (\d+)/g;
	return \%c;
}
# what grew by how much since $before
sub grew {
	my ($before) = @_;
	my $now = counts();
	return { map { ($_ => $now->{$_} - ($before->{$_} // 0)) } grep { $now->{$_} != ($before->{$_} // 0) } keys %$now };
}

$origin = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	my $cc = $path =~ m{^/nostore} ? 'no-store' : 'max-age=600';
	my $body = "body of $path " . ('x' x 200) . "\n";
	return "HTTP/1.1 200 OK\r\nCache-Control: $cc\r\nContent-Length: " .
	    length($body) . "\r\n\r\n$body";
});
my $o = '127.0.0.1:' . $origin->port;

sub conf {
	my ($props) = @_;
	return default_conf() =~ s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=10MiB $props}r .
	    "/viaduct\nset workers=1 listen-address=127.0.0.1,::1 log-level=debug\n";
}

# One keep-alive client connection: send a request, read its response.
# ($tos: the TOS / traffic class octet of the client's socket, SYN included)
sub client {
	my ($host, $tos) = @_;
	my $v6 = $host =~ /:/;
	socket(my $s, $v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0) or die "socket: $!";
	# IPPROTO_IPV6 41, IPV6_TCLASS 67; IPPROTO_IP 0, IP_TOS 1 (Linux)
	if ($tos) { setsockopt($s, $v6 ? 41 : 0, $v6 ? 67 : 1, $tos) or die "TOS: $!" }
	connect($s, $v6 ? pack_sockaddr_in6($vport, inet_pton(AF_INET6, $host)) :
	    pack_sockaddr_in($vport, inet_aton($host))) or die "connect [$host]:$vport: $!";
	$s->autoflush(1);
	return $s;
}
# $what: a path to GET, or a whole request
sub get {
	my ($s, $what) = @_;
	print $s ($what =~ m{^/} ? "GET http://$o$what HTTP/1.1\r\nHost: $o\r\n\r\n" : $what);
	my $buf = '';
	while ($buf !~ /\r\n\r\n/) { sysread($s, $buf, 65536, length $buf) or return $buf }
	my ($len) = $buf =~ /^Content-Length: (\d+)/mi;
	my $need = index($buf, "\r\n\r\n") + 4 + ($len // 0);
	while (length $buf < $need) { sysread($s, $buf, 65536, length $buf) or last }
	return $buf;
}
# a request on $s; the counters that grew while it was answered
sub step {
	my ($s, $path, $re, $name) = @_;
	my $b = counts();
	like(get($s, $path), $re, $name);
	sleep 0.05;	# the last segment has left (the counters are the kernel's)
	return grew($b);
}
my $hit = qr{\AHTTP/1\.1 200 OK\r\n(?:.*\r\n)*Age: \d+\r\n}i;
my $miss = qr{\AHTTP/1\.1 200 OK\r\n}i;

# ----- the default, 4: on hits only, and back to 0 for the next miss
$v = start_viaduct(conf => conf(''), port => $vport);
my $s = client('127.0.0.1');
my $g = step($s, '/a', $miss, 'first request for /a answered (a miss)');
is_deeply($g, { v4_0 => $g->{v4_0} }, 'a miss goes out unmarked (DSCP 0)');
ok($g->{v4_0}, '... and the counters saw it');
$g = step($s, '/a', $hit, 'second request for /a: a hit');
is_deeply($g, { v4_4 => $g->{v4_4} }, 'the hit goes out with DSCP 4 (the default), nothing else');
ok($g->{v4_4}, '... counted under DSCP 4');
$g = step($s, '/a', $hit, 'a second hit on the same connection');
is_deeply([ keys %$g ], [ 'v4_4' ], 'the second hit also goes out with DSCP 4');
$g = step($s, '/nostore', $miss, 'then a response that is not a hit');
is_deeply([ keys %$g ], [ 'v4_0' ], 'the mark is off again for it');
$g = step($s, '/a', $hit, 'then a hit again');
is_deeply([ keys %$g ], [ 'v4_4' ], 'and on again for the hit');
$g = step($s, '/m1', $miss, 'then a miss that is stored');
is_deeply([ keys %$g ], [ 'v4_0' ], 'the miss goes out unmarked');
$g = step($s, '/a', $hit, 'then a hit');
is_deeply([ keys %$g ], [ 'v4_4' ], 'marked for the hit');
# answers that never reach the cache
$g = step($s, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", qr{\AHTTP/1\.1 200 OK\r\n(?:.*\r\n)*Allow: }i,
    "viaduct's own answer to OPTIONS * after the hit");
is_deeply([ keys %$g ], [ 'v4_0' ], 'it goes out unmarked');
step($s, '/a', $hit, 'a hit');
$g = step($s, "POST http://$o/post HTTP/1.1\r\nHost: $o\r\nContent-Length: 3\r\n\r\nabc", $miss,
    'a POST (passed through) after the hit');
is_deeply([ keys %$g ], [ 'v4_0' ], 'it goes out unmarked');
step($s, '/a', $hit, 'a hit');
$g = step($s, "GET /relative HTTP/1.1\r\nHost: x\r\n\r\n", qr{\AHTTP/1\.1 400 }, 'an error page after the hit');
is_deeply([ keys %$g ], [ 'v4_0' ], 'it goes out unmarked');
close $s;

# ----- IPv6 clients get the traffic class
$s = client('::1');
$g = step($s, '/a', $hit, 'IPv6 client: a hit');
is_deeply([ keys %$g ], [ 'v6_4' ], 'IPv6: the hit goes out with DSCP 4 (IPV6_TCLASS)');
$g = step($s, '/nostore6', $miss, 'IPv6 client: not a hit');
is_deeply([ keys %$g ], [ 'v6_0' ], 'IPv6: unmarked again');
close $s;

# ----- the socket's own class comes back, not 0: with tcp_reflect_tos the
# accepted socket takes the class of the client's SYN (DSCP 10 here)
ok(sh($sysctl // 'sysctl', '-q', '-w', 'net.ipv4.tcp_reflect_tos=1'), 'net.ipv4.tcp_reflect_tos=1 in the namespace');
for my $host ('127.0.0.1', '::1') {
	my $f = $host =~ /:/ ? 'v6' : 'v4';
	$s = client($host, 10 << 2);
	$g = step($s, "/own$f", $miss, "$f client with DSCP 10 on its SYN: a miss");
	is_deeply([ keys %$g ], [ "${f}_10" ], "$f: the miss goes out with the socket's own DSCP 10");
	$g = step($s, "/own$f", $hit, "$f: a hit");
	is_deeply([ keys %$g ], [ "${f}_4" ], "$f: the hit with DSCP 4");
	$g = step($s, "/own$f-2", $miss, "$f: a miss again");
	is_deeply([ keys %$g ], [ "${f}_10" ], "$f: DSCP 10 is back, not 0");
	close $s;
}
ok(sh($sysctl // 'sysctl', '-q', '-w', 'net.ipv4.tcp_reflect_tos=0'), 'net.ipv4.tcp_reflect_tos back to 0');

# ----- one setsockopt when a run of hits starts and one when it ends
ok($strace, 'strace installed (it counts the setsockopt calls)');
{
	my @kids = $v->children;	# the worker and the cache manager
	my $log = "$dir/strace.log";
	my $tp = fork // die;
	if ($tp == 0) {
		open(STDERR, '>', '/dev/null');
		exec($strace // 'strace', '-qq', '-e', 'trace=setsockopt', '-o', $log,
		    map { ('-p', $_) } @kids) or POSIX::_exit(127);
	}
	ok(wait_until(sub { !grep { (slurp("/proc/$_/status") // '') !~ /^TracerPid:\s*[1-9]/m } @kids }, 10),
	    'strace attached');
	$s = client('127.0.0.1');
	get($s, '/a') for 1 .. 4;
	get($s, '/nostore2');
	get($s, '/nostore3');
	get($s, '/a');
	close $s;
	sleep 0.2;
	kill 'INT', $tp;
	waitpid($tp, 0);
	my @calls = grep { /IP_TOS/ } split /\n/, slurp($log) // '';
	is(scalar @calls, 3, 'four hits, two misses, a hit: three setsockopt calls') or diag(join("\n", @calls));
	like($calls[0] // '', qr/\[16\]/, 'the first sets 4 << 2');
	like($calls[1] // '', qr/\[0\]/, 'the second puts 0 back');
	like($calls[2] // '', qr/\[16\]/, 'the third sets it again');
}
undef $v;

# ----- cache-hit-dscp=10 marks with 10; 0 marks nothing
$v = start_viaduct(conf => conf('cache-hit-dscp=10'), port => $vport);
$s = client('127.0.0.1');
step($s, '/b', $miss, 'cache-hit-dscp=10: a miss');
$g = step($s, '/b', $hit, 'cache-hit-dscp=10: a hit');
is_deeply([ keys %$g ], [ 'v4_10' ], 'cache-hit-dscp=10: the hit goes out with DSCP 10');
close $s;
undef $v;

$v = start_viaduct(conf => conf('cache-hit-dscp=0'), port => $vport);
$s = client('127.0.0.1');
step($s, '/c', $miss, 'cache-hit-dscp=0: a miss');
$g = step($s, '/c', $hit, 'cache-hit-dscp=0: a hit');
is_deeply([ keys %$g ], [ 'v4_0' ], 'cache-hit-dscp=0: the hit is not marked');
close $s;
undef $v;

cleanup();
ok(!-e "/run/netns/$ns", 'namespace removed');
done_testing();
