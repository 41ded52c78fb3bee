#!/usr/bin/perl
# One client pipelining thousands of cache hits does not keep the other
# connections of its worker waiting: after a few requests in one go its
# turn ends, and the others are answered in between (the worker answered
# every buffered request of the greedy client, and read more, before it
# looked at any other socket).  Order is read from the access log, which
# a worker writes in the order it finishes requests.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX ();
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

my $o = Viaduct::Origin->new(handler => sub {
	my $b = 'h' x 1200;
	return "HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nContent-Length: 1200\r\n\r\n$b";
});
my $base = 'http://127.0.0.1:' . $o->port;
my $v = start_viaduct(conf => default_conf() =~ s/workers=2/workers=1/r =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=100MiB}r);
like(http_get($v->port, "$base/hot") // '', qr{^HTTP/1\.1 200 }, 'the object is stored');

my $n = 8000;
my $g = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port) or die "connect: $!";
# a reader that keeps up: the worker never waits on this socket
my $kid = fork // die "fork: $!";
if ($kid == 0) {
	my $got = 0;
	while (sysread($g, my $b, 1 << 20)) {
		$got += () = $b =~ /HTTP\/1\.1 200 /g;
		last if $got >= $n;
	}
	POSIX::_exit(0);
}
my $req = "GET $base/hot?greedy HTTP/1.1\r\nHost: x\r\n\r\n";
my $other = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port) or die "connect: $!";
syswrite($g, $req x $n);
syswrite($other, "GET $base/hot?other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
like(read_until_close($other, 30), qr{^HTTP/1\.1 200 }, 'the other client is answered');
waitpid($kid, 0);
close $g;
$v->stop;

my @lines = grep { m{ GET \Q$base\E/hot\?(greedy|other) } } split /\n/, slurp($v->dir . '/access.log') // '';
my ($pos) = grep { $lines[$_] =~ /\?other / } 0 .. $#lines;
is(scalar @lines, $n + 1, "every request logged ($n + 1)");
ok(defined $pos && $pos < $n / 2,
    'the other client was answered while the greedy one still had most of its requests to come (' .
    ($pos // 'none') . " of $n before it)");
done_testing();
