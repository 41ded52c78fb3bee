#!/usr/bin/perl
# CONNECT tunnels (allowed ports only, spliced both ways, half-close passed
# on, a side that resets is a side that closed, idle timeout) and Upgrade:
# websocket becoming a tunnel on 101.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Digest::MD5 qw(md5_hex);
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

# echoes everything; at EOF says BYE and closes
my $echo = Viaduct::Origin->new(raw => sub {
	my ($c, $record) = @_;
	my $all = '';
	while (sysread($c, my $b, 65536)) { $all .= $b; print $c $b }
	print $c "BYE\n";
	$record->(length($all) > 200 ? md5_hex($all) : $all);
});
# speaks first, half-closes, then keeps listening
my $halfer = Viaduct::Origin->new(raw => sub {
	my ($c, $record) = @_;
	print $c "hello";
	shutdown($c, 1);
	my $all = '';
	while (sysread($c, my $b, 65536)) { $all .= $b }
	$record->($all);
});
# a websocket-ish origin: 101 to an Upgrade, then echo
my $ws = Viaduct::Origin->new(raw => sub {
	my ($c, $record) = @_;
	my $head = '';
	while ($head !~ /\r\n\r\n/) { sysread($c, $head, 1, length $head) or return }
	$record->($head);
	if ($head !~ /^Upgrade: websocket/mi) {
		print $c "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno";
		return;
	}
	if ($head =~ m{^GET /sw-(h2c|none) }) {	# a 101 to another protocol, or naming none
		print $c "HTTP/1.1 101 Switching Protocols\r\n" . ($1 eq 'h2c' ? "Upgrade: h2c\r\n" : '') .
		    "Connection: Upgrade\r\n\r\nSERVER-FIRST";
		while (sysread($c, my $b, 65536)) { print $c uc $b }
		return;
	}
	print $c "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" .
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nSERVER-FIRST";
	while (sysread($c, my $b, 65536)) { print $c uc $b }
});
# sends 8 MiB (more than the client's socket takes: most of it waits in
# viaduct's), waits until viaduct's kernel has it all, takes what the
# client sent so far and closes: what the client sends after that is
# answered with a reset by this side's kernel
my $mib = join('', map { chr(($_ * 7) % 251) } 0 .. 1024 * 1024 - 1) x 8;
my $closer = Viaduct::Origin->new(raw => sub {
	my ($c, $record) = @_;
	my $acked = 0;
	print $c $mib;
	for (1 .. 1000) {		# TIOCOUTQ: nothing left unacknowledged
		ioctl($c, 0x5411, my $q = pack('i', 0)) or last;
		last if ($acked = unpack('i', $q) == 0);
		select(undef, undef, undef, 0.01);
	}
	$c->blocking(0);
	sysread($c, my $junk, 65536);
	$record->($acked ? 'closed' : 'closed, not all acknowledged');
});
my ($ep, $hp, $wp, $cp) = ($echo->port, $halfer->port, $ws->port, $closer->port);

my $v = start_viaduct(conf => Viaduct::Test::default_conf() .
    "set via-pseudonym=tun.via connect-ports=$ep,$hp,$cp tunnel-idle-timeout=1s\n");
my $port = $v->port;

sub client {
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
	    Timeout => 5) or die "connect: $!";
	$s->autoflush(1);
	return $s;
}

sub read_until {
	my ($s, $re, $bufref) = @_;
	my $buf = '';
	$bufref //= \$buf;
	my $rin = '';
	vec($rin, fileno($s), 1) = 1;
	while ($$bufref !~ $re) {
		last unless select(my $r = $rin, undef, undef, 10);	# safety net
		sysread($s, $$bufref, 65536, length $$bufref) or last;
	}
	return $$bufref;
}

# --- a port not in connect-ports: 403, nothing connected
my $r = http_raw($port, "CONNECT 127.0.0.1:$wp HTTP/1.1\r\nHost: 127.0.0.1:$wp\r\n\r\n");
like($r, qr{\AHTTP/1\.1 403 Forbidden\r\n}, 'CONNECT to a port not allowed: 403');
is(scalar($ws->requests), 0, 'and nothing reached that port');
my $vd = start_viaduct(conf => Viaduct::Test::default_conf());
$r = http_raw($vd->port, "CONNECT 127.0.0.1:$ep HTTP/1.1\r\nHost: 127.0.0.1:$ep\r\n\r\n");
like($r, qr{\AHTTP/1\.1 403 }, 'default connect-ports (443,563): other ports refused');
undef $vd;

