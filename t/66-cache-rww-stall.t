#!/usr/bin/perl
# A fetching client that stops reading does not cut short the requests
# that share its fetch (issue 6, read-while-writer): when its idle-timeout
# runs out while its output waits, the fetch goes on without it, the
# waiters get the whole body and the object is stored.  Before, the fetch
# was aborted with the stalled client and every waiter got a short body.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Digest::MD5 qw(md5_hex);
use Viaduct::Test;
use Viaduct::Origin;

my $LEN = 8 * 1024 * 1024;
my $body = join('', map { sprintf("%07d\n", $_) } 0 .. $LEN / 8 - 1);
my $o = Viaduct::Origin->new(handler => sub {
	my $head = "HTTP/1.1 200 OK\r\nCache-Control: max-age=300\r\nContent-Length: $LEN\r\n\r\n";
	return sub {
		my ($c) = @_;
		print $c $head;
		for (my $i = 0; $i < $LEN; $i += 65536) { print $c substr($body, $i, 65536) or return }
	};
});
my $url = 'http://127.0.0.1:' . $o->port . '/big';

my $v = start_viaduct(conf => Viaduct::Test::default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=unlimited max-cache-object-size=100000KiB}r =~
    s/workers=2/workers=1/r . "set idle-timeout=1s\n");
my $port = $v->port;

sub connect_v {
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 5)
	    or die "connect: $!";
	$s->autoflush(1);
	return $s;
}

# A: asks, reads the head, then nothing more
my $a = connect_v();
setsockopt($a, SOL_SOCKET, SO_RCVBUF, 65536);
print $a "GET $url HTTP/1.1\r\nHost: x\r\n\r\n";
my $ahead = '';
sysread($a, $ahead, 4096, length $ahead) until $ahead =~ /\r\n\r\n/ || length $ahead > 8192;
like($ahead, qr{\AHTTP/1\.1 200 }, 'A: the head of the fetch, then A stops reading');

# B: the same URL while A's fetch is held back by A; B reads everything
my $b = connect_v();
print $b "GET $url HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
my ($bh, $bb) = split /\r\n\r\n/, read_until_close($b, 15), 2;
like($bh // '', qr{\AHTTP/1\.1 200 }, 'B: 200');
is(length($bb // ''), $LEN, 'B: the whole body, past the moment A timed out');
is(md5_hex($bb // ''), md5_hex($body), 'B: byte for byte');
is(scalar($o->requests), 1, 'one origin request');

# the object was stored
my $c = http_get($port, $url, timeout => 10) // '';
like($c, qr{\AHTTP/1\.1 200 .*\r\nAge: \d+\r\n}s, 'then a hit');
is(scalar($o->requests), 1, '... no second origin request');
like(slurp($v->errlog) // '', qr/client gone; finishing \Q$url\E for the cache/,
    'the error log says the fetch went on without A');
close $a;

is($v->stop, 0, 'viaduct stops cleanly');
done_testing();
