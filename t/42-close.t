#!/usr/bin/perl
# How a client connection ends after its last response.  viaduct closes at
# once when the client said "Connection: close" (or spoke 1.0 without
# keep-alive), sent no body and nothing of it is left unread: the FIN
# follows the response and no lingering is needed.  Anything else lingers
# (shutdown, then read and drop until the client's FIN), because a close()
# with unread bytes sends a reset that can destroy the response in the
# client's buffer.  Seen from the client: after a close-at-once, a late byte
# is answered with a reset (the socket is gone); after lingering it is read
# and dropped, and the whole response is there.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Errno qw(ECONNRESET EPIPE);
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

my $body = 'x' x 5000;
my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	# chunked, then the origin closes before the last chunk
	return sub { my ($c) = @_; print $c "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
	    sleep 0.2 } if $req =~ m{^GET /cut };
	return "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n" . ('A' x 300000) if $req =~ m{^GET /big300k };
	# Content-Length: 1000, then the origin closes after 10 bytes
	return sub { print {$_[0]} "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" . ('B' x 10); sleep 0.3 }
	    if $req =~ m{^GET /trunc };
	return "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
});
my $origin = '127.0.0.1:' . $o->port;
my $v = start_viaduct();

sub conn {
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port,
	    Proto => 'tcp', Timeout => 5) or die "connect: $!";
	$s->autoflush(1);
	return $s;
}

# Everything until the server's FIN (read returns 0).
sub read_all {
	my ($s) = @_;
	my ($all, $buf) = ('');
	while (1) {
		my $n = sysread($s, $buf, 65536);
		last if !defined $n || $n == 0;
		$all .= $buf;
	}
	return $all;
}

# After the FIN: send a byte; a socket that is gone answers with a reset,
# which the next write (or read) reports.
sub reset_after_late_byte {
	my ($s) = @_;
	local $SIG{PIPE} = 'IGNORE';
	syswrite($s, 'Z');
	my $err;
	for (1 .. 50) {
		sleep 0.02;
		my $n = syswrite($s, 'Z');
		if (!defined $n) { $err = $! + 0; last }
	}
	return defined $err && ($err == ECONNRESET || $err == EPIPE);
}

my $get = "GET http://$origin/a HTTP/1.1\r\nHost: $origin\r\n";

my $s = conn();
print $s "${get}Connection: close\r\n\r\n";
my $r = read_all($s);
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*Connection: close\r\n.*\r\n\r\n\Q$body\E\z}s,
    'Connection: close: the whole response, then the FIN');
ok(reset_after_late_byte($s), 'closed at once: a late byte gets a reset');
close $s;

$s = conn();
print $s "GET http://$origin/a HTTP/1.0\r\nHost: $origin\r\n\r\n";
$r = read_all($s);
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\n\Q$body\E\z}s, 'HTTP/1.0: the whole response');
ok(reset_after_late_byte($s), 'a 1.0 request without keep-alive is closed at once too');
close $s;

# a second request in the same write: it is unread when the first ends, so
# viaduct lingers and the first response arrives whole
$s = conn();
print $s "${get}Connection: close\r\n\r\n${get}\r\n";
$r = read_all($s);
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\n\Q$body\E\z}s,
    'a request pipelined behind Connection: close: the first response whole, nothing more');
ok(!reset_after_late_byte($s), 'it lingered: late bytes are read and dropped, no reset');
close $s;

# a body, even an empty chunked one, is not "no body": linger
$s = conn();
print $s "POST http://$origin/p HTTP/1.1\r\nHost: $origin\r\nConnection: close\r\n" .
    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
$r = read_all($s);
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\n\Q$body\E\z}s, 'a POST with Connection: close: the response whole');
ok(!reset_after_late_byte($s), 'a request with a body lingers');
close $s;

# keep-alive: the connection stays; the second request is answered
$s = conn();
print $s "${get}\r\n";
my $buf = '';
while ($buf !~ /\Q$body\E\z/) { sysread($s, $buf, 65536, length $buf) or last }
print $s "${get}Connection: close\r\n\r\n";
$r = read_all($s);
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\n\Q$body\E\z}s, 'kept alive, then closed by the client\'s second request');
ok(reset_after_late_byte($s), 'which is closed at once');
close $s;

# RFC 9112 §8: a response cut short must look incomplete.  A 1.1 client
# gets no last chunk; a 1.0 client, which reads a de-chunked body until the
# close, gets a reset rather than the FIN that would complete it.
$s = conn();
print $s "GET http://$origin/cut HTTP/1.1\r\nHost: $origin\r\nConnection: close\r\n\r\n";
$r = read_all($s);
like($r, qr{\r\nTransfer-Encoding: chunked\r\n.*\r\n\r\n5\r\nhello\r\n\z}s, 'cut short, 1.1: no last chunk');
close $s;
$s = conn();
print $s "GET http://$origin/cut HTTP/1.0\r\n\r\n";
my ($all, $err) = ('', 0);
while (1) {
	my $n = sysread($s, my $b2, 65536);
	if (!defined $n) { $err = $! + 0; last }
	last if $n == 0;
	$all .= $b2;
}
is($err, ECONNRESET, 'cut short, 1.0: the connection ends in a reset, not a FIN');
unlike($all, qr{Transfer-Encoding}, '... and it was de-chunked (close-delimited) up to then');
close $s;

# --- a response the origin cuts short while more requests wait unread: the
# earlier, complete response must still reach the client (a reset would
# destroy it in the client's buffers; RFC 9112 §9.6), then EOF
{
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port) or die;
	$s->autoflush(1);
	setsockopt($s, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 16384);	# a slow reader
	my $req = sub { "GET http://$origin/$_[0] HTTP/1.1\r\nHost: $origin\r\n\r\n" };
	print $s $req->('big300k') . $req->('trunc');
	sleep 0.1;
	print $s $req->('after');	# arrives while /trunc is being cut
	sleep 0.6;
	my ($all, $err) = ('', 0);
	while (1) {
		my $n = sysread($s, my $b3, 65536);
		if (!defined $n) { $err = $! + 0; last }
		last if $n == 0;
		$all .= $b3;
	}
	my ($h1, $rest) = split /\r\n\r\n/, $all, 2;
	is(substr($rest // '', 0, 300000), 'A' x 300000, 'the complete response before the cut one is whole');
	is($err, 0, '... and the connection ends with EOF, not a reset');
	like(substr($rest // '', 300000), qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nBBBBBBBBBB\z}s,
	    'the cut response is short of its length');
	close $s;
}

is($v->stop, 0, 'stops cleanly');

# --- keepalive-timeout=0s: no persistent connection, and every response
# says so (RFC 9112 §9.6), so a client never sends a second request into a
# connection about to close
{
	my $v0 = start_viaduct(conf => Viaduct::Test::default_conf() . "set keepalive-timeout=0s\n");
	my $s0 = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v0->port) or die;
	$s0->autoflush(1);
	print $s0 "GET http://$origin/x HTTP/1.1\r\nHost: $origin\r\n\r\n";
	my $r0 = '';
	while (sysread($s0, $r0, 65536, length $r0)) { }
	like($r0, qr{\AHTTP/1\.1 200 .*\r\nConnection: close\r\n}s,
	    'keepalive-timeout=0s: the response says Connection: close');
	close $s0;
	is($v0->stop, 0, 'stops cleanly');
}
done_testing();