# --- RFC 9110 §9.3.6: a CONNECT has no content; one that declares some is
# refused, since a hop that frames by it would read a request in the tunnel
$echo->clear;
for my $t ([ 'Content-Length', "Content-Length: 5\r\n\r\nAAAAA" ],
	   [ 'Transfer-Encoding', "Transfer-Encoding: chunked\r\n\r\n5\r\nAAAAA\r\n0\r\n\r\n" ]) {
	my ($name, $rest) = @$t;
	$r = http_raw($port, "CONNECT 127.0.0.1:$ep HTTP/1.1\r\nHost: 127.0.0.1:$ep\r\n$rest" .
	    "GET /tunnelled HTTP/1.1\r\nHost: x\r\n\r\n");
	like($r, qr{\AHTTP/1\.1 400 Bad Request\r\n.*Reason: CONNECT with Content-Length or Transfer-Encoding}s,
	    "CONNECT with $name: 400");
	unlike($r, qr{Connection established|tunnelled}, "CONNECT with $name: no tunnel");
}
is(scalar($echo->requests), 0, 'CONNECT with content: nothing reached the target');

# --- CONNECT: 200, bytes sent with the head go first, echo, half-close both ways
my $s = client();
print $s "CONNECT 127.0.0.1:$ep HTTP/1.1\r\nHost: 127.0.0.1:$ep\r\n\r\nearly;";
my $buf = '';
read_until($s, qr/early;/, \$buf);
like(undate($buf), qr{\AHTTP/1\.1 200 Connection established\r\nDate: D\r\nVia: 1\.1 tun\.via\r\n\r\nearly;\z},
    'CONNECT: 200, then the bytes sent right after the head come back through the tunnel');
print $s "late";
$buf = '';
read_until($s, qr/late/, \$buf);
is($buf, 'late', 'tunnel: bytes both ways');
shutdown($s, 1);	# our EOF must reach the origin, which then answers and closes
$buf = '';
read_until($s, qr/BYE\n/, \$buf);
is($buf, "BYE\n", 'client half-close passed to the origin; its answer still comes back');
is(sysread($s, my $x, 1), 0, 'then the origin close ends the tunnel');
close $s;
is(($echo->requests)[-1], 'early;late', 'origin received exactly the tunnelled bytes');

# --- 1 MiB each way through the pipes
my $blob = join('', map { chr(($_ * 7) % 251) } 0 .. 1024 * 1024 - 1);
$s = client();
print $s "CONNECT 127.0.0.1:$ep HTTP/1.1\r\nHost: x\r\n\r\n";
read_until($s, qr/\r\n\r\n/);
my $pid = fork // die;
if ($pid == 0) { print $s $blob; shutdown($s, 1); POSIX::_exit(0) }
$buf = '';
read_until($s, qr/BYE\n\z/, \$buf);
waitpid($pid, 0);
is(length($buf), length($blob) + 4, '1 MiB echoed through the tunnel');
is(md5_hex(substr($buf, 0, length $blob)), md5_hex($blob), '... byte for byte');
close $s;
is(($echo->requests)[-1], md5_hex($blob), 'origin received the 1 MiB intact');

# --- the origin half-closes first: the client still sends
$s = client();
print $s "CONNECT 127.0.0.1:$hp HTTP/1.1\r\nHost: x\r\n\r\n";
$buf = '';
read_until($s, qr/hello/, \$buf);
like($buf, qr{\r\n\r\nhello\z}, 'origin spoke first');
is(sysread($s, $x, 1), 0, "origin's half-close reached the client as EOF");
print $s "still talking";
shutdown($s, 1);
ok(Viaduct::Test::wait_until(sub { scalar($halfer->requests) }, 10), 'origin finished reading');
is(($halfer->requests)[-1], 'still talking', 'client->origin still open after origin->client ended');
close $s;

