#!/usr/bin/perl
# Read-while-writer and an object that turns out too large to store (issue
# 6): a chunked response (no length known in advance) passes
# max-cache-object-size while requests are streaming it from the fetch's
# body file.  The file goes on for them to the end and is then removed,
# nothing is stored, and every client gets the whole body with its last
# chunk.  Before, the fetch stopped writing at the limit and the waiters
# were cut there.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

my $LEN = 3_000_000;
my $part = 100_000;
my $o = Viaduct::Origin->new(handler => sub {
	return sub {
		my ($c) = @_;
		print $c "HTTP/1.1 200 OK\r\nCache-Control: max-age=300\r\nTransfer-Encoding: chunked\r\n\r\n";
		for (my $i = 0; $i < $LEN; $i += $part) {
			my $chunk = sprintf('%09d', $i) x ($part / 9);
			$chunk .= 'z' x ($part - length $chunk);
			printf $c "%x\r\n%s\r\n", length $chunk, $chunk or return;
			sleep 0.05;
		}
		print $c "0\r\n\r\n";
	};
});
my $url = 'http://127.0.0.1:' . $o->port . '/grow';
my $v = start_viaduct(conf => Viaduct::Test::default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=unlimited max-cache-object-size=1000KiB}r);

sub start_get {
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port, Timeout => 5) or die;
	$s->autoflush(1);
	print $s "GET $url HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	return $s;
}
sub finish {
	my ($s) = @_;
	my ($h, $b) = split /\r\n\r\n/, read_until_close($s, 15), 2;
	my $body = '';
	$b //= '';
	while ($b =~ s/\A([0-9a-f]+)\r\n//) {
		my $n = hex $1;
		last if $n == 0;
		$body .= substr($b, 0, $n, '');
		$b =~ s/\A\r\n//;
	}
	return ($h // '', $body, $b eq "\r\n");
}

my $a = start_get();
sleep 0.3;		# the fetch has started; the others wait for it and stream it
my @w = map { start_get() } 1 .. 3;
for my $s ($a, @w) {
	my ($h, $body, $last) = finish($s);
	like($h, qr{\AHTTP/1\.1 200 }, 'a 200');
	is(length $body, $LEN, 'the whole body, past max-cache-object-size');
	ok($last, 'and its last chunk');
}
is(scalar($o->requests), 1, 'one origin request for the four');
my $again = http_get($v->port, $url, timeout => 10) // '';
unlike($again, qr{\r\nAge: }, 'the object was not stored (too large)');
is(scalar($o->requests), 2, '... the next request goes to the origin');
is($v->stop, 0, 'viaduct stops cleanly');
done_testing();