# --- RFC 9110 §9.3.6: the origin closes while the client still talks; the
# client's next bytes meet a reset there, and everything the origin sent
# before it closed still reaches the client, then EOF
$s = client();
setsockopt($s, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 65536);	# the rest waits in viaduct
print $s "CONNECT 127.0.0.1:$cp HTTP/1.1\r\nHost: x\r\n\r\n";
read_until($s, qr/\r\n\r\n/, \($buf = ''));
$buf =~ s/\A.*?\r\n\r\n//s;
{
	# a slow reader (the tunnel is never idle), until the origin has closed
	my ($sent, $t0) = (0, time);
	while (time - $t0 < 20) {
		if (!$sent && scalar($closer->requests)) {
			print $s "more";
			select(undef, undef, undef, 0.3);
			print $s "more";		# this one finds the origin's reset
			$sent = 1;
			last;
		}
		select(undef, undef, undef, 0.02);
		sysread($s, $buf, 65536, length $buf);
	}
	ok($sent, 'the origin sent 8 MiB and closed while the client was still reading');
	is(($closer->requests)[-1], 'closed', '... after viaduct had all of it');
}
{	# the rest, to EOF (no regex over 8 MiB per read: the reader stays quick)
	my $rin = '';
	vec($rin, fileno($s), 1) = 1;
	while (select(my $r = $rin, undef, undef, 10)) {
		last unless sysread($s, $buf, 65536, length $buf);
	}
}
is(length($buf), length($mib), 'the client got every byte the origin sent');
is(md5_hex($buf), md5_hex($mib), '... in order');
close $s;

# --- idle timeout
$s = client();
print $s "CONNECT 127.0.0.1:$ep HTTP/1.1\r\nHost: x\r\n\r\n";
read_until($s, qr/\r\n\r\n/);
$buf = '';
read_until($s, qr/BYE/, \$buf);	# returns on EOF (the timeout closes both sides)
is($buf, '', 'idle tunnel closed by tunnel-idle-timeout, nothing more sent');

# --- Upgrade: websocket
$s = client();
print $s "GET http://127.0.0.1:$wp/chat HTTP/1.1\r\nHost: 127.0.0.1:$wp\r\nUpgrade: websocket\r\n" .
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
$buf = '';
read_until($s, qr/SERVER-FIRST/, \$buf);
# a Date added, as to every forwarded response without one (RFC 9110 §6.6.1)
like($buf, qr{\r\nDate: \w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT\r\n}, '101 relayed with a Date added');
is($buf =~ s/\r\nDate: [^\r]*//r, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" .
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nConnection: upgrade\r\nVia: 1.1 tun.via\r\n\r\nSERVER-FIRST",
    '101 relayed with Upgrade, then the origin bytes that followed it');
is(($ws->requests)[-1], "GET /chat HTTP/1.1\r\nHost: 127.0.0.1:$wp\r\nUpgrade: websocket\r\n" .
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" .
    "X-Forwarded-For: 127.0.0.1\r\nConnection: upgrade\r\nVia: 1.1 tun.via\r\n\r\n",
    'origin got the Upgrade offer');
print $s "ping";
$buf = '';
read_until($s, qr/PING/, \$buf);
is($buf, 'PING', 'upgraded connection is a tunnel');
close $s;

# --- RFC 9110 §7.8: a 101 to a protocol the client did not offer, or to
# none named, is no tunnel
for my $k ('h2c', 'none') {
	$r = http_raw($port, "GET http://127.0.0.1:$wp/sw-$k HTTP/1.1\r\nHost: 127.0.0.1:$wp\r\nUpgrade: websocket\r\n" .
	    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" .
	    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
	like($r, qr{\AHTTP/1\.1 502 Bad Gateway\r\n.*Reason: origin switched to a protocol that was not offered}s,
	    "a 101 with Upgrade: $k to a websocket offer: 502");
	unlike($r, qr{SERVER-FIRST|101 Switching}, "... no tunnel ($k)");
}

# --- no Upgrade in the request: a 101 would be an error; a plain request passes
$r = http_raw($port, "GET http://127.0.0.1:$wp/plain HTTP/1.1\r\nHost: 127.0.0.1:$wp\r\nConnection: close\r\n\r\n");
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nno\z}s, 'without Upgrade: an ordinary response');
unlike(($ws->requests)[-1], qr/Upgrade/i, 'no Upgrade invented');

done_testing();
